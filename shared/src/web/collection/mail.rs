//! The mail screens (manual ch.7): 送信リスト, 収集メール一括送信 and the mail to one registrant,
//! and the blast's progress and result.

use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::quick::AddedQuery;
use super::{field, pairs};
use crate::app::collection::{self as coll, Blast, Recipient};
use crate::app::groups;
use crate::app::registrants::{self as regs, Registrant};
use crate::web::session::{Authed, Chrome};
use crate::web::{render, render_status, AppState, WebError};

struct TargetRow {
    id: String,
    status: &'static str,
    status_class: &'static str,
    group: String,
    code: String,
    name: String,
    attribute: &'static str,
    email: String,
    login_lock: bool,
    checked: bool,
}

#[derive(Template)]
#[template(path = "collection_send.html")]
struct SendView {
    chrome: Chrome,
    title: &'static str,
    action: String,
    flash: Option<String>,
    errors: Vec<(&'static str, String)>,
    passcode_set: bool,
    message: String,
    reply_to: String,
    copy: bool,
    rows: Vec<TargetRow>,
    locked: usize,
    /// Rows ticked as the page is served (対象者 N名; the page's script follows the ticks).
    ticked: usize,
    empty_text: &'static str,
}

impl SendView {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// Which mail screen: the manual has three with the same form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    SendList,
    Blast,
    One,
}

impl Screen {
    fn title(self) -> &'static str {
        match self {
            Screen::SendList => "スマホで収集（メール送信）",
            Screen::Blast | Screen::One => "収集メール一括送信",
        }
    }

    fn empty_text(self) -> &'static str {
        match self {
            Screen::SendList => "送信リストに登録者はいません。「スマホで収集（簡易登録）」から登録者を追加してください。",
            Screen::Blast => "収集メールを送る対象者（退職者を除く登録者）はいません。",
            Screen::One => "送信する登録者が見つかりません。",
        }
    }
}

struct Typed {
    message: String,
    reply_to: String,
    copy: bool,
    selected: Option<Vec<String>>,
}

async fn send_page(
    authed: &Authed,
    screen: Screen,
    action: String,
    targets: Vec<Registrant>,
    typed: Typed,
    flash: Option<String>,
    errors: Vec<(&'static str, String)>,
) -> Result<Response, WebError> {
    let groups = groups::list(&authed.scope).await?;
    let group_name = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| groups.iter().find(|g| &g.id == id))
            .map(|g| g.name.clone())
            .unwrap_or_default()
    };
    let rows: Vec<TargetRow> = targets
        .iter()
        .map(|r| TargetRow {
            id: r.id.clone(),
            status: r.person.status.label(),
            status_class: r.person.status.colour().css_class(),
            group: group_name(&r.group_id),
            code: r.code.clone(),
            name: r.name(),
            attribute: r.attribute.label(),
            email: r.email.clone().unwrap_or_default(),
            login_lock: r.login_lock,
            checked: match &typed.selected {
                Some(s) => s.iter().any(|id| id == &r.id),
                None => screen != Screen::Blast || coll::ticked_for_blast(r),
            },
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        status,
        &SendView {
            chrome: Chrome::new(authed, "/registrants"),
            title: screen.title(),
            action,
            flash,
            errors,
            passcode_set: authed.tenant.passcode_set,
            message: typed.message,
            reply_to: typed.reply_to,
            copy: typed.copy,
            locked: rows.iter().filter(|r| r.login_lock).count(),
            ticked: rows.iter().filter(|r| r.checked).count(),
            rows,
            empty_text: screen.empty_text(),
        },
    ))
}

fn blank() -> Typed {
    Typed {
        message: String::new(),
        reply_to: String::new(),
        copy: false,
        selected: None,
    }
}

pub(super) async fn send_list(
    authed: Authed,
    Query(q): Query<AddedQuery>,
) -> Result<Response, WebError> {
    let targets = coll::send_list(&authed.scope).await?;
    let flash = q.added.map(|n| format!("{n}件の登録者を追加しました。"));
    send_page(
        &authed,
        Screen::SendList,
        "/collection/send-list".into(),
        targets,
        blank(),
        flash,
        Vec::new(),
    )
    .await
}

