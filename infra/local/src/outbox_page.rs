//! `/dev/outbox`: the mails the local product "sent" (OTP codes, links), newest first, for
//! trying the product out. Exists only in `myna-local` (no deployed function has it), only when
//! no SMTP server is configured, only on a loopback listener (main.rs decides), and only for
//! whoever presents the random token printed at start-up.
//!
//! `/dev/outbox?token=…` checks the token in constant time, keeps it in an HttpOnly,
//! SameSite=Strict cookie scoped to this path and redirects to the bare path, so the token
//! leaves the address bar and the history. Anything else answers the product's ordinary 404:
//! a prober cannot tell that the page exists.

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use myna::adapters::embedded::Outbox;
use myna::web::{AppState, WebError};

pub const PATH: &str = "/dev/outbox";
const COOKIE: &str = "myna_outbox";

/// The outbox page and the one token that opens it.
#[derive(Clone)]
struct Gate {
    outbox: Arc<Outbox>,
    token: Arc<str>,
}

pub fn router(outbox: Arc<Outbox>, token: String) -> Router<AppState> {
    let gate = Gate {
        outbox,
        token: token.into(),
    };
    Router::new().route(
        PATH,
        // The raw query: a malformed one must not answer differently from a 404. The token is
        // URL-safe base64, so it needs no decoding.
        get(move |RawQuery(query): RawQuery, headers: HeaderMap| {
            let gate = gate.clone();
            async move {
                let token = query
                    .as_deref()
                    .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
                open(&gate, token, &headers)
            }
        }),
    )
}

fn open(gate: &Gate, query_token: Option<&str>, headers: &HeaderMap) -> Response {
    let valid = |candidate: &str| myna::crypto::ct_eq(candidate.as_bytes(), gate.token.as_bytes());
    if let Some(token) = query_token {
        if !valid(token) {
            return WebError::NotFound.into_response();
        }
        let cookie = format!("{COOKIE}={token}; Path={PATH}; HttpOnly; SameSite=Strict");
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, HeaderValue::from_static(PATH)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            [(header::SET_COOKIE, cookie)],
        )
            .into_response();
    }
    let presented = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && valid(value));
    if !presented {
        return WebError::NotFound.into_response();
    }
    let mut page = page(&gate.outbox);
    let headers = page.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The mails carry registration links: opening one must not tell the page's address.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    page
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(outbox: &Outbox) -> Response {
    let mails = match outbox.list() {
        Ok(m) => m,
        Err(e) => {
            return Html(format!(
                "<p>outbox unreadable: {}</p>",
                escape(&e.to_string())
            ))
            .into_response()
        }
    };
    let tokyo = time::macros::offset!(+9);
    let fmt = time::macros::format_description!("[year]/[month]/[day] [hour]:[minute]:[second]");
    let mut rows = String::new();
    for m in mails.iter().take(200) {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            m.sent_at.to_offset(tokyo).format(&fmt).unwrap_or_default(),
            escape(&m.mail.to),
            escape(&m.mail.subject),
            escape(&m.mail.body)
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"4\">送信済みのメールはありません。</td></tr>");
    }
    Html(format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>送信メール（開発用）</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"public-main\">\
         <h1 class=\"page-title\">送信メール（開発用 outbox）</h1>\
         <p class=\"small\">メールサーバ（SMTP）を設定していないローカル実行時だけ、起動時に表示された\
         アドレスから開けます。新しい順に最大200件。</p>\
         <table class=\"outbox\"><tr><th>日時</th><th>宛先</th><th>件名</th><th>本文</th></tr>{rows}</table>\
         </main></body></html>"
    ))
    .into_response()
}
