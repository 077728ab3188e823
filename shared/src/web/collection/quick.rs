//! スマホで収集（簡易登録） (manual ch.6): ten rows a page, 一括選択, nothing saved until the page
//! is valid.

use askama::Template;
use axum::extract::{Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{field, pairs};
use crate::app::collection::{self as coll, QuickRow, QUICK_ROWS};
use crate::app::registrants::{self as regs, SaveError};
use crate::web::session::{Authed, Chrome};
use crate::web::{render_status, AppState, WebError};

struct QuickRowView {
    row: QuickRow,
    errors: Vec<(&'static str, String)>,
}

impl QuickRowView {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "collection_quick.html")]
struct QuickView {
    chrome: Chrome,
    flash: Option<String>,
    error: Option<String>,
    room: u32,
    bulk_attribute: String,
    attributes: Vec<(&'static str, &'static str)>,
    rows: Vec<QuickRowView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AddedQuery {
    pub(super) added: Option<usize>,
}

async fn quick_page(
    authed: &Authed,
    flash: Option<String>,
    error: Option<String>,
    bulk_attribute: String,
    rows: Vec<QuickRowView>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let room = regs::room_left(&authed.scope, &authed.tenant).await?;
    Ok(render_status(
        status,
        &QuickView {
            chrome: Chrome::new(authed, "/registrants"),
            flash,
            error,
            room,
            bulk_attribute,
            attributes: crate::web::choices::attributes(),
            rows,
        },
    ))
}

pub(super) async fn quick_form(
    authed: Authed,
    Query(q): Query<AddedQuery>,
) -> Result<Response, WebError> {
    let rows = (0..QUICK_ROWS)
        .map(|_| QuickRowView {
            row: QuickRow::default(),
            errors: Vec::new(),
        })
        .collect();
    let flash = q
        .added
        .map(|n| format!("{n}件の登録者を追加しました。続けて入力できます。"));
    quick_page(&authed, flash, None, String::new(), rows, StatusCode::OK).await
}

pub(super) async fn quick_submit(
    State(app): State<AppState>,
    authed: Authed,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    let p = pairs(&raw);
    let rows: Vec<QuickRow> = (0..QUICK_ROWS)
        .map(|i| QuickRow {
            attribute: field(&p, &format!("attribute_{i}")).to_string(),
            family_name: field(&p, &format!("family_name_{i}")).to_string(),
            given_name: field(&p, &format!("given_name_{i}")).to_string(),
            email: field(&p, &format!("email_{i}")).to_string(),
        })
        .collect();
    let bulk = field(&p, "attribute_all").to_string();
    let to_list = field(&p, "next") == "list";
    let refuse = |errors: Vec<coll::CellError>, message: String| {
        let rows = rows
            .iter()
            .enumerate()
            .map(|(i, r)| QuickRowView {
                row: r.clone(),
                errors: errors
                    .iter()
                    .filter(|(row, _, _)| *row == i)
                    .map(|(_, f, m)| (*f, m.clone()))
                    .collect(),
            })
            .collect::<Vec<_>>();
        (rows, message)
    };
    let valid = match coll::validate_quick(&rows, &bulk) {
        Ok(v) => v,
        Err(errors) => {
            let (rows, message) = refuse(
                errors,
                "入力内容に誤りがあります。赤く表示された項目を確認してください。（まだ保存されていません）".into(),
            );
            return quick_page(
                &authed,
                None,
                Some(message),
                bulk,
                rows,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if valid.is_empty() {
        if to_list {
            return Ok(Redirect::to("/collection/send-list").into_response());
        }
        let (rows, message) = refuse(Vec::new(), "登録者を1人以上入力してください。".into());
        return quick_page(
            &authed,
            None,
            Some(message),
            bulk,
            rows,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let n = valid.len();
    match coll::save_quick(
        &app,
        &authed.scope,
        &authed.tenant,
        &authed.actor(),
        valid.into_iter().map(|(_, v)| v).collect(),
    )
    .await
    {
        Ok(_) if to_list => {
            Ok(Redirect::to(&format!("/collection/send-list?added={n}")).into_response())
        }
        Ok(_) => Ok(Redirect::to(&format!("/collection/quick?added={n}")).into_response()),
        Err(SaveError::PlanLimit(e)) => {
            let (rows, _) = refuse(Vec::new(), String::new());
            quick_page(
                &authed,
                None,
                Some(format!(
                    "{e} 入力した登録者は保存されていません。人数を減らすか、プランを変更してください。"
                )),
                bulk,
                rows,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(e) => {
            let (rows, _) = refuse(Vec::new(), String::new());
            quick_page(
                &authed,
                None,
                Some(e.to_string()),
                bulk,
                rows,
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}
