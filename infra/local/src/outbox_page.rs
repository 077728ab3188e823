//! `/dev/outbox`: the mails the local product "sent" (OTP codes, links), newest first.
//! Exists only in `myna-local`; no deployed function has it.

use std::sync::Arc;

use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use myna::adapters::embedded::Outbox;
use myna::web::AppState;

pub fn router(outbox: Arc<Outbox>) -> Router<AppState> {
    Router::new().route("/dev/outbox", get(move || page(outbox.clone())))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(outbox: Arc<Outbox>) -> Response {
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
         <p class=\"small\">ローカル実行時のみ表示されます。新しい順に最大200件。</p>\
         <table class=\"outbox\"><tr><th>日時</th><th>宛先</th><th>件名</th><th>本文</th></tr>{rows}</table>\
         </main></body></html>"
    ))
    .into_response()
}
