//! The SAM template routes each page to the function whose router serves it: a page added to a
//! router but not to `template.yaml` (or sent to the wrong function) would 404 in AWS while
//! working locally.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use myna_tests::TestApp;
use tower::ServiceExt;

/// `(function logical id, path)` for every `Path:` under an `HttpApi` event.
fn template_routes() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let mut routes = Vec::new();
    let mut resource = String::new();
    for line in text.lines() {
        if line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
            && !line.trim().starts_with('#')
        {
            resource = line.trim().trim_end_matches(':').to_string();
        }
        if let Some(path) = line.trim().strip_prefix("Path: ") {
            routes.push((resource.clone(), path.trim().trim_matches('"').to_string()));
        }
    }
    routes
}

fn matches(route: &str, path: &str) -> bool {
    match route.strip_suffix("/{proxy+}") {
        Some(prefix) => path.starts_with(&format!("{prefix}/")),
        None => route == path,
    }
}

async fn status(router: &Router, path: &str) -> StatusCode {
    router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn every_page_is_routed_to_the_function_that_serves_it() {
    let t = TestApp::spawn();
    let auth = myna::web::group(t.app.clone(), myna::web::auth::router());
    let home = myna::web::group(t.app.clone(), myna::web::home::router());
    let routes = template_routes();
    assert!(routes.len() > 10, "no routes parsed from template.yaml");

    let mut pages: Vec<(&str, &str)> = [
        "/",
        "/static/app.css",
        "/static/favicon.png",
        "/signup",
        "/signup/done",
        "/login",
        "/login/otp",
        "/login/reminder",
        "/logout",
    ]
    .into_iter()
    .map(|p| ("AuthFunction", p))
    .collect();
    pages.push(("HomeFunction", "/home"));
    pages.extend(
        myna::web::home::COMING_SOON
            .iter()
            .map(|(p, _)| ("HomeFunction", *p)),
    );

    for (function, path) in pages {
        let owners: Vec<_> = routes
            .iter()
            .filter(|(_, r)| matches(r, path))
            .map(|(f, _)| f.as_str())
            .collect();
        assert_eq!(
            owners,
            vec![function],
            "{path} is routed to {owners:?} in template.yaml"
        );
        let router = if function == "AuthFunction" {
            &auth
        } else {
            &home
        };
        assert_ne!(
            status(router, path).await,
            StatusCode::NOT_FOUND,
            "{function} does not serve {path}"
        );
    }
}

/// IAM statements of the functions, as text blocks starting at each `- Sid:`.
fn statements() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    code.join("\n")
        .split("- Sid:")
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[test]
fn no_function_may_rewrite_the_audit_log_or_destroy_tenant_keys() {
    let all = statements();
    assert!(all.len() > 10, "no IAM statements parsed");
    for s in &all {
        let audit = s.contains("AuditTable");
        for forbidden in ["DeleteItem", "UpdateItem", "BatchWriteItem", "dynamodb:*"] {
            assert!(
                !(audit && s.contains(forbidden)),
                "audit log writable beyond appends:\n{s}"
            );
        }
        assert!(
            !s.contains("kms:ScheduleKeyDeletion") && !s.contains("kms:DisableKey"),
            "a function can destroy keys:\n{s}"
        );
        assert!(
            !s.contains("Action: \"*\"") && !s.contains("Action: '*'"),
            "wildcard action:\n{s}"
        );
    }
}

#[test]
fn only_tenant_key_holders_may_decrypt_with_tenant_keys() {
    // No function handles numbers or images yet, so none may unwrap a tenant data key.
    for s in statements() {
        let tenant_keys = s.contains(":key/*") && s.contains("myna:stage");
        assert!(
            !(tenant_keys && s.contains("kms:Decrypt")),
            "tenant-key decrypt granted:\n{s}"
        );
    }
}
