//! マイナンバー管理 (manual ch.6, 10, 11): the registrant list with search and paging, add /
//! edit with the 入力確認 → 登録 step and detail (deletion is `web::disposal`). グループ管理 is `web::groups`, 扶養家族 and
//! document images are `web::dependents`; all three are served by the registrants function.
//!
//! This file: the routes and the list; `form` (追加 / 編集 with 入力確認), `detail` (詳細).

use super::access::{Access, Routes};
use super::flash::Flash;
use super::session::{Authed, Chrome};
use super::{render, AppState, WebError};
use crate::app::groups::Group;
use crate::app::registrants::{self as regs, Filter, ListPage};
use crate::domain::date::format_slash;
use crate::domain::role::Permission;
use crate::domain::status::Status;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

mod detail;
mod form;
use detail::detail;
use form::{edit_form, edit_submit, new_form, new_submit};

/// マイナンバー管理's own pages: the list, 新規追加, detail, 編集 and 削除.
pub fn routes() -> Routes {
    let view = Access::Can(Permission::ViewRegistrants);
    let edit = Access::Can(Permission::EditRegistrants);
    Routes::new()
        .get("/registrants", view, list)
        .get("/registrants/new", edit, new_form)
        .post("/registrants/new", edit, new_submit)
        .get("/registrants/{id}", view, detail)
        .get("/registrants/{id}/edit", edit, edit_form)
        .post("/registrants/{id}/edit", edit, edit_submit)
}

// ---------------------------------------------------------------- list

struct Row {
    id: String,
    has_number: bool,
    pending: bool,
    status: &'static str,
    status_class: &'static str,
    dep_status: &'static str,
    dep_status_class: &'static str,
    group: String,
    code: String,
    name: String,
    kana: String,
    attribute: &'static str,
    email: String,
    dependents: i64,
    retired: bool,
    retired_on: String,
    delete_on: String,
    delete_due: bool,
}

#[derive(Template)]
#[template(path = "registrants_list.html")]
struct ListView {
    chrome: Chrome,
    flash: Option<&'static str>,
    filter: Filter,
    filtered: bool,
    search_open: bool,
    page: ListPage,
    rows: Vec<Row>,
    groups: Vec<Group>,
    attributes: Vec<(&'static str, &'static str)>,
    statuses: Vec<(&'static str, &'static str)>,
    can_edit: bool,
    can_reveal: bool,
    can_approve: bool,
    /// 削除 in マイナンバー操作 and アクション (manual ch.12).
    can_dispose: bool,
    first_href: String,
    /// CSVダウンロード of what this filter selects (all pages).
    csv_href: String,
    prev_href: String,
    next_href: String,
    last_href: String,
}

fn page_href(filter: &Filter, page: usize) -> String {
    let mut f = filter.clone();
    f.page = page.to_string();
    format!(
        "/registrants?{}",
        serde_urlencoded::to_string(&f).unwrap_or_default()
    )
}

async fn list(
    State(app): State<AppState>,
    authed: Authed,
    Query(mut filter): Query<Filter>,
    Query(flash): Query<Flash>,
) -> Result<Response, WebError> {
    let today = regs::today(app.now());
    filter.today = Some(today);
    let page = regs::list(&authed.scope, &filter).await?;
    // The search form's groups come with the page (the directory holds every group's name),
    // in the order `groups::list` gives them: by id, which is by creation.
    let mut groups: Vec<Group> = page
        .groups
        .iter()
        .map(|(id, name)| Group {
            id: id.clone(),
            name: name.clone(),
            created_at: 0,
        })
        .collect();
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    let date = |d: Option<time::Date>| d.map(format_slash).unwrap_or_default();
    let rows = page
        .rows
        .iter()
        .map(|r| Row {
            id: r.id.clone(),
            has_number: r.has_number,
            pending: r.status == Status::Pending,
            status: r.status.label(),
            status_class: r.status.colour().css_class(),
            dep_status: r.dependents_status.map_or("", Status::label),
            dep_status_class: r.dependents_status.map_or("", |s| s.colour().css_class()),
            group: r
                .group_id
                .as_ref()
                .and_then(|g| page.groups.get(g))
                .cloned()
                .unwrap_or_default(),
            code: r.code.clone(),
            name: r.name(),
            kana: r.kana(),
            attribute: r.attribute.short_label(),
            email: r.email.clone().unwrap_or_default(),
            dependents: r.dependents,
            retired: r.is_retired(),
            retired_on: date(r.retired_on),
            delete_on: date(r.delete_on),
            delete_due: r.is_due(Some(today)),
        })
        .collect();
    let filtered = !(filter.code.is_empty()
        && filter.name.is_empty()
        && filter.attribute.is_empty()
        && filter.email.is_empty()
        && filter.status.is_empty()
        && filter.retired.is_empty()
        && filter.group.is_empty()
        && filter.retired_month.is_empty()
        && filter.delete_month.is_empty()
        && filter.due.is_empty());
    Ok(render(&ListView {
        chrome: Chrome::new(&authed, "/registrants"),
        // Folded once there are rows to look at; open while it is the page's only content or
        // shows the conditions in use.
        search_open: filtered || page.rows.is_empty(),
        flash: flash.text(),
        first_href: page_href(&filter, 1),
        csv_href: page_href(&filter, 1).replacen("/registrants?", "/registrants/csv?", 1),
        prev_href: page_href(&filter, page.page.saturating_sub(1).max(1)),
        next_href: page_href(&filter, (page.page + 1).min(page.pages)),
        last_href: page_href(&filter, page.pages),
        filtered,
        rows,
        page,
        groups,
        filter,
        attributes: super::choices::attributes(),
        statuses: Status::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        can_edit: authed.user.role.allows(Permission::EditRegistrants),
        can_reveal: authed.user.role.allows(Permission::RevealNumber),
        can_approve: authed.user.role.allows(Permission::Approve),
        can_dispose: authed.allows(Permission::DisposeNumbers),
    }))
}
