//! The AWS adapters, through the real SDK, against the moto server that
//! `infra/test.sh emulator` starts: the same contract suites the embedded adapters pass, the
//! mail and event round trips, a sign-up → login → HOME journey on AWS adapters only, and the
//! KMS call count of a request touching 1,000 numbers.

// Tests and their helpers: a failed `unwrap` is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use myna::app::{App, Config};
use myna::domain::my_number::MyNumber;
use myna::ports::{Event, Mail, ManualClock, SystemClock, UploadTicket};
use myna_tests::contract::{self, Destruction};
use myna_tests::emulator::Emulator;
use myna_tests::{http, signup_fields, test_config, Browser};
use time::OffsetDateTime;

mod directory;
mod disposal;

fn kms_client(e: &Emulator) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&e.sdk)
}

#[tokio::test]
async fn dynamodb_store_passes_the_store_contract() {
    let e = Emulator::start().await;
    contract::run_store_suite(e.ports(Arc::new(SystemClock)).store).await;
}

#[tokio::test]
async fn kms_keys_pass_the_keys_contract() {
    let e = Emulator::start().await;
    contract::run_keys_suite(
        e.ports(Arc::new(SystemClock)).keys,
        Destruction::Scheduled(kms_client(&e)),
    )
    .await;
}

#[tokio::test]
async fn s3_blobs_pass_the_blobs_contract() {
    let e = Emulator::start().await;
    e.version_bucket().await;
    let ports = e.ports(Arc::new(SystemClock));
    contract::run_blobs_suite(
        ports.blobs,
        ports.keys,
        Destruction::Scheduled(kms_client(&e)),
    )
    .await;
}

struct BrowserPut;

#[async_trait]
impl contract::Uploader for BrowserPut {
    async fn upload(&self, ticket: &UploadTicket, _content_type: &str, body: Vec<u8>) -> bool {
        let res = http::request(&ticket.method, &ticket.url, &ticket.headers, &body)
            .await
            .unwrap();
        res.status == 200
    }
}

#[tokio::test]
async fn s3_presigned_uploads_pass_the_upload_contract() {
    let e = Emulator::start().await;
    e.version_bucket().await;
    let ports = e.ports(Arc::new(SystemClock));
    contract::run_upload_suite(ports.blobs, ports.keys, &BrowserPut).await;
}

#[tokio::test]
async fn presigned_put_binds_content_type_and_tenant_key_into_the_signature() {
    // moto does not check signatures, so the constraint is checked on the request itself.
    let e = Emulator::start().await;
    let ports = e.ports(Arc::new(SystemClock));
    let tenant = ulid::Ulid::new().to_string();
    let master = ports.keys.create_master_key(&tenant).await.unwrap();
    let scope = myna::ports::BlobScope {
        tenant_id: tenant.clone(),
        master_key: master.clone(),
    };
    let ticket =
        myna::app::uploads::ticket(ports.blobs.as_ref(), &scope, "incoming/x", "image/jpeg")
            .await
            .unwrap();
    let query = ticket.url.split_once('?').unwrap().1.to_lowercase();
    let signed = query
        .split('&')
        .find(|p| p.starts_with("x-amz-signedheaders="))
        .unwrap()
        .replace("%3b", ";");
    for h in [
        "content-type",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ] {
        assert!(signed.contains(h), "{h} not signed: {signed}");
    }
    let expires: u64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("x-amz-expires="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires <= 300, "upload URL lives {expires}s");
    assert!(
        ticket.url.contains(&format!("/{tenant}/incoming/x")),
        "object not under the tenant: {}",
        ticket.url
    );
    let headers: std::collections::HashMap<_, _> = ticket.headers.iter().cloned().collect();
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("image/jpeg")
    );
    assert_eq!(
        headers
            .get("x-amz-server-side-encryption")
            .map(String::as_str),
        Some("aws:kms")
    );
    assert_eq!(
        headers.get("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(&master)
    );
}

struct QueueSink<'a>(&'a Emulator);

#[async_trait]
impl contract::EventSink for QueueSink<'_> {
    async fn delivered(&self) -> Vec<Event> {
        self.0
            .delivered_events()
            .await
            .into_iter()
            .map(|env| Event {
                kind: env["detail-type"].as_str().unwrap_or_default().into(),
                detail: env["detail"].clone(),
            })
            .collect()
    }
}

#[tokio::test]
async fn eventbridge_events_pass_the_events_contract() {
    let e = Emulator::start().await;
    contract::run_events_suite(e.ports(Arc::new(SystemClock)).events, &QueueSink(&e)).await;
}

#[tokio::test]
async fn ses_sends_japanese_plain_text_mail() {
    let e = Emulator::start().await;
    let mailer = e.ports(Arc::new(SystemClock)).mailer;
    let mut mail = Mail::new(
        "staff@example.jp",
        "【マイナンバー管理】テスト送信",
        "山田 太郎 様\n\n本文です。\n",
    );
    mail.reply_to = Some("admin@example.jp".into());
    mailer.send(&mail).await.unwrap();
    let sent = e.sent_mail().await;
    assert!(
        sent.contains(&(
            "staff@example.jp".into(),
            mail.subject.clone(),
            mail.body.clone()
        )),
        "{sent:?}"
    );
}

