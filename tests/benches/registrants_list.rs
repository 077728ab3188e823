//! Benchmark: the registrant list on the embedded store with 10,000 registrants (1 dependent
//! each, 20 groups of 500, a mix of statuses, retirees and 削除予定日). Reports page latency
//! p50/p99 through the HTTP router for every list case (no filter at pages 1/100/200, name
//! and kana search, status, group, 退職者, the date filters, each sort), the Store calls per
//! page, and the list right after another container saved (the copy catches up with the one
//! entry the save changed), the directory's size as DynamoDB counts it and the 1 MB query
//! pages a cold container reads, as JSON on stdout (`infra/bench.sh list` writes it to
//! docs/perf/).
//!
//! Run: `cargo bench -p myna-tests --bench registrants_list`

// A benchmark: a failed `unwrap` stops the run, which is what it should do.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use myna::adapters::embedded::Embedded;
use myna::app::dependents::Dependent;
use myna::app::groups;
use myna::app::keys::TenantScope;
use myna::app::person::{Names, PersonCore};
use myna::app::tenants::Counters;
use myna::app::App;
use myna::domain::person::{Attribute, DependentKind, Relationship, Sex};
use myna::domain::status::Status;
use myna::ports::store::{Query, WriteOp};
use myna::ports::SystemClock;
use myna_tests::fixtures::bare_registrant;
use myna_tests::store_hook::HookedStore;
use myna_tests::{signed_up, test_config, TempDir};
use tower::ServiceExt;

const REGISTRANTS: usize = 10_000;
const GROUPS: usize = 20;
const RUNS: usize = 200;
/// Kana endings, so a kana search selects a few hundred rows, not all.
const KANA: [&str; 20] = [
    "ア", "イ", "ウ", "エ", "オ", "カ", "キ", "ク", "ケ", "コ", "サ", "シ", "ス", "セ", "ソ", "タ",
    "チ", "ツ", "テ", "ト",
];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn seed(scope: &TenantScope) -> (Vec<String>, String) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let groups: Vec<_> = (0..GROUPS)
        .map(|i| groups::new_group(format!("部署{i:02}"), time::OffsetDateTime::now_utc()))
        .collect();
    let mut ops: Vec<WriteOp> = groups
        .iter()
        .map(|g| WriteOp::put(g.to_item(scope)))
        .collect();
    for i in 0..REGISTRANTS {
        let family_name = format!("社員{}", i % 97);
        let retired_on = (i % 10 == 0)
            .then(|| time::Date::from_calendar_date(2025, time::Month::March, 31).unwrap());
        let delete_on = (i % 10 == 0).then(|| {
            time::Date::from_calendar_date(2026 + (i % 3) as i32, time::Month::April, 1).unwrap()
        });
        let mut r = bare_registrant(
            format!("E{i:05}"),
            PersonCore::new(
                Names {
                    family_name: family_name.clone(),
                    given_name: "太郎".into(),
                    family_kana: format!("シャイン{}", KANA[i % KANA.len()]),
                    given_kana: "タロウ".into(),
                },
                Some(Sex::ALL[i % 2]),
                None,
                now,
            ),
        );
        r.group_id = Some(groups[i % GROUPS].id.clone());
        r.attribute = Attribute::ALL[i % 2];
        r.email = Some(format!("staff{i}@example.jp"));
        (r.dependents, r.dependents_unregistered) = (1, 1);
        r.dependents_status = Some(Status::Unregistered);
        (r.retired_on, r.delete_on) = (retired_on, delete_on);
        let id = r.id.clone();
        r.person.status = [Status::Unregistered, Status::Pending, Status::Completed][i % 3];
        let d = Dependent {
            id: ulid::Ulid::new().to_string(),
            registrant_id: id,
            person: PersonCore::new(
                Names {
                    family_name,
                    given_name: "花子".into(),
                    ..Names::default()
                },
                None,
                None,
                now,
            ),
            relationship: Relationship::ALL[0],
            kind: DependentKind::ALL[0],
        };
        ops.push(WriteOp::put(r.to_item(scope)));
        ops.push(WriteOp::put(d.to_item(scope)));
    }
    scope.batch_write(ops).await.unwrap();
    let n = REGISTRANTS as i64;
    let delta = Counters {
        registrants: n,
        unregistered: n,
        dependents: n,
        dependents_unregistered: n,
        ..Default::default()
    };
    scope
        .transact(vec![Counters::delta_op(scope, &delta).unwrap()])
        .await
        .unwrap();
    let first = scope
        .query(&Query::partition(scope.pk()).prefix("REG#").limit(1))
        .await
        .unwrap()
        .items
        .remove(0)
        .key
        .sk;
    (groups.into_iter().map(|g| g.id).collect(), first)
}

