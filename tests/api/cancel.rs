//! 解約申請 (manual ch.15, FAQ) and the month-end purge: the request with its warning, export
//! and 入力確認, the withdrawal, and the purge after the 解約日: key destroyed first, every record,
//! image and log entry gone, the データ破棄証明書 mailed once, resumable after a crash at any
//! step, and the other tenant untouched.

use axum::http::StatusCode;
use myna::app::cancel;
use myna::app::keys::{self as k, TenantScope};
use myna::app::purge::{self, Step, CERTIFICATE_SUBJECT};
use myna::domain::purpose::Purpose;
use myna::ports::{BlobScope, Query};
use myna_tests::fixtures::{dependent, person, NUMBER, PW};
use myna_tests::{Browser, TestApp};
use time::Duration;

const COMPANY: &str = "株式会社カイヤク";
const OWNER: &str = "owner@kaiyaku.example.jp";
const OTHER_COMPANY: &str = "株式会社ツヅケル";
const OTHER_OWNER: &str = "owner@tsuzukeru.example.jp";
const DEP_NUMBER: &str = "123456789018";

/// A tenant with one registrant and one dependent (both with numbers) and one stored image.
async fn populated(t: &TestApp, b: &mut Browser, owner: &str) -> TenantScope {
    let res = b
        .add_registrant(&person("山田", "太郎", "K-001", NUMBER), &[])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let scope = t.scope_of(owner).await;
    let id = res.registrant_id();
    let res = b
        .add_dependent(
            &id,
            &dependent("花子", "child", "dependent", DEP_NUMBER),
            &[],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    t.app
        .ports
        .blobs
        .put(
            &BlobScope {
                tenant_id: scope.tenant().to_string(),
                master_key: tenant.keys.master_key.clone(),
            },
            "images/card.jpg",
            [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 100]].concat(),
            "image/jpeg",
        )
        .await
        .unwrap();
    scope
}

/// Moves the test clock to the first day after the month of now (Japan time).
fn after_month_end(t: &TestApp) {
    use myna::ports::Clock;
    let now = t.clock.now();
    let due = cancel::due_date(now);
    let next_day = due
        .next_day()
        .unwrap()
        .midnight()
        .assume_offset(time::macros::offset!(+9));
    t.clock.advance(next_day - now + Duration::hours(1));
}

/// Everything of the tenant the product could still read: items of its partitions and
/// indexes, its log, its login look-ups.
async fn leftovers(t: &TestApp, scope: &TenantScope, customer: &str) -> Vec<String> {
    let mut left = Vec::new();
    let main = t.app.ports.store.clone();
    for pk in [
        scope.pk(),
        scope.partition("NOTICES"),
        scope.partition(k::index::ALL_REGISTRANTS),
    ] {
        let q = Query::partition(&pk).limit(1000);
        let q = if pk.ends_with(k::index::ALL_REGISTRANTS) {
            q.on(myna::ports::Index::Gsi2)
        } else {
            q
        };
        for item in main.query(&q).await.unwrap().items {
            left.push(format!("{}/{}", item.key.pk, item.key.sk));
        }
    }
    for item in t
        .app
        .ports
        .audit_store
        .query(&Query::partition(scope.pk()).limit(1000))
        .await
        .unwrap()
        .items
    {
        left.push(format!("audit {}", item.key.sk));
    }
    if t.app
        .audit
        .tenants()
        .await
        .unwrap()
        .contains(scope.tenant())
    {
        left.push("audit LOGS entry".into());
    }
    for key in [
        k::email_lookup(OWNER, scope.tenant()),
        k::customer_lookup(customer),
    ] {
        if main.get(&key).await.unwrap().is_some() {
            left.push(key.pk);
        }
    }
    left
}

