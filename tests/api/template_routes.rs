//! `template.yaml` against the code: each route of each function (`web::functions`) is sent to
//! that function by the template, and each path the template routes is that function's (a
//! route missing from the template would 404 in AWS while working locally), and the IAM
//! statements keep the promises of least privilege.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use myna::web::functions::{function_router, Function};
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

/// An `HttpApi` event: the function it invokes, its path and its method.
#[derive(Debug)]
struct Event {
    function: String,
    path: String,
    method: String,
}

/// Every `HttpApi` event with a path (the `$default` catch-all has none).
fn template_events() -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for (function, line) in lines_by_resource() {
        let line = line.trim();
        if let Some(p) = line.strip_prefix("Path: ") {
            out.push(Event {
                function,
                path: p.trim().trim_matches('"').to_string(),
                method: String::new(),
            });
        } else if let Some(m) = line.strip_prefix("Method: ") {
            if let Some(last) = out.last_mut().filter(|e| e.method.is_empty()) {
                last.method = m.trim().to_string();
            }
        }
    }
    out
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

/// Whether API Gateway sends `path` to an event declared with `route`, and how specifically:
/// a route without a greedy variable beats every greedy one, a longer greedy prefix a shorter
/// one (API Gateway's rule for HTTP APIs). `{…}` matches one segment, as in the route table.
fn specificity(route: &str, path: &str) -> Option<(bool, usize)> {
    let segs = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let same = |r: &[String], p: &[String]| {
        r.iter()
            .zip(p)
            .all(|(r, p)| r == p || (r.starts_with('{') && r.ends_with('}')))
    };
    let have = segs(path);
    match route.strip_suffix("/{proxy+}") {
        Some(prefix) => {
            let want = segs(prefix);
            (have.len() > want.len() && same(&want, &have)).then_some((false, want.len()))
        }
        None => {
            let want = segs(route);
            (have.len() == want.len() && same(&want, &have)).then_some((true, want.len()))
        }
    }
}

/// The event API Gateway sends `path` to (the most specific match), if any.
fn route_for<'a>(events: &'a [Event], path: &str) -> Vec<&'a Event> {
    let best = events
        .iter()
        .filter_map(|e| specificity(&e.path, path))
        .max();
    events
        .iter()
        .filter(|e| best.is_some() && specificity(&e.path, path) == best)
        .collect()
}

#[tokio::test]
async fn every_route_is_sent_by_the_template_to_the_function_that_serves_it() {
    let t = TestApp::spawn();
    let events = template_events();
    assert!(events.len() > 10, "no routes parsed from template.yaml");
    for function in Function::ALL {
        let router = function_router(t.app.clone(), function);
        let table = function.routes().table();
        assert!(!table.is_empty(), "{function:?} serves no route");
        for row in table {
            let owners = route_for(&events, row.path);
            assert!(
                owners.len() == 1
                    && owners[0].function == function.resource()
                    && (owners[0].method == "ANY" || owners[0].method == row.method.as_str()),
                "{} {} ({function:?}) is sent to {owners:?} by template.yaml",
                row.method,
                row.path
            );
            // A path without parameters answers from the function itself (whatever the
            // caller may do there), never with the 404 of a route it does not have.
            if !row.path.contains('{') {
                let res = router
                    .clone()
                    .oneshot(
                        Request::builder()
                            .method(row.method.clone())
                            .uri(row.path)
                            .body(Body::empty())
                            .unwrap(),
                    )
                    .await
                    .unwrap();
                assert_ne!(
                    res.status(),
                    StatusCode::NOT_FOUND,
                    "{function:?} does not serve {} {}",
                    row.method,
                    row.path
                );
            }
        }
    }
}

#[test]
fn every_template_path_leads_to_the_function_that_owns_it() {
    for event in template_events() {
        let function = Function::ALL
            .into_iter()
            .find(|f| f.resource() == event.function)
            .unwrap_or_else(|| panic!("{} has routes but no Function", event.function));
        let table = function.routes().table();
        match event.path.strip_suffix("/{proxy+}") {
            // A whole area: it is this function's (no other function serves a path in it).
            Some(prefix) => assert_eq!(
                Function::serving(&format!("{prefix}/x")),
                Some(function),
                "{} sends {} to {function:?}",
                event.function,
                event.path
            ),
            None => assert!(
                table.iter().any(|r| r.path == event.path
                    && (event.method == "ANY" || event.method == r.method.as_str())),
                "{} sends {} {} to {function:?}, which has no such route",
                event.function,
                event.method,
                event.path
            ),
        }
    }
}

#[test]
fn only_the_purge_function_may_delete_audit_items_or_destroy_tenant_keys() {
    let all = statements();
    assert!(all.len() > 10, "no IAM statements parsed");
    let (mut purge_deletes_audit, mut purge_destroys_keys) = (false, false);
    for (resource, s) in &all {
        let audit = s.contains("AuditTable");
        let destroys = s.contains("kms:ScheduleKeyDeletion") || s.contains("kms:DisableKey");
        if resource == "PurgeFunction" {
            // The month-end purge: the tenant's whole log, and its key (crypto-shredding).
            purge_deletes_audit |= audit && s.contains("dynamodb:DeleteItem");
            purge_destroys_keys |= destroys && s.contains("myna:stage");
            assert!(
                !s.contains("UpdateItem") || !audit,
                "{resource}: audit entries rewritable:\n{s}"
            );
        } else {
            for forbidden in ["DeleteItem", "UpdateItem", "BatchWriteItem", "dynamodb:*"] {
                assert!(
                    !(audit && s.contains(forbidden)),
                    "{resource}: audit log writable beyond appends:\n{s}"
                );
            }
            assert!(!destroys, "{resource} can destroy keys:\n{s}");
        }
        assert!(
            !s.contains("Action: \"*\"") && !s.contains("Action: '*'"),
            "{resource}: wildcard action:\n{s}"
        );
    }
    assert!(
        purge_deletes_audit && purge_destroys_keys,
        "the purge function lacks its grants"
    );
}

#[test]
fn only_functions_that_seal_or_open_numbers_may_unwrap_the_numbers_key() {
    // Numbers and images: registrants, approval, csv, enrol. The second-factor, collection and
    // account functions unwrap only keys whose encryption context names a secret's purpose
    // (TOTP secrets, the passcode), which the numbers' key never has.
    let numbers = [
        "RegistrantsFunction",
        "ApprovalFunction",
        "CsvFunction",
        "EnrolFunction",
    ];
    let secrets = [
        "SecondFactorFunction",
        "CollectionFunction",
        "AccountFunction",
    ];
    let (mut any_key, mut purpose_keys) = (Vec::new(), Vec::new());
    for (resource, s) in statements() {
        let tenant_keys = s.contains(":key/*") && s.contains("myna:stage");
        if !(tenant_keys && s.contains("kms:Decrypt")) {
            continue;
        }
        if s.contains("kms:EncryptionContext:purpose") {
            assert!(
                secrets.contains(&resource.as_str()),
                "{resource} may unwrap secret keys:\n{s}"
            );
            purpose_keys.push(resource);
        } else {
            assert!(
                numbers.contains(&resource.as_str()),
                "{resource} may unwrap the numbers' data key:\n{s}"
            );
            any_key.push(resource);
        }
    }
    assert_eq!(
        any_key, numbers,
        "the functions that seal numbers need the unwrap"
    );
    assert_eq!(
        purpose_keys, secrets,
        "TOTP login and the account screens need theirs"
    );
}