pub(super) async fn blast_form(authed: Authed) -> Result<Response, WebError> {
    let targets = coll::blast_candidates(&authed.scope).await?;
    send_page(
        &authed,
        Screen::Blast,
        "/collection/blast".into(),
        targets,
        blank(),
        None,
        Vec::new(),
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct MailQuery {
    ids: String,
    message: String,
}

fn split_ids(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .take(1000)
        .map(str::to_string)
        .collect()
}

pub(super) async fn mail_form(
    authed: Authed,
    Query(q): Query<MailQuery>,
) -> Result<Response, WebError> {
    let ids = split_ids(&q.ids);
    let targets = regs::get_many(&authed.scope, &ids).await?;
    let action = format!("/collection/mail?ids={}", ids.join(","));
    send_page(
        &authed,
        Screen::One,
        action,
        targets,
        Typed {
            message: q.message,
            ..blank()
        },
        None,
        Vec::new(),
    )
    .await
}

/// Validates the mail form and starts the blast to the ticked registrants among `targets`.
async fn submit(
    app: &AppState,
    authed: &Authed,
    screen: Screen,
    action: String,
    targets: Vec<Registrant>,
    raw: &[u8],
) -> Result<Response, WebError> {
    let p = pairs(raw);
    let selected: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "ids")
        .map(|(_, v)| v.clone())
        .collect();
    let typed = Typed {
        message: field(&p, "message").to_string(),
        reply_to: field(&p, "reply_to").to_string(),
        copy: field(&p, "copy") == "on",
        selected: Some(selected.clone()),
    };
    let chosen: Vec<Registrant> = targets
        .iter()
        .filter(|r| selected.iter().any(|id| id == &r.id))
        .cloned()
        .collect();
    let copy_to = typed.copy.then(|| authed.user.email.clone());
    let options =
        match coll::validate_mail_options(&typed.message, &typed.reply_to, copy_to.as_deref()) {
            Ok(o) if !chosen.is_empty() => o,
            Ok(_) => {
                let errors = vec![("ids", "送信する対象者を選択してください。".to_string())];
                return send_page(authed, screen, action, targets, typed, None, errors).await;
            }
            Err(errors) => {
                return send_page(authed, screen, action, targets, typed, None, errors).await;
            }
        };
    let id = coll::start_blast(app, &authed.scope, &authed.actor(), options, &chosen).await?;
    Ok(Redirect::to(&format!("/collection/blasts/{id}")).into_response())
}

pub(super) async fn send_list_submit(
    State(app): State<AppState>,
    authed: Authed,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    let targets = coll::send_list(&authed.scope).await?;
    submit(
        &app,
        &authed,
        Screen::SendList,
        "/collection/send-list".into(),
        targets,
        &raw,
    )
    .await
}

pub(super) async fn blast_submit(
    State(app): State<AppState>,
    authed: Authed,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    let targets = coll::blast_candidates(&authed.scope).await?;
    submit(
        &app,
        &authed,
        Screen::Blast,
        "/collection/blast".into(),
        targets,
        &raw,
    )
    .await
}

pub(super) async fn mail_submit(
    State(app): State<AppState>,
    authed: Authed,
    Query(q): Query<MailQuery>,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    let ids = split_ids(&q.ids);
    let targets = regs::get_many(&authed.scope, &ids).await?;
    let action = format!("/collection/mail?ids={}", ids.join(","));
    submit(&app, &authed, Screen::One, action, targets, &raw).await
}

#[derive(Template)]
#[template(path = "collection_blast.html")]
struct BlastView {
    chrome: Chrome,
    blast: Blast,
    failures: Vec<Recipient>,
    sent_names: Vec<Recipient>,
}

pub(super) async fn blast_result(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (blast, recipients) = coll::load_blast(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    // A blast that stands still is handed to the worker again (the page never sends).
    coll::continue_stalled(&app, &authed.scope, &blast, &recipients).await?;
    let (failures, sent_names) = if blast.done {
        recipients
            .into_iter()
            .filter(|r| {
                matches!(
                    r.state,
                    coll::RecipientState::Failed | coll::RecipientState::Sent
                )
            })
            .partition(|r| r.state == coll::RecipientState::Failed)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut res = render(&BlastView {
        chrome: Chrome::new(&authed, "/registrants"),
        blast: blast.clone(),
        failures,
        sent_names,
    });
    if !blast.done {
        // The page refreshes itself while the worker sends.
        res.headers_mut()
            .insert("refresh", axum::http::HeaderValue::from_static("2"));
    }
    Ok(res)
}