fn key_files(t: &TestApp) -> Vec<String> {
    std::fs::read_dir(t.dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn certificates_to(t: &TestApp, to: &str) -> Vec<String> {
    t.outbox
        .list()
        .unwrap()
        .into_iter()
        .filter(|m| m.mail.to == to && m.mail.subject == CERTIFICATE_SUBJECT)
        .map(|m| m.mail.body)
        .collect()
}

#[tokio::test]
async fn cancel_page_warns_and_offers_the_full_export_when_nothing_is_requested() {
    // Given an owner with no cancellation
    let (_t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    // When they open 解約申請
    let page = b.get("/plan/cancel").await;
    // Then the page warns that everything will be deleted at the month's end, offers the CSV
    // download with numbers (password + purpose, to the ordinary download) and the request
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "解約日は、解約申請月の末日",
        "登録データは全て削除されます",
        "元に戻すことはできません",
        "action=\"/registrants/csv\"",
        "name=\"password\"",
        "name=\"purpose\"",
        "action=\"/plan/cancel/confirm\"",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
}

#[tokio::test]
async fn cancel_is_refused_with_the_form_kept_when_the_deletion_is_not_acknowledged() {
    // Given an owner on 解約申請
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    // When they go on without ticking the acknowledgement, to 入力確認 or straight to 申請
    for action in ["/plan/cancel/confirm", "/plan/cancel"] {
        let page = b.submit("/plan/cancel", action, &[]).await;
        // Then the page says why, and nothing is requested
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        assert!(
            page.body.contains("チェックを入れてください"),
            "{}",
            page.body
        );
    }
    let scope = t.scope_of(OWNER).await;
    assert_eq!(cancel::pending(&scope).await.unwrap(), None);
}

#[tokio::test]
async fn cancel_is_recorded_due_at_month_end_and_shown_on_home_when_the_owner_applies() {
    // Given an owner
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let due = myna::domain::date::format_slash(cancel::due_date({
        use myna::ports::Clock;
        t.clock.now()
    }));
    // When they request cancellation through 入力確認 → 申請
    b.request_cancellation().await;
    // Then the page and HOME show the pending cancellation with its 解約日 (the month's last
    // day), the company keeps working, and the request is in the operation log
    let page = b.get("/plan/cancel?done=requested").await;
    assert!(
        page.body.contains("解約申請を受け付けました"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&due), "{}", page.body);
    assert!(page.body.contains("解約の取り消し"), "{}", page.body);
    let home = b.get("/home").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("解約申請を受け付けています"),
        "{}",
        home.body
    );
    assert!(home.body.contains(&due), "{}", home.body);
    assert_eq!(b.get("/registrants").await.status, StatusCode::OK);
    let scope = t.scope_of(OWNER).await;
    let log = t.audit_of(&scope).await;
    assert_eq!(log[0].action, "contract.cancel");
    assert!(log[0].detail.contains(&due), "{}", log[0].detail);
    // And the purge leaves the tenant alone until the 解約日 has ended
    let report = purge::run(&t.app).await.unwrap();
    assert!(report.purged.is_empty());
    assert!(myna::app::tenants::load(&scope).await.unwrap().is_some());
}

#[tokio::test]
async fn withdraw_keeps_the_company_when_done_before_the_due_day_ends() {
    // Given a pending cancellation
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    b.request_cancellation().await;
    // When the owner withdraws it (解約の取り消し)
    let res = b.submit("/plan/cancel", "/plan/cancel/withdraw", &[]).await;
    // Then it is gone from the page and HOME, audited, and the month's end purges nothing
    assert_eq!(res.location(), Some("/plan/cancel?done=withdrawn"));
    let page = b.get("/plan/cancel?done=withdrawn").await;
    assert!(
        page.body.contains("解約申請を取り消しました"),
        "{}",
        page.body
    );
    assert!(!b
        .get("/home")
        .await
        .body
        .contains("解約申請を受け付けています"));
    let scope = t.scope_of(OWNER).await;
    assert_eq!(
        t.audit_of(&scope).await[0].action,
        "contract.cancel_withdraw"
    );
    after_month_end(&t);
    let report = purge::run(&t.app).await.unwrap();
    assert!(report.purged.is_empty());
    t.login(OWNER, PW, None).await;
}

#[tokio::test]
async fn withdraw_is_refused_when_the_due_day_has_ended() {
    // Given a cancellation whose 解約日 has ended (the purge has not run yet)
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    b.request_cancellation().await;
    after_month_end(&t);
    let mut b = t.login(OWNER, PW, None).await;
    // When the owner tries to withdraw
    let res = b.submit("/plan/cancel", "/plan/cancel/withdraw", &[]).await;
    // Then it is refused and the purge goes ahead
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(purge::run(&t.app).await.unwrap().purged.len(), 1);
}

#[tokio::test]
async fn export_before_cancel_downloads_every_number_and_is_audited() {
    // Given an owner with a registrant and a dependent, on 解約申請
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let scope = populated(&t, &mut b, OWNER).await;
    // When they use the page's download form with their password and a purpose
    let purpose = Purpose::ALL[0].code();
    let res = b
        .submit(
            "/plan/cancel",
            "/registrants/csv",
            &[("password", PW), ("purpose", purpose), ("encoding", "utf8")],
        )
        .await;
    // Then the file holds both numbers and the download is in the operation log
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains(NUMBER) && res.body.contains(DEP_NUMBER));
    assert_eq!(t.audit_of(&scope).await[0].action, "csv.export");
}

#[tokio::test]
async fn purge_deletes_everything_and_mails_the_certificate_once_when_the_due_day_has_ended() {
    // Given a cancelled company with a registrant, a dependent, an image, a mailed
    // registration link, and another company that goes on
    let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
    let scope = populated(&t, &mut b, OWNER).await;
    let (_, link) = t
        .mailed_registrant(&mut b, OWNER, "hanako@example.jp")
        .await;
    let mut other = t.owner(OTHER_COMPANY, OTHER_OWNER).await;
    other
        .add_registrant(&person("続", "一郎", "T-001", NUMBER), &[])
        .await;
    drop(other);
    let other_scope = t.scope_of(OTHER_OWNER).await;
    let tenant = myna::app::tenants::load(&scope).await.unwrap().unwrap();
    let master_key = tenant.keys.master_key.clone();
    b.request_cancellation().await;
    after_month_end(&t);
    // (Both owners log in again before the job: sessions open when the purge comes, and the
    // link still works.)
    let mut b = t.login(OWNER, PW, None).await;
    let mut other = t.login(OTHER_OWNER, PW, None).await;
    let phone = t.browser("198.51.100.77").get(&link).await;
    assert!(phone.body.contains("name=\"password\""), "{}", phone.body);

    // When the month-end purge runs (and again, as the daily schedule does), with the worker
    let report = purge::run(&t.app).await.unwrap();
    t.run_jobs().await;
    purge::run(&t.app).await.unwrap();
    t.run_jobs().await;

    // Then the tenant's key file is gone, and its images, records, log and look-ups
    assert_eq!(report.purged, vec![scope.tenant().clone()]);
    assert!(!key_files(&t).iter().any(|f| f.starts_with(&master_key)));
    assert!(!t
        .dir
        .path()
        .join("blobs")
        .join(scope.tenant().as_str())
        .exists());
    assert_eq!(
        leftovers(&t, &scope, &tenant.customer_number).await,
        Vec::<String>::new()
    );
    // And one certificate went to the contractor address, with the counts and the key time
    let certs = certificates_to(&t, OWNER);
    assert_eq!(certs.len(), 1, "{certs:?}");
    for text in [
        "データ破棄証明書",
        COMPANY,
        &tenant.customer_number,
        "登録者: 2人",
        "扶養家族: 1人",
        "画像（通知カード・身分証明書等）: 1件",
        "暗号鍵の破棄日時",
    ] {
        assert!(certs[0].contains(text), "{text}: {}", certs[0]);
    }
    assert!(!certs[0].contains(NUMBER) && !certs[0].contains(DEP_NUMBER));
    // And only a number-free purge record is kept
    let record = purge::record(&t.app, scope.tenant())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.next, None);
    assert_eq!(record.contractor_email, None);
    assert_eq!((record.people, record.dependents, record.images), (2, 1, 1));
    assert!(record.log_entries.unwrap() > 3);
    // And its users cannot log in, its old session is dead, its link leads nowhere
    let mut login = t.browser("203.0.113.99");
    let res = login
        .submit(
            "/login",
            "/login",
            &[("email", OWNER), ("password", PW), ("customer_number", "")],
        )
        .await;
    assert_ne!(res.location(), Some("/login/otp"), "{}", res.body);
    let home = b.get("/home").await;
    assert_ne!(home.status, StatusCode::OK);
    let phone = t.browser("198.51.100.77").get(&link).await;
    assert!(!phone.body.contains("name=\"password\""), "{}", phone.body);
    // And the other company is untouched
    assert_eq!(other.get("/registrants").await.status, StatusCode::OK);
    assert!(other.get("/registrants").await.body.contains("続"));
    assert!(myna::app::tenants::load(&other_scope)
        .await
        .unwrap()
        .is_some());
    assert!(t
        .app
        .audit
        .verify(Some(other_scope.tenant()))
        .await
        .unwrap()
        .broken_at
        .is_none());
    // And the system log notes the purge without any name or number
    let (system, _) = t.app.audit.list(None, 10, None).await.unwrap();
    assert!(system.iter().any(|e| e.action == "tenant.purge"
        && e.detail.contains(&tenant.customer_number)
        && !e.detail.contains(COMPANY)));
}

