//! The HTTP API in front of the functions, as API Gateway (payload format 2.0) does it: the
//! route is chosen from `template.yaml`'s table, the request becomes a v2 event for the
//! function holding that route, and the function's answer becomes the HTTP response. A router,
//! so the test support's [`crate::Browser`] drives it like any other.
//!
//! Not API Gateway's limits (payload sizes, throttling) nor its custom domains.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::runtime::{FunctionProcess, Outcome};
use super::template::Template;

pub struct Gateway {
    pub template: Arc<Template>,
    /// The running functions, in the template's order.
    pub functions: Vec<Arc<FunctionProcess>>,
}

/// Bodies API Gateway passes as text; anything else is base64 (`isBase64Encoded`).
fn is_text(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.starts_with("application/x-www-form-urlencoded")
        || ct.starts_with("application/json")
}

fn plain(status: StatusCode, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "message": message }).to_string()))
        .unwrap()
}

impl Gateway {
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(handle).with_state(self)
    }
}

/// The v2 event of `req` for `route_key`.
fn event(
    req: axum::http::request::Parts,
    body: &[u8],
    source_ip: &str,
    route_key: &str,
    path_parameters: &BTreeMap<String, String>,
) -> Value {
    let path = req.uri.path().to_string();
    let query = req.uri.query().unwrap_or_default().to_string();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &req.headers {
        let value = value.to_str().unwrap_or_default();
        if name == header::COOKIE {
            // Format 2.0 moves cookies out of the headers.
            cookies.extend(value.split(';').map(|c| c.trim().to_string()));
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    headers.insert("host".into(), "localhost".into());
    headers.insert("x-forwarded-for".into(), source_ip.into());
    headers.insert("x-forwarded-proto".into(), "https".into());
    headers.insert("x-forwarded-port".into(), "443".into());
    headers.insert("content-length".into(), body.len().to_string());
    let mut query_parameters: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(&query).unwrap_or_default() {
        query_parameters
            .entry(k)
            .and_modify(|old| {
                old.push(',');
                old.push_str(&v);
            })
            .or_insert(v);
    }
    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let (body, base64) = if body.is_empty() {
        (Value::Null, false)
    } else if is_text(&content_type) {
        (
            Value::String(String::from_utf8_lossy(body).into_owned()),
            false,
        )
    } else {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    };
    let now = time::OffsetDateTime::now_utc();
    let request_id = ulid::Ulid::new().to_string();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": req.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64,
        },
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = json!(query_parameters);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = json!(path_parameters);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// The HTTP response of a function's format 2.0 answer.
fn response(answer: &[u8]) -> Response<Body> {
    let Ok(doc) = serde_json::from_slice::<Value>(answer) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let status = doc["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = doc["body"].as_str().unwrap_or_default();
    let body = if doc["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    let mut res = Response::builder().status(status);
    for (k, v) in doc["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            res = res.header(name, value);
        }
    }
    for c in doc["cookies"].as_array().into_iter().flatten() {
        if let Some(c) = c.as_str() {
            res = res.header(header::SET_COOKIE, c);
        }
    }
    res.body(Body::from(body)).unwrap()
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request<Body>) -> Response<Body> {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    let Some(chosen) = gw.template.route(req.method().as_str(), req.uri().path()) else {
        // No route and no $default: API Gateway's own 404.
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let payload = event(
        parts,
        &bytes,
        &ip,
        &chosen.route_key,
        &chosen.path_parameters,
    );
    let function = &gw.functions[chosen.function];
    match function.invoke(payload).await {
        Ok(Outcome::Response(answer)) => response(&answer),
        Ok(Outcome::Error(e)) => panic!(
            "{} failed on {}: {e}\n{}",
            function.resource,
            chosen.route_key,
            function.log_tail()
        ),
        Err(f) => panic!(
            "{} did not answer {}: {f:?}\n{}",
            function.resource,
            chosen.route_key,
            function.log_tail()
        ),
    }
}
