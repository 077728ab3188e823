//! 廃棄 on the AWS adapters (moto's DynamoDB and S3): a number-only deletion and a whole
//! registrant's deletion leave no number attribute, no fingerprint item and no image object.

use std::sync::Arc;

use myna::app::actor::Actor;
use myna::app::disposal::{self, Target};
use myna::app::keys::TenantScope;
use myna::app::person::NamesForm;
use myna::app::registrants::{self as regs, RegistrantForm};
use myna::app::signup::{self, SignupInput};
use myna::app::{images, tenants, App, Config};
use myna::domain::disposal::{parse_reason, DisposalKind};
use myna::ports::store::Condition;
use myna::ports::{ManualClock, Query};
use myna_tests::emulator::Emulator;
use myna_tests::fixtures::valid_number;
use myna_tests::test_config;
use time::OffsetDateTime;

#[tokio::test]
async fn deletions_remove_number_fingerprint_and_image_objects_from_dynamodb_and_s3() {
    // given a tenant on the AWS adapters with two registrants, each with a number and an image
    let e = Emulator::start().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let app = App::new(e.ports(clock), Config { ..test_config() });
    let out = signup::signup(
        &app,
        SignupInput {
            company_name: "株式会社クラウド廃棄".into(),
            family_name: "山田".into(),
            given_name: "太郎".into(),
            email: "owner@haiki.example.jp".into(),
            password: "Sakura-2026x".into(),
            password_confirm: "Sakura-2026x".into(),
        },
        "203.0.113.9",
    )
    .await
    .unwrap();
    let scope = TenantScope::new(out.tenant.clone(), app.ports.store.clone());
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let bs = images::blob_scope(&tenant, &scope);
    // versioned as the template makes it, so a plain delete would leave earlier versions
    e.version_bucket().await;
    let s3 = myna::adapters::aws::s3_client(&e.sdk, &e.settings);
    let actor = Actor {
        user_id: "owner".into(),
        name: "山田 太郎".into(),
        ip: "203.0.113.9".into(),
    };
    let mut people = Vec::new();
    for (code, seed) in [("E001", 201), ("E002", 202)] {
        let form = RegistrantForm {
            code: code.into(),
            names: NamesForm {
                family_name: "廃棄".into(),
                given_name: "対象".into(),
                ..Default::default()
            },
            attribute: "employee1".into(),
            number1: valid_number(seed)[..4].into(),
            number2: valid_number(seed)[4..8].into(),
            number3: valid_number(seed)[8..].into(),
            ..Default::default()
        };
        let valid = regs::validate(
            &form,
            &[],
            regs::today(app.now()),
            tenant.settings.retention_years,
        )
        .unwrap();
        let r = regs::create(&app, &scope, &tenant, &actor, valid, false)
            .await
            .unwrap();
        let object = format!("registrants/{}/number_proof/{}", r.id, ulid::Ulid::new());
        // written twice: the bucket keeps the first as an earlier version
        for _ in 0..2 {
            app.ports
                .blobs
                .put(
                    &bs,
                    &object,
                    b"\xFF\xD8\xFF\xE0 jpeg".to_vec(),
                    "image/jpeg",
                )
                .await
                .unwrap();
        }
        let mut item = r.to_item(&scope);
        item.attrs
            .insert("image_number_proof".into(), object.clone().into());
        scope.put(item, Condition::None).await.unwrap();
        people.push((r.id, object));
    }
    let fingerprints = |scope: TenantScope| async move {
        scope
            .query(&Query::partition(scope.pk()).prefix("FP#"))
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(fingerprints(scope.clone()).await, 2);

    // when the first one's number and the second one as a whole are deleted
    for ((id, _), kind) in people
        .iter()
        .zip([DisposalKind::Number, DisposalKind::Registrant])
    {
        let target = Target {
            kind,
            registrant_id: id.clone(),
            dependent_id: None,
        };
        let record = disposal::dispose(
            &app,
            &scope,
            &tenant,
            &actor,
            &target,
            parse_reason("retired", "").unwrap(),
            &disposal::new_id(),
        )
        .await
        .unwrap();
        assert!(record.done_at.is_some());
    }

    // then DynamoDB holds no number attribute and no fingerprint, S3 no image object
    let first = scope
        .get(&scope.key(&format!("REG#{}", people[0].0)))
        .await
        .unwrap()
        .expect("the person stays");
    for attr in ["number", "number_fp", "number_last4", "image_number_proof"] {
        assert!(!first.attrs.contains_key(attr), "{attr} still in DynamoDB");
    }
    assert!(scope
        .get(&scope.key(&format!("REG#{}", people[1].0)))
        .await
        .unwrap()
        .is_none());
    assert_eq!(fingerprints(scope.clone()).await, 0);
    for (_, object) in &people {
        assert!(app.ports.blobs.head(&bs, object).await.unwrap().is_none());
    }
    // and no earlier version or delete marker of either image stays in the versioned bucket
    let left = s3
        .list_object_versions()
        .bucket(&e.settings.bucket)
        .prefix(format!("{}/", out.tenant))
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.versions().len() + left.delete_markers().len(),
        0,
        "versions left behind"
    );
    // and two number-free records stay
    let (records, _) = disposal::list(&scope, None).await.unwrap();
    assert_eq!(records.len(), 2);
}