/// The end state a purge leaves, without its times.
async fn end_state(t: &TestApp, scope: &TenantScope, customer: &str) -> String {
    let mut r = purge::record(&t.app, scope.tenant())
        .await
        .unwrap()
        .unwrap();
    r.started_at = time::OffsetDateTime::UNIX_EPOCH;
    r.key_destroyed_at = r.key_destroyed_at.map(|_| time::OffsetDateTime::UNIX_EPOCH);
    r.finished_at = r.finished_at.map(|_| time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{r:?} left={:?} certificates={} keys={}",
        leftovers(t, scope, customer).await,
        certificates_to(t, OWNER).len(),
        key_files(t).len(),
    )
}

#[tokio::test]
async fn purge_reruns_to_the_same_end_state_when_interrupted_after_any_step() {
    let mut expected: Option<String> = None;
    for stop_after in 0..=Step::ALL.len() {
        // Given a cancelled company whose purge stopped after `stop_after` steps (a crash)
        let (t, mut b) = TestApp::with_owner(COMPANY, OWNER).await;
        let scope = populated(&t, &mut b, OWNER).await;
        let customer = myna::app::tenants::load(&scope)
            .await
            .unwrap()
            .unwrap()
            .customer_number;
        b.request_cancellation().await;
        after_month_end(&t);
        let due = cancel::due_tenants(&t.app, {
            use myna::ports::Clock;
            t.clock.now()
        })
        .await
        .unwrap();
        let mut record = purge::begin(&t.app, &due[0]).await.unwrap().unwrap();
        for _ in 0..stop_after {
            purge::advance(&t.app, &mut record).await.unwrap();
        }
        t.run_jobs().await;
        // When the next scheduled run comes (twice, the worker running after each)
        purge::run(&t.app).await.unwrap();
        t.run_jobs().await;
        purge::run(&t.app).await.unwrap();
        t.run_jobs().await;
        // Then the end state is the same whatever step the crash followed: everything gone,
        // the record complete, one certificate
        let state = end_state(&t, &scope, &customer).await;
        assert!(
            state.contains("certificates=1"),
            "after {stop_after}: {state}"
        );
        assert!(state.contains("left=[]"), "after {stop_after}: {state}");
        let comparable = state
            .replace(scope.tenant().as_str(), "T")
            .replace(&customer, "C");
        // The master key's id and the tenant differ per run; the rest must not.
        let comparable = comparable
            .split(", ")
            .filter(|f| !f.starts_with("master_key"))
            .collect::<Vec<_>>()
            .join(", ");
        match &expected {
            None => expected = Some(comparable),
            Some(e) => assert_eq!(&comparable, e, "after {stop_after} steps"),
        }
    }
}

