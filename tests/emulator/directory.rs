//! The registrant list on DynamoDB (moto): the directory rides in the same
//! `TransactWriteItems` as each save (its stamp set on the version item by the same
//! `UpdateItem SET ... ADD`), and a list page costs the DynamoDB calls the design promises,
//! counted at the store: one query in a container that has not listed the tenant, one
//! `GetItem` (the version) when its copy is current, and the `GetItem` and one
//! `BatchGetItem` of the changed entries after another container saved or edited.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use myna::app::actor::Actor;
use myna::app::keys::TenantScope;
use myna::app::person::{Names, NamesForm, PersonCore};
use myna::app::registrants::{self as regs, Filter, RegistrantForm};
use myna::app::signup::{self, SignupInput};
use myna::app::{tenants, App};
use myna::domain::status::Status;
use myna::ports::store::WriteOp;
use myna::ports::ManualClock;
use myna_tests::emulator::Emulator;
use myna_tests::fixtures::bare_registrant;
use myna_tests::store_hook::HookedStore;
use myna_tests::test_config;
use time::OffsetDateTime;

/// A container on the emulator: its own product and directory copy, its store calls counted.
fn container(e: &Emulator, clock: &Arc<ManualClock>) -> (Arc<App>, Arc<AtomicUsize>) {
    let mut ports = e.ports(clock.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    ports.store = HookedStore::wrap(ports.store, move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    (App::new(ports, test_config()), calls)
}

/// The list's total for `filter` in a container, and the DynamoDB calls it took.
async fn list(
    app: &App,
    calls: &AtomicUsize,
    tenant: &TenantScope,
    filter: &Filter,
) -> (usize, usize) {
    let scope = TenantScope::new(tenant.tenant().clone(), app.ports.store.clone());
    let before = calls.load(Ordering::SeqCst);
    let page = regs::list(&scope, filter).await.unwrap();
    (page.total, calls.load(Ordering::SeqCst) - before)
}

/// A company signed up on the emulator by `email`, and the container that did it.
async fn signed_up(e: &Emulator, clock: &Arc<ManualClock>, email: &str) -> (Arc<App>, TenantScope) {
    let (writer, _) = container(e, clock);
    let out = signup::signup(
        &writer,
        SignupInput {
            company_name: "株式会社クラウド一覧".into(),
            family_name: "山田".into(),
            given_name: "太郎".into(),
            email: email.into(),
            password: "Sakura-2026x".into(),
            password_confirm: "Sakura-2026x".into(),
        },
        "203.0.113.9",
    )
    .await
    .unwrap();
    let scope = TenantScope::new(out.tenant.clone(), writer.ports.store.clone());
    (writer, scope)
}

#[tokio::test]
async fn a_list_page_costs_one_dynamodb_call_warm_and_two_after_another_container_saved() {
    // given a tenant on DynamoDB with three registrants saved by one container
    let e = Emulator::start().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let (writer, scope) = signed_up(&e, &clock, "owner@ichiran.example.jp").await;
    let tenant = tenants::load(&scope).await.unwrap().unwrap();
    let actor = Actor {
        user_id: "owner".into(),
        name: "山田 太郎".into(),
        ip: "203.0.113.9".into(),
    };
    let save = |code: &'static str, family: &'static str| {
        let form = RegistrantForm {
            code: code.into(),
            names: NamesForm {
                family_name: family.into(),
                given_name: "一覧".into(),
                family_kana: "イチラン".into(),
                ..Default::default()
            },
            attribute: "employee1".into(),
            ..Default::default()
        };
        regs::validate(
            &form,
            &[],
            regs::today(writer.now()),
            tenant.settings.retention_years,
        )
        .unwrap()
    };
    for (code, family) in [("C1", "青木"), ("C2", "井上"), ("C3", "上田")] {
        regs::create(&writer, &scope, &tenant, &actor, save(code, family), false)
            .await
            .unwrap();
    }

    // when another container lists the tenant for the first time, then again
    let (reader, calls) = container(&e, &clock);
    let all = Filter::default();
    let kana = Filter {
        name: "いちらん".into(),
        ..Default::default()
    };
    // then one query, then one GetItem of the version, whatever the filter
    assert_eq!(list(&reader, &calls, &scope, &all).await, (3, 1));
    assert_eq!(list(&reader, &calls, &scope, &kana).await, (3, 1));
    assert_eq!(list(&reader, &calls, &scope, &all).await, (3, 1));

    // when the first container saves one more
    regs::create(&writer, &scope, &tenant, &actor, save("C4", "江藤"), false)
        .await
        .unwrap();
    // then the reader sees it at once: the version item and one batch read of its entry
    assert_eq!(list(&reader, &calls, &scope, &all).await, (4, 2));
    assert_eq!(list(&reader, &calls, &scope, &kana).await, (4, 1));

    // when the first container edits it (a new name) and saves a fifth
    let edited = regs::list(&scope, &Filter::default()).await.unwrap().rows[3].clone();
    regs::update(
        &writer,
        &scope,
        &tenant,
        &actor,
        &edited.id,
        save("C4", "遠藤"),
        false,
    )
    .await
    .unwrap();
    regs::create(&writer, &scope, &tenant, &actor, save("C5", "小川"), false)
        .await
        .unwrap();
    // then the reader catches up with both in the same two calls
    let renamed = Filter {
        name: "遠藤".into(),
        ..Default::default()
    };
    assert_eq!(list(&reader, &calls, &scope, &renamed).await, (1, 2));
    assert_eq!(list(&reader, &calls, &scope, &all).await, (5, 1));
    // and the version item on DynamoDB names the entries the writes changed
    let version = writer
        .ports
        .store
        .get(&myna::app::directory::version_key(&scope.pk()))
        .await
        .unwrap()
        .unwrap();
    let stamped = format!("{}E#{}", myna::app::directory::STAMP, edited.id);
    assert!(
        version.str(&stamped).is_some(),
        "{:?}",
        version.attrs.keys()
    );
    assert_eq!(version.i64("v"), Some(6), "five saves and an edit");
}

#[tokio::test]
async fn a_cold_container_reads_the_directory_of_10000_registrants_in_two_dynamodb_pages() {
    // given a tenant on DynamoDB with 10,000 registrants of the list bench's kind (a group,
    // an e-mail address, one in ten retired with a 削除予定日), written in one batch
    let e = Emulator::start().await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let (_writer, scope) = signed_up(&e, &clock, "owner@ichiman.example.jp").await;
    let groups: Vec<String> = (0..20).map(|_| ulid::Ulid::new().to_string()).collect();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let day = |y, d| time::Date::from_calendar_date(y, time::Month::March, d).ok();
    let ops = (0..10_000usize)
        .map(|i| {
            let names = Names {
                family_name: format!("社員{}", i % 97),
                given_name: "太郎".into(),
                family_kana: "シャインア".into(),
                given_kana: "タロウ".into(),
            };
            let mut r =
                bare_registrant(format!("E{i:05}"), PersonCore::new(names, None, None, now));
            r.group_id = Some(groups[i % groups.len()].clone());
            r.email = Some(format!("staff{i}@example.jp"));
            (r.dependents, r.dependents_status) = (1, Some(Status::Unregistered));
            if i % 10 == 0 {
                (r.retired_on, r.delete_on) = (day(2025, 31), day(2027, 1));
            }
            WriteOp::put(r.to_item(&scope))
        })
        .collect();
    scope.batch_write(ops).await.unwrap();

    // when a container that has never listed the tenant lists it
    let (reader, calls) = container(&e, &clock);
    // then all 10,000 come in two query pages of at most 1 MB (moto cuts pages as DynamoDB)
    assert_eq!(
        list(&reader, &calls, &scope, &Filter::default()).await,
        (10_000, 2)
    );
}
