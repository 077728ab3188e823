//! `template.yaml` against the code: each page is routed to the function whose router serves
//! it (a page missing from the template would 404 in AWS while working locally), and the IAM
//! statements keep the promises of least privilege.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use myna_tests::TestApp;
use tower::ServiceExt;

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap()
}

/// The logical id of the resource each non-comment line belongs to.
fn lines_by_resource() -> Vec<(String, String)> {
    let mut resource = String::new();
    let mut out = Vec::new();
    for line in template()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
    {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            resource = line.trim().trim_end_matches(':').to_string();
        }
        out.push((resource.clone(), line.to_string()));
    }
    out
}

/// `(function, path)` for every `Path:` of an `HttpApi` event.
fn template_routes() -> Vec<(String, String)> {
    lines_by_resource()
        .into_iter()
        .filter_map(|(r, l)| {
            l.trim()
                .strip_prefix("Path: ")
                .map(|p| (r, p.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// IAM statements as `(resource, text from its "- Sid:" to the next)`.
fn statements() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for (resource, line) in lines_by_resource() {
        if line.trim_start().starts_with("- Sid:") {
            out.push((resource.clone(), String::new()));
            current = Some(out.len() - 1);
        } else if line.starts_with("  ") && !line.starts_with("   ") {
            current = None;
        }
        if let Some(i) = current {
            out[i].1.push_str(&line);
            out[i].1.push('\n');
        }
    }
    out
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
    let routers = [
        (
            "AuthFunction",
            myna::web::group(
                t.app.clone(),
                myna::web::auth::router().merge(myna::web::reminders::routes().into_router(&t.app)),
            ),
        ),
        (
            "HomeFunction",
            myna::web::group(t.app.clone(), myna::web::home::router()),
        ),
        (
            "RegistrantsFunction",
            myna::web::group(t.app.clone(), myna::web::registrants::router()),
        ),
        (
            "EnrolFunction",
            myna::web::group(t.app.clone(), myna::web::enrol::router()),
        ),
    ];
    let routes = template_routes();
    assert!(routes.len() > 10, "no routes parsed from template.yaml");

    let mut pages: Vec<(&str, &str)> = [
        "/",
        "/static/app.css",
        "/static/favicon.png",
        "/static/upload.js",
        "/static/viewer.js",
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
    // 閉じる on a HOME notice (POST; a GET answers 405, not 404, when routed).
    pages.push(("HomeFunction", "/home/notices/welcome/dismiss"));
    for (p, _) in myna::web::guide::PAGES {
        pages.push(("HomeFunction", p));
    }
    for (p, _) in myna::web::home::COMING_SOON {
        pages.push((
            if p.starts_with("/registrants/") {
                "RegistrantsFunction"
            } else {
                "HomeFunction"
            },
            p,
        ));
    }
    for p in [
        "/approval",
        "/registrants",
        "/registrants/new",
        "/registrants/groups",
        "/registrants/groups/new",
        "/collection/quick",
        "/collection/send-list",
        "/collection/blast",
        "/collection/mail",
        "/collection/passcode",
    ] {
        pages.push(("RegistrantsFunction", p));
    }
    for p in ["/r/me", "/r/me/step1", "/r/me/review"] {
        pages.push(("EnrolFunction", p));
    }

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
        let router = &routers.iter().find(|(f, _)| *f == function).unwrap().1;
        assert_ne!(
            status(router, path).await,
            StatusCode::NOT_FOUND,
            "{function} does not serve {path}"
        );
    }
}

#[test]
fn no_function_may_rewrite_the_audit_log_or_destroy_tenant_keys() {
    let all = statements();
    assert!(all.len() > 10, "no IAM statements parsed");
    for (resource, s) in &all {
        let audit = s.contains("AuditTable");
        for forbidden in ["DeleteItem", "UpdateItem", "BatchWriteItem", "dynamodb:*"] {
            assert!(
                !(audit && s.contains(forbidden)),
                "{resource}: audit log writable beyond appends:\n{s}"
            );
        }
        assert!(
            !s.contains("kms:ScheduleKeyDeletion") && !s.contains("kms:DisableKey"),
            "{resource} can destroy keys:\n{s}"
        );
        assert!(
            !s.contains("Action: \"*\"") && !s.contains("Action: '*'"),
            "{resource}: wildcard action:\n{s}"
        );
    }
}

#[test]
fn only_functions_that_handle_numbers_may_decrypt_with_tenant_keys() {
    let handle_numbers = ["RegistrantsFunction", "EnrolFunction"];
    let mut granted = Vec::new();
    for (resource, s) in statements() {
        let tenant_keys = s.contains(":key/*") && s.contains("myna:stage");
        if tenant_keys && s.contains("kms:Decrypt") {
            assert!(
                handle_numbers.contains(&resource.as_str()),
                "{resource} may unwrap tenant data keys:\n{s}"
            );
            granted.push(resource);
        }
    }
    assert_eq!(
        granted, handle_numbers,
        "the functions that seal numbers need the unwrap"
    );
}