#[tokio::test]
async fn signup_login_and_home_work_on_the_aws_adapters() {
    let e = Emulator::start().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let app = App::new(e.ports(clock), Config { ..test_config() });
    let router = myna::web::all(app.clone());
    let mut b = Browser::new(router, "203.0.113.50");

    let res = b
        .submit(
            "/signup",
            "/signup",
            &signup_fields("株式会社クラウド", "owner@cloud.example.jp", "Sakura-2026x"),
        )
        .await;
    assert_eq!(res.location(), Some("/signup/done"), "{}", res.body);

    // The welcome mail went to EventBridge; the worker sends it through SES.
    let mut handled = 0;
    for _ in 0..20 {
        for env in e.delivered_events().await {
            let job = Event {
                kind: env["detail-type"].as_str().unwrap().into(),
                detail: env["detail"].clone(),
            };
            myna::app::worker::handle(&app, &job).await.unwrap();
            // Delivered twice: sent once.
            myna::app::worker::handle(&app, &job).await.unwrap();
            handled += 1;
        }
        if handled > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let welcome: Vec<_> = e
        .sent_mail()
        .await
        .into_iter()
        .filter(|m| m.1.contains("本人確認"))
        .collect();
    assert_eq!(welcome.len(), 1, "welcome mail sent exactly once");
    assert!(welcome[0].2.contains("お客様番号:"));

    let res = b
        .submit(
            "/login",
            "/login",
            &[
                ("email", "owner@cloud.example.jp"),
                ("password", "Sakura-2026x"),
            ],
        )
        .await;
    assert_eq!(res.location(), Some("/login/otp"), "{}", res.body);
    let otp_mail = e
        .sent_mail()
        .await
        .into_iter()
        .rev()
        .find(|m| m.1.contains("第二認証コード"))
        .expect("OTP mail in moto");
    let code: String = otp_mail
        .2
        .lines()
        .find(|l| l.starts_with("第二認証コード:"))
        .unwrap()
        .trim_start_matches("第二認証コード:")
        .trim()
        .to_string();
    let res = b
        .submit("/login/otp", "/login/otp", &[("code", &code)])
        .await;
    assert_eq!(res.location(), Some("/home"), "{}", res.body);
    let home = b.get("/home").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("株式会社クラウド") && home.body.contains("プラン10"));
}

#[tokio::test]
async fn a_request_decrypting_1000_numbers_makes_one_kms_call() {
    let e = Emulator::start().await;
    let kms = Arc::new(e.kms());
    let clock: Arc<dyn myna::ports::Clock> = Arc::new(SystemClock);
    let writer = myna::app::vault::Vault::new(kms.clone(), clock.clone());
    let tenant = myna::app::keys::TenantId::new();
    let keys = writer.create_tenant_keys(&tenant).await.unwrap();
    let number = MyNumber::parse("123456789018").unwrap();
    let mut sealed = Vec::new();
    for i in 0..1000 {
        sealed.push(
            writer
                .seal_number(&keys, &format!("REG{i}"), &number)
                .await
                .unwrap(),
        );
    }

    // A new request (a fresh Lambda container's cache) opens all 1,000.
    let reader = myna::app::vault::Vault::new(kms.clone(), clock);
    let before = kms.calls();
    for (i, s) in sealed.iter().enumerate() {
        assert_eq!(
            reader
                .open_number(&keys, &format!("REG{i}"), s)
                .await
                .unwrap(),
            number
        );
    }
    let calls = kms.calls() - before;
    println!("KMS calls to decrypt 1,000 numbers: {calls}");
    assert_eq!(calls, 1);
}

/// A tenant's log of five entries in the emulator's audit table, after `tamper`: the result
/// of checking it, and whether a check of every log found the tenant.
async fn audit_chain_after(
    tamper: impl AsyncFnOnce(&dyn myna::ports::Store, &str),
) -> (myna::app::audit::Verification, bool) {
    use myna::app::audit::ChainedAudit;
    use myna::ports::Audit;
    let e = Emulator::start().await;
    let store = e.ports(Arc::new(SystemClock)).audit_store;
    let audit = ChainedAudit::new(store.clone(), Arc::new(SystemClock));
    let tenant = myna::app::keys::TenantId::new();
    for i in 0..5 {
        audit
            .record(myna_tests::fixtures::audit_event(
                &tenant,
                format!("操作{i}"),
            ))
            .await
            .unwrap();
    }
    tamper(store.as_ref(), &format!("T#{tenant}")).await;
    let listed = audit
        .verify_all()
        .await
        .unwrap()
        .iter()
        .any(|c| c.tenant.as_ref() == Some(&tenant));
    (audit.verify(Some(&tenant)).await.unwrap(), listed)
}

