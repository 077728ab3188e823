//! The request log: each request runs in a span naming its method and matched route template,
//! and a failure is logged once inside it, without the raw path, record ids or personal data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use myna::ports::store::StoreError;
use myna_tests::fixtures::{person, NUMBER};
use myna_tests::logs::capture_logs;
use myna_tests::store_hook::HookedStore;
use myna_tests::{test_config, TestApp};

#[tokio::test]
async fn failed_request_is_logged_under_its_route_template_never_its_path_or_ids() {
    // GIVEN a registrant with a number, and a store that then fails to read registrants
    let failing = Arc::new(AtomicBool::new(false));
    let switch = failing.clone();
    let t = TestApp::spawn_wrapping_store(test_config(), move |inner| {
        HookedStore::wrap(inner, move |op, key| {
            let registrant = key.is_some_and(|k| k.sk.starts_with("REG#"));
            match op == "get" && registrant && switch.load(Ordering::SeqCst) {
                true => Err(StoreError::Backend("injected read failure".into())),
                false => Ok(()),
            }
        })
    });
    let mut b = t.owner("株式会社ログ", "log@example.jp").await;
    let saved = b
        .add_registrant(&person("山田", "太郎", "LOG-1", NUMBER), &[])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let id = saved.registrant_id();
    failing.store(true, Ordering::SeqCst);
    let (logs, _guard) = capture_logs();

    // WHEN the registrant's detail page is asked for
    let page = b.get(&format!("/registrants/{id}")).await;

    // THEN the user sees the error page, and the one log line of the failure names the route
    // template and the cause, but neither the path, the record id nor the person
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    let text = logs.text();
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("request failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{text}");
    assert!(failures[0].contains("route=/registrants/{id}"), "{text}");
    assert!(failures[0].contains("method=GET"), "{text}");
    assert!(failures[0].contains("injected read failure"), "{text}");
    for secret in [id.as_str(), "山田", "LOG-1", NUMBER, &NUMBER[8..]] {
        assert!(!text.contains(secret), "{secret:?} in the log: {text}");
    }
}

#[tokio::test]
async fn request_that_succeeds_logs_no_failure() {
    // GIVEN an owner; WHEN a page is served normally
    let (_t, mut b) = TestApp::with_owner("株式会社ログ", "ok@example.jp").await;
    let (logs, _guard) = capture_logs();
    let page = b.get("/registrants").await;

    // THEN nothing is logged as a failure
    assert_eq!(page.status, StatusCode::OK);
    assert!(!logs.text().contains("request failed"), "{}", logs.text());
}
