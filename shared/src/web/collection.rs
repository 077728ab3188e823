//! マイナンバー収集ツール (manual ch.6 スマホで収集, ch.7 収集メール, ch.8 QRコード生成): the
//! 簡易登録 grid, the 送信リスト, 収集メール一括送信, the mail to one registrant, the blast's
//! progress and result, the printable QR page and the company passcode. Served by the
//! registrants function.

use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::session::{Authed, Chrome};
use super::{render, render_status, AppState, WebError};
use crate::app::collection::{self as coll, Blast, QuickRow, Recipient, QUICK_ROWS};
use crate::app::groups;
use crate::app::registrants::{self as regs, Registrant, SaveError};
use crate::app::tenants;
use crate::domain::role::Permission;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/collection/quick", get(quick_form).post(quick_submit))
        .route(
            "/collection/send-list",
            get(send_list).post(send_list_submit),
        )
        .route("/collection/blast", get(blast_form).post(blast_submit))
        .route("/collection/mail", get(mail_form).post(mail_submit))
        .route("/collection/blasts/{id}", get(blast_result))
        .route(
            "/collection/passcode",
            get(passcode_form).post(passcode_submit),
        )
        .route("/registrants/{id}/qr", get(qr_confirm).post(qr_page))
}

/// Pairs from a urlencoded body (repeated names kept).
fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(raw).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

// ---------------------------------------------------------------- 簡易登録

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
struct AddedQuery {
    added: Option<usize>,
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
            attributes: super::choices::attributes(),
            rows,
        },
    ))
}

async fn quick_form(authed: Authed, Query(q): Query<AddedQuery>) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
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

async fn quick_submit(
    State(app): State<AppState>,
    authed: Authed,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    authed.require(Permission::EditRegistrants)?;
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

// ---------------------------------------------------------------- mail forms

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

async fn send_list(authed: Authed, Query(q): Query<AddedQuery>) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
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

async fn blast_form(authed: Authed) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
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
struct MailQuery {
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

async fn mail_form(authed: Authed, Query(q): Query<MailQuery>) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
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
    authed.require(Permission::SendCollectionMail)?;
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

async fn send_list_submit(
    State(app): State<AppState>,
    authed: Authed,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
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

async fn blast_submit(
    State(app): State<AppState>,
    authed: Authed,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
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

async fn mail_submit(
    State(app): State<AppState>,
    authed: Authed,
    Query(q): Query<MailQuery>,
    RawForm(raw): RawForm,
) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
    let ids = split_ids(&q.ids);
    let targets = regs::get_many(&authed.scope, &ids).await?;
    let action = format!("/collection/mail?ids={}", ids.join(","));
    submit(&app, &authed, Screen::One, action, targets, &raw).await
}

// ---------------------------------------------------------------- progress and result

#[derive(Template)]
#[template(path = "collection_blast.html")]
struct BlastView {
    chrome: Chrome,
    blast: Blast,
    failures: Vec<Recipient>,
    sent_names: Vec<Recipient>,
}

async fn blast_result(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
    let (blast, recipients) = coll::load_blast(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
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

/// One audit entry for an administrator's action on this page group.
async fn audit(
    app: &AppState,
    authed: &Authed,
    action: &str,
    target: Option<&str>,
    detail: String,
) -> Result<(), WebError> {
    let a = authed.actor();
    app.audit()
        .record(crate::ports::audit::AuditEvent {
            tenant_id: Some(authed.scope.tenant().to_string()),
            actor_id: Some(a.user_id),
            actor_name: Some(a.name),
            action: action.into(),
            target: target.map(str::to_string),
            detail,
            ip: Some(a.ip),
        })
        .await
        .map_err(crate::app::InfraError::from)?;
    Ok(())
}

// ---------------------------------------------------------------- QR code

#[derive(Template)]
#[template(path = "registrant_qr_confirm.html")]
struct QrConfirmView {
    chrome: Chrome,
    id: String,
    name: String,
    has_link: bool,
}

async fn qr_confirm(authed: Authed, Path(id): Path<String>) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
    let r = regs::get(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let has_link = coll::link_expiry(&authed.scope, &id).await?.is_some();
    Ok(render(&QrConfirmView {
        chrome: Chrome::new(&authed, "/registrants"),
        id: r.id.clone(),
        name: r.name(),
        has_link,
    }))
}

#[derive(Template)]
#[template(path = "registrant_qr.html")]
struct QrView {
    company: String,
    name: String,
    svg: String,
    url: String,
    expires: String,
    passcode_set: bool,
    locked: bool,
}

async fn qr_page(
    State(app): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    authed.require(Permission::SendCollectionMail)?;
    let r = regs::get(&authed.scope, &id)
        .await?
        .ok_or(WebError::NotFound)?;
    let link = coll::issue_link(&app, &authed.scope, &r.id).await?;
    audit(
        &app,
        &authed,
        "collection.qr",
        Some(&r.id),
        format!("登録者「{}」のQRコード生成", r.name()),
    )
    .await?;
    let jst = link.expires_at.to_offset(time::macros::offset!(+9));
    Ok(render(&QrView {
        company: authed.tenant.company_name.clone(),
        name: r.name(),
        svg: super::qr::svg(&link.url).ok_or(WebError::Internal)?,
        url: link.url,
        expires: format!("{}年{}月{}日", jst.year(), u8::from(jst.month()), jst.day()),
        passcode_set: authed.tenant.passcode_set,
        locked: r.login_lock,
    }))
}

// ---------------------------------------------------------------- company passcode

#[derive(Template)]
#[template(path = "collection_passcode.html")]
struct PasscodeView {
    chrome: Chrome,
    passcode_set: bool,
    error: Option<String>,
    flash: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneQuery {
    done: Option<String>,
}

async fn passcode_form(authed: Authed, Query(q): Query<DoneQuery>) -> Result<Response, WebError> {
    authed.require(Permission::EditContractor)?;
    Ok(render(&PasscodeView {
        chrome: Chrome::new(&authed, "/registrants"),
        passcode_set: authed.tenant.passcode_set,
        error: None,
        flash: q
            .done
            .map(|_| "パスコードを設定しました。登録者へ事前にパスコードを通知してください。"),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasscodeForm {
    passcode: String,
}

/// Checks a company passcode: 4 to 20 half-width letters or digits.
pub fn check_passcode(raw: &str) -> Result<&str, &'static str> {
    let p = raw.trim();
    if p.len() < 4 || p.len() > 20 || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("パスコードは半角英数字4〜20文字で入力してください。");
    }
    Ok(p)
}

async fn passcode_submit(
    State(app): State<AppState>,
    authed: Authed,
    axum::Form(f): axum::Form<PasscodeForm>,
) -> Result<Response, WebError> {
    authed.require(Permission::EditContractor)?;
    let passcode = match check_passcode(&f.passcode) {
        Ok(p) => p,
        Err(m) => {
            return Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &PasscodeView {
                    chrome: Chrome::new(&authed, "/registrants"),
                    passcode_set: authed.tenant.passcode_set,
                    error: Some(m.into()),
                    flash: None,
                },
            ))
        }
    };
    tenants::set_passcode(&app, &authed.scope, Some(passcode)).await?;
    audit(
        &app,
        &authed,
        "tenant.passcode",
        None,
        "企業パスコードの設定".into(),
    )
    .await?;
    Ok(Redirect::to("/collection/passcode?done=1").into_response())
}