#[tokio::main]
async fn main() {
    let dir = TempDir::new("bench");
    let mut embedded =
        Embedded::open(dir.path(), "http://127.0.0.1:8080", Arc::new(SystemClock)).unwrap();
    // Every store call made through the product, counted.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    embedded.ports.store = HookedStore::wrap(embedded.ports.store, move |_, _| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    let app: Arc<App> = App::new(embedded.ports, test_config());
    let router = myna::web::all(app.clone());

    let (b, scope) = signed_up(
        &app,
        router.clone(),
        &embedded.outbox,
        "bench@example.jp",
        "Sakura-2026x",
    )
    .await;
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");

    let started = Instant::now();
    let (groups, first) = seed(&scope).await;
    let seed_secs = started.elapsed().as_secs_f64();

    let q = |query: &str| format!("/registrants?{query}");
    let enc = |text: &str| -> String { text.bytes().map(|b| format!("%{b:02X}")).collect() };
    // (label, path, whether another container saved a registrant before each request)
    let cases: Vec<(&str, String, bool)> = vec![
        ("no filter, page 1", q(""), false),
        ("no filter, page 100", q("page=100"), false),
        ("no filter, page 200", q("page=200"), false),
        (
            "name search (partial, kana)",
            q(&format!("name={}", enc("しゃいんか"))),
            false,
        ),
        (
            "name search (partial, kanji)",
            q(&format!("name={}", enc("社員4"))),
            false,
        ),
        ("status 承認待", q("status=pending"), false),
        ("group filter", q(&format!("group={}", groups[3])), false),
        ("ungrouped", q("group=none"), false),
        ("退職者のみ", q("retired=only"), false),
        ("在籍者のみ, page 50", q("retired=exclude&page=50"), false),
        ("退職日 2025-03", q("retired_month=2025-03"), false),
        ("削除予定日 2027-04", q("delete_month=2027-04"), false),
        ("削除予定日到来", q("due=1"), false),
        ("社員コード search", q("code=E012"), false),
        (
            "email search",
            q(&format!("email={}", enc("staff99"))),
            false,
        ),
        ("sort by name, page 1", q("sort=name"), false),
        ("sort by name, page 100", q("sort=name&page=100"), false),
        (
            "no filter, page 1, right after another container saved",
            q(""),
            true,
        ),
        (
            "name search, right after another container saved",
            q(&format!("name={}", enc("しゃいんか"))),
            true,
        ),
    ];
    let resave = scope.get(&scope.key(&first)).await.unwrap().unwrap();
    let mut results = BTreeMap::new();
    for (label, path, after_save) in &cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut calls_per_page = 0;
        let mut list_calls = 0;
        for run in 0..RUNS + 5 {
            if *after_save {
                // Another container's save: the version moves, this copy must reload.
                scope
                    .transact(vec![WriteOp::put(resave.clone())])
                    .await
                    .unwrap();
            }
            let before = calls.load(Ordering::Relaxed);
            let t = Instant::now();
            let res = router
                .clone()
                .oneshot(
                    Request::get(path.as_str())
                        .header(header::COOKIE, &cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = res.status();
            let _ = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(status, StatusCode::OK, "{path}");
            calls_per_page = calls.load(Ordering::Relaxed) - before;
            if run >= 5 {
                times.push(ms);
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut filter: myna::app::registrants::Filter =
            serde_urlencoded::from_str(path.split_once('?').map_or("", |(_, q)| q)).unwrap();
        // As the page sets it (the 削除予定日到来 filter compares with today).
        filter.today = Some(myna::app::registrants::today(
            time::OffsetDateTime::now_utc(),
        ));
        if *after_save {
            scope
                .transact(vec![WriteOp::put(resave.clone())])
                .await
                .unwrap();
        }
        let page = myna::app::registrants::list(&scope, &filter).await.unwrap();
        list_calls = list_calls.max(page.store_calls);
        results.insert(
            label.to_string(),
            serde_json::json!({
                "path": path,
                "p50_ms": (percentile(&times, 0.5) * 100.0).round() / 100.0,
                "p99_ms": (percentile(&times, 0.99) * 100.0).round() / 100.0,
                "store_calls_per_request": calls_per_page,
                "store_calls_for_the_list": list_calls,
                "rows_selected": page.total,
            }),
        );
    }
    // The directory's stored size as DynamoDB counts it (names and values of every attribute,
    // keys included): what one cold query reads, in 1 MB pages.
    let directory = scope
        .query(&Query::partition(scope.pk()).prefix("DIR#").limit(100_000))
        .await
        .unwrap()
        .items;
    // DynamoDB's item size: every attribute's name and value (UTF-8 bytes; a number counts
    // at most 21 bytes, a boolean or null 1: 8 is an over-count for the small ones).
    let item_bytes = |i: &myna::ports::store::Item| {
        "pkpk".len()
            + i.key.pk.len()
            + i.key.sk.len()
            + i.attrs
                .iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(8, str::len))
                .sum::<usize>()
    };
    let directory_bytes: usize = directory.iter().map(item_bytes).sum();
    // A query page stops at 1 MB; counted here as 1,000,000 bytes, the conservative reading.
    let directory_pages = directory_bytes.div_ceil(1_000_000);
    // What every list reads first: the version item with its stamps.
    let version_item_bytes = directory
        .iter()
        .find(|i| i.key.sk == myna::app::directory::VERSION)
        .map_or(0, item_bytes);
    let report = serde_json::json!({
        "registrants_list": {
            "directory_items": directory.len(),
            "directory_bytes": directory_bytes,
            "directory_query_pages": directory_pages,
            "version_item_bytes": version_item_bytes,
            "registrants": REGISTRANTS,
            "dependents_each": 1,
            "groups": GROUPS,
            "runs_per_case": RUNS,
            "seed_seconds": (seed_secs * 10.0).round() / 10.0,
            "cases": results,
        }
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
