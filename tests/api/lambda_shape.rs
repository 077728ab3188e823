//! The deployed functions' shape: API Gateway HTTP API (payload 2.0) events go through
//! `lambda_http`'s adapter, exactly as `lambda_http::run` does, into the same routers the
//! functions run (`web::functions::function_router(app, Function::Login)`, …).

use axum::Router;
use base64::{engine::general_purpose::STANDARD, Engine};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use myna::app::Config;
use myna::web::functions::{function_router, Function};
use myna_tests::fixtures::PW;
use myna_tests::{csrf_in, test_config, TestApp};
use serde_json::{json, Value};

fn lambda_config() -> Config {
    Config {
        secure_cookies: true,
        trust_forwarded_for: true,
        ..test_config()
    }
}

/// An HTTP API v2 event as API Gateway sends it (form bodies arrive base64-encoded).
fn event(method: &str, path: &str, cookies: &[String], form: Option<&str>) -> Value {
    let mut headers = json!({
        "host": "myna.example.jp",
        "user-agent": "Mozilla/5.0",
        "x-forwarded-for": "198.51.100.200, 203.0.113.77",
        "x-forwarded-proto": "https",
    });
    if form.is_some() {
        headers["content-type"] = json!("application/x-www-form-urlencoded");
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "cookies": cookies,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "myna.example.jp",
            "domainPrefix": "myna",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.77", "userAgent": "Mozilla/5.0" },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:14:00:00 +0000",
            "timeEpoch": 1795000000000u64
        },
        "body": form.map(|f| STANDARD.encode(f)),
        "isBase64Encoded": form.is_some()
    })
}

async fn invoke(router: &Router, event: Value) -> Value {
    let request: LambdaRequest = serde_json::from_value(event).expect("a valid HTTP API event");
    let mut adapter = Adapter::from(router.clone());
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .expect("handler");
    serde_json::to_value(&response).expect("serialisable response")
}

fn cookie_pairs(res: &Value, jar: &mut Vec<String>) {
    for c in res["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let pair = c.split(';').next().unwrap_or_default().to_string();
        let name = pair.split('=').next().unwrap_or_default().to_string();
        jar.retain(|p| !p.starts_with(&format!("{name}=")));
        if !c.contains("Max-Age=0") {
            jar.push(pair);
        }
    }
}

/// A form body as a browser encodes it.
fn form(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

#[tokio::test]
async fn signup_login_and_home_work_through_http_api_events() {
    let t = TestApp::spawn_with(lambda_config());
    let auth = function_router(t.app.clone(), Function::Login);
    let second = function_router(t.app.clone(), Function::SecondFactor);
    let home = function_router(t.app.clone(), Function::Home);
    let mut jar = Vec::new();

    // GET: a text page, cookies moved to the v2 `cookies` list with their attributes.
    let page = invoke(&auth, event("GET", "/signup", &jar, None)).await;
    assert_eq!(page["statusCode"], 200);
    assert_eq!(page["isBase64Encoded"], false);
    let set = page["cookies"][0].as_str().unwrap();
    assert!(
        set.starts_with("myna_csrf=") && set.contains("Secure") && set.contains("SameSite=Strict")
    );
    cookie_pairs(&page, &mut jar);
    let token = csrf_in(page["body"].as_str().unwrap()).unwrap();

    // POST: a base64 form body; a redirect.
    let signup = form(&[
        ("csrf", &token),
        ("company_name", "株式会社ラムダ"),
        ("family_name", "山田"),
        ("given_name", "太郎"),
        ("email", "lambda@example.jp"),
        ("password", PW),
        ("password_confirm", PW),
    ]);
    let done = invoke(&auth, event("POST", "/signup", &jar, Some(&signup))).await;
    assert_eq!(done["statusCode"], 303, "{done}");
    assert_eq!(done["headers"]["location"], "/signup/done");

    let login = form(&[
        ("csrf", &token),
        ("email", "lambda@example.jp"),
        ("password", PW),
    ]);
    let res = invoke(&auth, event("POST", "/login", &jar, Some(&login))).await;
    assert_eq!(res["headers"]["location"], "/login/otp", "{res}");
    cookie_pairs(&res, &mut jar);
    assert!(jar.iter().any(|c| c.starts_with("myna_sid=")));

    let otp_page = invoke(&second, event("GET", "/login/otp", &jar, None)).await;
    let token = csrf_in(otp_page["body"].as_str().unwrap()).unwrap();
    let code = t.latest_otp("lambda@example.jp").unwrap();
    let otp = form(&[("csrf", &token), ("code", &code)]);
    let res = invoke(&second, event("POST", "/login/otp", &jar, Some(&otp))).await;
    assert_eq!(res["headers"]["location"], "/home", "{res}");
    cookie_pairs(&res, &mut jar);

    // Another function (the home group) accepts the session the auth function created.
    let page = invoke(&home, event("GET", "/home", &jar, None)).await;
    assert_eq!(page["statusCode"], 200);
    assert!(page["body"].as_str().unwrap().contains("株式会社ラムダ"));
    assert_eq!(page["headers"]["cache-control"], "no-store");

    // The address API Gateway saw (the last X-Forwarded-For entry) is what the audit log holds.
    let scope = t.scope_of("lambda@example.jp").await;
    let (entries, _) = t
        .app
        .audit
        .list(Some(scope.tenant()), 10, None)
        .await
        .unwrap();
    let login = entries.iter().find(|e| e.action == "auth.login").unwrap();
    assert_eq!(login.ip.as_deref(), Some("203.0.113.77"));
}

#[tokio::test]
async fn a_binary_response_is_base64_encoded() {
    let t = TestApp::spawn_with(lambda_config());
    let auth = function_router(t.app.clone(), Function::Login);
    let res = invoke(&auth, event("GET", "/static/favicon.png", &[], None)).await;
    assert_eq!(res["statusCode"], 200);
    assert_eq!(res["headers"]["content-type"], "image/png");
    assert_eq!(res["isBase64Encoded"], true);
    let png = STANDARD.decode(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn a_route_of_another_group_is_not_served_by_this_function() {
    let t = TestApp::spawn_with(lambda_config());
    let auth = function_router(t.app.clone(), Function::Login);
    let res = invoke(&auth, event("GET", "/home", &[], None)).await;
    assert_eq!(res["statusCode"], 404);
    assert!(res["body"]
        .as_str()
        .unwrap()
        .contains("ページが見つかりません"));
}
