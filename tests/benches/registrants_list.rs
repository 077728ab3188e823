//! Benchmark: the registrant list on the embedded store with 10,000 registrants (1 dependent
//! each, 20 groups of 500). Reports page latency p50/p99 through the HTTP router and the Store
//! calls per page, as JSON on stdout (`infra/bench.sh list` writes it to docs/perf/).
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
use myna::app::App;
use myna::ports::SystemClock;
use myna_tests::store_hook::HookedStore;
use myna_tests::{signed_up, test_config, TempDir};
use tower::ServiceExt;

const REGISTRANTS: usize = 10_000;
const GROUPS: usize = 20;
const RUNS: usize = 200;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
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
    let groups = myna_tests::seed::registrants(&scope, REGISTRANTS, GROUPS)
        .await
        .group_ids;
    let seed_secs = started.elapsed().as_secs_f64();

    let cases = [
        (
            "group filter, page 1 (50 rows)",
            format!("/registrants?group={}", groups[3]),
        ),
        ("no filter, page 1 (50 rows)", "/registrants".to_string()),
        (
            "no filter, page 100 (50 rows)",
            "/registrants?page=100".to_string(),
        ),
        (
            "name search (partial, kana)",
            "/registrants?name=%E3%81%97%E3%82%83%E3%81%84%E3%82%93".to_string(),
        ),
    ];
    let mut results = BTreeMap::new();
    for (label, path) in &cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut calls_per_page = 0;
        for run in 0..RUNS + 5 {
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
        let filter: myna::app::registrants::Filter =
            serde_urlencoded::from_str(path.split_once('?').map_or("", |(_, q)| q)).unwrap();
        let list_calls = myna::app::registrants::list(&scope, &filter)
            .await
            .unwrap()
            .store_calls;
        results.insert(
            label.to_string(),
            serde_json::json!({
                "path": path,
                "p50_ms": (percentile(&times, 0.5) * 100.0).round() / 100.0,
                "p99_ms": (percentile(&times, 0.99) * 100.0).round() / 100.0,
                "store_calls_per_request": calls_per_page,
                "store_calls_for_the_list": list_calls,
            }),
        );
    }
    let report = serde_json::json!({
        "registrants_list": {
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