#[tokio::test]
async fn sweep_destroys_a_key_without_a_tenant_when_older_than_a_day() {
    // Given a company and a master key left by a sign-up that failed after creating it
    let (t, _b) = TestApp::with_owner(COMPANY, OWNER).await;
    let orphan_tenant = k::TenantId::new();
    let orphan = t
        .app
        .ports
        .keys
        .create_master_key(orphan_tenant.as_str())
        .await
        .unwrap();
    // When the job runs within the grace period, and then a day later
    let early = purge::run(&t.app).await.unwrap();
    t.clock.advance(purge::sweep::GRACE + Duration::hours(1));
    let late = purge::run(&t.app).await.unwrap();
    // Then only the later run destroys it, and the company's own key stays
    assert_eq!((early.orphan_keys, late.orphan_keys), (0, 1));
    let left = key_files(&t);
    assert!(!left.iter().any(|f| f.starts_with(&orphan)), "{left:?}");
    assert_eq!(left.len(), 1, "{left:?}");
    t.login(OWNER, PW, None).await;
}

#[tokio::test]
async fn plan_page_leads_the_owner_to_cancellation_and_no_one_else() {
    // given a company with its 最高権限 and a 管理担当者
    let (t, mut owner) = TestApp::with_owner(COMPANY, OWNER).await;
    let scope = t.scope_of(OWNER).await;
    let mut manager = t
        .with_user(
            &scope,
            "manager@kaiyaku.example.jp",
            myna::domain::role::Role::Manager,
        )
        .await;
    // when each opens 契約プラン
    let for_owner = owner.get("/plan").await;
    let for_manager = manager.get("/plan").await;
    // then only the owner sees the way to 解約申請, and it opens
    assert!(for_owner.body.contains("href=\"/plan/cancel\""));
    assert!(!for_manager.body.contains("href=\"/plan/cancel\""));
    assert_eq!(owner.get("/plan/cancel").await.status, StatusCode::OK);
}
