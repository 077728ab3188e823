//! 登録情報一覧 (the review page), 登録を終了, logout and the pages after it.

use askama::Template;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::dependents::dep_rows;
use super::steps::{has, sent_back_reason};
use super::{message, Enrollee, Who};
use crate::app::dependents as deps;
use crate::app::enrol::{self, FinishError};
use crate::app::sessions;
use crate::domain::image::DocumentKind;
use crate::web::session::{clear_cookie, REGISTRANT_COOKIE};
use crate::web::{render_status, AppState, WebError};

#[derive(Template)]
#[template(path = "enrol_review.html")]
struct ReviewView {
    who: Who,
    csrf: String,
    rows: Vec<(&'static str, String)>,
    dependents: Vec<Vec<(&'static str, String)>>,
    missing: Vec<String>,
    status: &'static str,
    sent_back: Option<String>,
}

fn done_or_not(images: &serde_json::Map<String, serde_json::Value>, kind: DocumentKind) -> String {
    if has(images, kind) {
        "アップロード済み".into()
    } else {
        "未アップロード".into()
    }
}

async fn review_page(me: &Enrollee, missing: Option<Vec<String>>) -> Result<Response, WebError> {
    let r = &me.registrant;
    let list = deps::list(&me.scope, &r.id).await?;
    let missing = missing.unwrap_or_default();
    let status = if missing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        status,
        &ReviewView {
            who: me.who(),
            csrf: me.csrf(),
            rows: vec![
                ("氏名", r.name()),
                ("メールアドレス", r.email.clone().unwrap_or_default()),
                ("性別", r.person.sex.map_or("", |s| s.label()).to_string()),
                (
                    "生年月日",
                    r.person
                        .birth_date
                        .map(crate::domain::date::format_slash)
                        .unwrap_or_default(),
                ),
                (
                    "マイナンバー",
                    r.person
                        .number
                        .as_ref()
                        .map_or("未入力".to_string(), |n| n.masked()),
                ),
                (
                    "個人番号確認書類",
                    done_or_not(&r.person.images, DocumentKind::NumberProof),
                ),
                (
                    "本人確認書類",
                    done_or_not(&r.person.images, DocumentKind::IdentityProof),
                ),
            ],
            dependents: list.iter().map(dep_rows).collect(),
            missing,
            status: r.person.status.label(),
            sent_back: sent_back_reason(me),
        },
    ))
}

pub(super) async fn review(me: Enrollee) -> Result<Response, WebError> {
    review_page(&me, None).await
}

pub(super) async fn finish(
    State(app): State<AppState>,
    me: Enrollee,
) -> Result<Response, WebError> {
    match enrol::finish(&app, &me.scope, &me.actor(), &me.registrant.id).await {
        Ok(()) => {
            sessions::end(&app, &me.session).await?;
            Ok(Redirect::to("/r/me/done").into_response())
        }
        Err(FinishError::Incomplete(missing)) => review_page(&me, Some(missing)).await,
        Err(FinishError::Conflict) => {
            review_page(&me, Some(vec![FinishError::Conflict.to_string()])).await
        }
        Err(FinishError::Infra(e)) => Err(e.into()),
    }
}

/// ログアウト: ends the registrant's session on the server (a copied cookie is worthless
/// afterwards) and on the phone. The link stays valid: it is how they come back.
pub(super) async fn logout(
    State(app): State<AppState>,
    me: Enrollee,
) -> Result<Response, WebError> {
    sessions::end(&app, &me.session).await?;
    let mut res = Redirect::to("/r/logged-out").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, REGISTRANT_COOKIE));
    Ok(res)
}

pub(super) async fn logged_out() -> Response {
    message(
        StatusCode::OK,
        "ログアウトしました",
        "マイナンバー登録画面からログアウトしました。ここまでに「決定」した内容は保存されています。",
        Some("続きを登録するときは、メールに記載されたURL（またはQRコード）をもう一度開き、設定したパスワードでログインしてください。"),
    )
}

pub(super) async fn done() -> Response {
    message(
        StatusCode::OK,
        "登録完了",
        "マイナンバーの登録作業は正常に完了いたしました。",
        Some("ご協力ありがとうございました。担当者が内容を確認（承認）します。承認されるまでは、同じURLからログインして登録内容を修正できます。"),
    )
}
