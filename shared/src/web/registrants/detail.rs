//! 登録者詳細 (manual ch.11): the record with its dependents and images. Its 削除 button leads to
//! 登録者削除 (`web::disposal`).

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;

use crate::app::dependents as deps;
use crate::app::groups;
use crate::domain::date::{format_slash, to_wareki};
use crate::domain::person::Sex;
use crate::domain::role::Permission;
use crate::domain::status::Status;
use crate::web::flash::Flash;
use crate::web::images::{image_rows, ImageRow};
use crate::web::records::registrant;
use crate::web::session::{Authed, Chrome};
use crate::web::{render, WebError};

#[derive(Template)]
#[template(path = "registrant_detail.html")]
struct DetailView {
    chrome: Chrome,
    flash: Option<&'static str>,
    id: String,
    name: String,
    rows: Vec<(&'static str, String)>,
    dependents: Vec<DepRow>,
    images: Vec<ImageRow>,
    can_edit: bool,
    can_approve: bool,
    can_dispose: bool,
    pending: bool,
}

struct DepRow {
    id: String,
    has_number: bool,
    pending: bool,
    images: Vec<ImageRow>,
    images_required: bool,
    status: &'static str,
    status_class: &'static str,
    name: String,
    relationship: &'static str,
    sex: &'static str,
    kind: &'static str,
    number: String,
}

pub(super) async fn detail(
    authed: Authed,
    Path(id): Path<String>,
    Query(flash): Query<Flash>,
) -> Result<Response, WebError> {
    let r = registrant(&authed, &id).await?;
    let group = match &r.group_id {
        Some(g) => groups::get(&authed.scope, g)
            .await?
            .map(|g| g.name)
            .unwrap_or_default(),
        None => "（なし）".into(),
    };
    let date = |d: Option<time::Date>| {
        d.map(|d| {
            format!(
                "{}（{}）",
                format_slash(d),
                to_wareki(d).unwrap_or_default()
            )
        })
        .unwrap_or_default()
    };
    let rows = vec![
        ("ステータス", r.person.status.label().to_string()),
        ("グループ", group),
        ("社員コード", r.code.clone()),
        ("氏名", r.name()),
        ("フリガナ", r.kana()),
        ("属性", r.attribute.label().to_string()),
        ("メールアドレス", r.email.clone().unwrap_or_default()),
        (
            "ログインパスワード",
            if r.password_hash.is_some() {
                "設定済み".into()
            } else {
                "未設定".into()
            },
        ),
        (
            "ログインロック",
            if r.login_lock {
                "ロック中".into()
            } else {
                "なし".into()
            },
        ),
        (
            "性別",
            r.person
                .sex
                .map_or(String::new(), |s| s.label().to_string()),
        ),
        ("生年月日", date(r.person.birth_date)),
        ("入社日", date(r.hire_date)),
        ("退職日", date(r.retired_on)),
        ("マイナンバー削除予定日", date(r.delete_on)),
        (
            "最終申告書年",
            r.last_declaration_year
                .map_or_else(String::new, |y| format!("{y}年")),
        ),
        ("備考", r.note.clone()),
        (
            "マイナンバー",
            r.person
                .number
                .as_ref()
                .map_or("未登録".into(), |n| n.masked()),
        ),
        ("扶養家族", format!("{}人", r.dependents)),
    ]
    .into_iter()
    .chain(crate::web::person::review_rows(
        r.person.status,
        &r.person.review,
    ))
    .collect();
    Ok(render(&DetailView {
        chrome: Chrome::new(&authed, "/registrants"),
        flash: flash.text(),
        id: r.id.clone(),
        name: r.name(),
        rows,
        dependents: deps::list(&authed.scope, &id)
            .await?
            .into_iter()
            .map(|d| DepRow {
                has_number: d.person.number.is_some(),
                pending: d.person.status == Status::Pending,
                status: d.person.status.label(),
                status_class: d.person.status.colour().css_class(),
                name: d.name(),
                relationship: d.relationship.label(),
                sex: d.person.sex.map_or("", Sex::label),
                kind: d.kind.label(),
                number: d
                    .person
                    .number
                    .as_ref()
                    .map_or("未登録".into(), |n| n.masked()),
                images: image_rows(
                    &format!("/registrants/{id}/dependents/{}", d.id),
                    &d.person.images,
                ),
                images_required: d.kind.requires_images(),
                id: d.id,
            })
            .collect(),
        images: image_rows(&format!("/registrants/{}", r.id), &r.person.images),
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
        can_approve: authed.user.role.allows(Permission::Approve),
        can_dispose: authed.allows(Permission::DisposeNumbers),
        pending: r.person.status == Status::Pending,
    }))
}