#[tokio::test]
async fn audit_chain_on_dynamodb_names_an_edited_deleted_or_reordered_entry() {
    use myna::app::audit::Problem;
    use myna::ports::{Condition, Key};
    let key = |pk: &str, seq: i64| Key::new(pk, format!("LOG#{seq:012}"));

    let (intact, listed) = audit_chain_after(async |_, _| {}).await;
    let (edited, _) = audit_chain_after(async |store, pk| {
        let mut item = store.get(&key(pk, 2)).await.unwrap().unwrap();
        item.attrs.insert("detail".into(), "改ざん".into());
        store.put(item, Condition::None).await.unwrap();
    })
    .await;
    let (deleted, _) = audit_chain_after(async |store, pk| {
        store.delete(&key(pk, 3), Condition::None).await.unwrap();
    })
    .await;
    let (reordered, _) = audit_chain_after(async |store, pk| {
        let mut a = store.get(&key(pk, 4)).await.unwrap().unwrap();
        let mut b = store.get(&key(pk, 5)).await.unwrap().unwrap();
        std::mem::swap(&mut a.key, &mut b.key);
        store.put(a, Condition::None).await.unwrap();
        store.put(b, Condition::None).await.unwrap();
    })
    .await;

    assert!(listed, "verify_all finds the tenant's log");
    assert_eq!((intact.entries, intact.broken_at), (5, None));
    assert_eq!(
        (edited.broken_at, edited.problem),
        (Some(2), Some(Problem::Altered))
    );
    assert_eq!(
        (deleted.broken_at, deleted.problem),
        (Some(3), Some(Problem::Missing))
    );
    assert_eq!(
        (reordered.broken_at, reordered.problem),
        (Some(4), Some(Problem::OutOfOrder))
    );
}

#[tokio::test]
async fn purge_schedules_the_key_deletion_and_removes_every_object_version_on_aws() {
    use myna::app::{cancel, purge};
    // Given a company on the AWS adapters with an image replaced once (two versions), whose
    // cancellation is due
    let e = Emulator::start().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let app = App::new(e.ports(clock.clone()), Config { ..test_config() });
    let mut b = Browser::new(myna::web::all(app.clone()), "203.0.113.51");
    let owner = "owner@purge.example.jp";
    let res = b
        .submit(
            "/signup",
            "/signup",
            &signup_fields("株式会社ハキ", owner, "Sakura-2026x"),
        )
        .await;
    assert_eq!(res.location(), Some("/signup/done"), "{}", res.body);
    let scope = myna_tests::scope_of(&app, owner).await;
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    let blob_scope = myna::ports::BlobScope {
        tenant_id: scope.tenant().to_string(),
        master_key: tenant.keys.master_key.clone(),
    };
    e.version_bucket().await;
    let s3 = myna::adapters::aws::s3_client(&e.sdk, &e.settings);
    for fill in [1u8, 2] {
        app.ports
            .blobs
            .put(
                &blob_scope,
                "images/card.jpg",
                [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[fill; 64]].concat(),
                "image/jpeg",
            )
            .await
            .unwrap();
    }
    let actor = myna::app::actor::Actor {
        user_id: "owner".into(),
        name: "申込 太郎".into(),
        ip: "203.0.113.51".into(),
    };
    let due = cancel::request(&app, &scope, &actor).await.unwrap().due;
    let after = due.next_day().unwrap().midnight().assume_utc() + time::Duration::hours(12);
    {
        use myna::ports::Clock;
        clock.advance(after - clock.now());
    }

    // When the purge runs (twice) and the worker handles what it published
    let report = purge::run(&app).await.unwrap();
    purge::run(&app).await.unwrap();
    for _ in 0..20 {
        let events = e.delivered_events().await;
        for env in &events {
            let job = Event {
                kind: env["detail-type"].as_str().unwrap().into(),
                detail: env["detail"].clone(),
            };
            myna::app::worker::handle(&app, &job).await.unwrap();
        }
        if e.sent_mail()
            .await
            .iter()
            .any(|m| m.1 == purge::CERTIFICATE_SUBJECT)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Then the tenant's KMS key is pending deletion, no version of its objects is left, its
    // profile is gone, and one certificate was sent
    assert_eq!(report.purged, vec![scope.tenant().clone()]);
    let described = kms_client(&e)
        .describe_key()
        .key_id(&tenant.keys.master_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.key_metadata().unwrap().key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    let versions = s3
        .list_object_versions()
        .bucket(&e.settings.bucket)
        .prefix(format!("{}/", scope.tenant()))
        .send()
        .await
        .unwrap();
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty());
    assert!(myna::app::tenants::load(&scope).await.unwrap().is_none());
    let certs: Vec<_> = e
        .sent_mail()
        .await
        .into_iter()
        .filter(|m| m.1 == purge::CERTIFICATE_SUBJECT)
        .collect();
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(certs[0].0, owner);
    assert!(
        certs[0].2.contains("画像（通知カード・身分証明書等）: 1件"),
        "{}",
        certs[0].2
    );
}
