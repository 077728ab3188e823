//! 複数一括登録 (manual ch.6): ten rows of registrants typed from collected documents, each with
//! its 扶養家族+ sub-rows; 保存して次の入力へ saves the page and offers a fresh one, 終了する saves
//! and goes back to the list. Nothing is saved unless every filled row is right; each problem
//! shows on its cell and the page comes back as typed (the numbers too: the user typed them on
//! this very page, and they travel only in the POST body). Saved records are 完了 (the
//! documents were checked). The grid works without script: the buttons post the page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::access::{Access, Routes};
use super::session::{Authed, Chrome};
use super::{render_status, AppState, WebError};
use crate::app::bulk::{self, At, NewPerson, RowError, Saved, GRID_ROWS};
use crate::app::dependents::DependentForm;
use crate::app::person::NamesForm;
use crate::app::registrants::{self as regs, RegistrantForm};
use crate::domain::person::{Attribute, DependentKind};
use crate::domain::role::Permission;

pub(super) fn routes() -> Routes {
    let edit = Access::Can(Permission::EditRegistrants);
    Routes::new()
        .get("/registrants/bulk", edit, page)
        .post("/registrants/bulk", edit, submit)
}

#[derive(Clone, Debug, Default)]
struct Cells {
    values: Vec<(&'static str, String)>,
    errors: Vec<(&'static str, String)>,
}

impl Cells {
    fn get(&self, field: &str) -> &str {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v.as_str())
    }

    fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Whether nothing was typed (selects with a default do not count).
    fn is_empty(&self, typed: &[&str]) -> bool {
        typed.iter().all(|f| self.get(f).trim().is_empty())
    }
}

/// 氏名 as typed on a row (the page has no フリガナ).
fn typed_names(cells: &Cells) -> NamesForm {
    NamesForm {
        family_name: cells.get("family_name").into(),
        given_name: cells.get("given_name").into(),
        ..NamesForm::default()
    }
}

const ROW_FIELDS: [&str; 8] = [
    "attribute",
    "number",
    "family_name",
    "given_name",
    "birth_date",
    "sex",
    "code",
    "hire_date",
];
const ROW_TYPED: [&str; 6] = [
    "number",
    "family_name",
    "given_name",
    "birth_date",
    "code",
    "hire_date",
];
const DEP_FIELDS: [&str; 7] = [
    "relationship",
    "family_name",
    "given_name",
    "birth_date",
    "sex",
    "number",
    "kind",
];
const DEP_TYPED: [&str; 5] = [
    "relationship",
    "family_name",
    "given_name",
    "birth_date",
    "number",
];

#[derive(Clone, Debug, Default)]
struct GridRow {
    n: usize,
    cells: Cells,
    deps: Vec<Cells>,
}

/// A saved row, shown with its status (完了).
struct SavedRow {
    code: String,
    name: String,
    number: String,
    dependents: i64,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "registrants_bulk.html")]
struct GridView {
    chrome: Chrome,
    rows: Vec<GridRow>,
    attribute_all: String,
    attributes: Vec<(&'static str, &'static str)>,
    sexes: Vec<(&'static str, &'static str)>,
    relationships: Vec<(&'static str, &'static str)>,
    kinds: Vec<(&'static str, &'static str)>,
    remaining: u32,
    has_errors: bool,
    general: Vec<String>,
    saved: Vec<SavedRow>,
}

fn empty_rows() -> Vec<GridRow> {
    (1..=GRID_ROWS)
        .map(|n| GridRow {
            n,
            ..GridRow::default()
        })
        .collect()
}

async fn show(
    authed: &Authed,
    status: StatusCode,
    rows: Vec<GridRow>,
    attribute_all: String,
    general: Vec<String>,
    saved: Vec<SavedRow>,
) -> Result<Response, WebError> {
    Ok(render_status(
        status,
        &GridView {
            chrome: Chrome::new(authed, "/registrants"),
            attribute_all,
            attributes: Attribute::ALL.map(|a| (a.code(), a.short_label())).to_vec(),
            sexes: super::choices::sexes(),
            relationships: super::choices::relationships(),
            kinds: super::choices::dependent_kinds(),
            remaining: regs::room_left(&authed.scope, &authed.tenant).await?,
            has_errors: rows
                .iter()
                .any(|r| r.cells.has_errors() || r.deps.iter().any(Cells::has_errors)),
            rows,
            general,
            saved,
        },
    ))
}

async fn page(authed: Authed) -> Result<Response, WebError> {
    show(
        &authed,
        StatusCode::OK,
        empty_rows(),
        String::new(),
        Vec::new(),
        Vec::new(),
    )
    .await
}

/// The posted grid: `r<n>_<field>` and `r<n>_d<j>_<field>`, with `r<n>_deps` sub-rows.
fn read_grid(posted: &[(String, String)]) -> Vec<GridRow> {
    let value = |name: String| {
        posted
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut rows = empty_rows();
    for row in &mut rows {
        let n = row.n;
        row.cells.values = ROW_FIELDS
            .iter()
            .map(|f| (*f, value(format!("r{n}_{f}"))))
            .collect();
        let count = value(format!("r{n}_deps"))
            .parse::<usize>()
            .unwrap_or(0)
            .min(crate::app::dependents::MAX_DEPENDENTS);
        row.deps = (0..count)
            .map(|j| Cells {
                values: DEP_FIELDS
                    .iter()
                    .map(|f| (*f, value(format!("r{n}_d{j}_{f}"))))
                    .collect(),
                errors: Vec::new(),
            })
            .collect();
    }
    rows
}

fn people_of(rows: &[GridRow]) -> Vec<NewPerson> {
    let mut people = Vec::new();
    for row in rows {
        let deps: Vec<(At, DependentForm)> = row
            .deps
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_empty(&DEP_TYPED))
            .map(|(j, d)| {
                let form = DependentForm {
                    relationship: d.get("relationship").into(),
                    names: typed_names(d),
                    birth_date: d.get("birth_date").into(),
                    sex: d.get("sex").into(),
                    kind: d.get("kind").into(),
                    number1: d.get("number").into(),
                    ..DependentForm::default()
                };
                let at = At {
                    row: row.n,
                    dependent: Some(j),
                };
                (at, form)
            })
            .collect();
        if row.cells.is_empty(&ROW_TYPED) && deps.is_empty() {
            continue;
        }
        let c = &row.cells;
        people.push(NewPerson {
            at: At {
                row: row.n,
                dependent: None,
            },
            form: RegistrantForm {
                attribute: c.get("attribute").into(),
                names: typed_names(c),
                birth_date: c.get("birth_date").into(),
                sex: c.get("sex").into(),
                code: c.get("code").into(),
                hire_date: c.get("hire_date").into(),
                number1: c.get("number").into(),
                ..RegistrantForm::default()
            },
            dependents: deps,
        });
    }
    people
}

/// Puts each problem on its cell (a problem of the whole row goes to its first cell).
fn place(rows: &mut [GridRow], errors: Vec<RowError>) {
    for e in errors {
        let Some(row) = rows.iter_mut().find(|r| r.n == e.at.row) else {
            continue;
        };
        let cells = match e.at.dependent {
            Some(j) => match row.deps.get_mut(j) {
                Some(d) => d,
                None => continue,
            },
            None => &mut row.cells,
        };
        let known = ROW_FIELDS.contains(&e.field) || DEP_FIELDS.contains(&e.field);
        let field = if known { e.field } else { "family_name" };
        cells.errors.push((field, e.message));
    }
}

async fn submit(
    State(app): State<AppState>,
    authed: Authed,
    Form(posted): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let action = posted
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let attribute_all = posted
        .iter()
        .find(|(k, _)| k == "attribute_all")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut rows = read_grid(&posted);
    let again = |rows, general| {
        show(
            &authed,
            StatusCode::OK,
            rows,
            attribute_all.clone(),
            general,
            Vec::new(),
        )
    };
    if let Some(n) = action.strip_prefix("add_dep:") {
        if let Some(row) = rows.iter_mut().find(|r| n.parse() == Ok(r.n)) {
            if row.deps.len() < crate::app::dependents::MAX_DEPENDENTS {
                let kind = DependentKind::ALL[0].code().to_string();
                row.deps.push(Cells {
                    values: vec![("kind", kind)],
                    errors: Vec::new(),
                });
            }
        }
        return again(rows, Vec::new()).await;
    }
    if action == "apply_all" {
        if Attribute::from_code(&attribute_all).is_some() {
            for row in &mut rows {
                row.cells.values.retain(|(f, _)| *f != "attribute");
                row.cells.values.push(("attribute", attribute_all.clone()));
            }
        }
        return again(rows, Vec::new()).await;
    }
    if action != "save_next" && action != "finish" {
        return again(rows, Vec::new()).await;
    }
    let people = people_of(&rows);
    if people.is_empty() {
        if action == "finish" {
            return Ok(Redirect::to("/registrants").into_response());
        }
        return show(
            &authed,
            StatusCode::UNPROCESSABLE_ENTITY,
            rows,
            attribute_all.clone(),
            vec!["登録する内容を入力してください。".into()],
            Vec::new(),
        )
        .await;
    }
    let actor = authed.actor();
    match bulk::save_grid(&app, &authed.scope, &authed.tenant, &actor, &people).await? {
        Saved::Done(saved) => {
            if action == "finish" {
                return Ok(Redirect::to("/registrants?done=bulk").into_response());
            }
            let saved = saved
                .into_iter()
                .map(|r| SavedRow {
                    name: r.name(),
                    number: r
                        .person
                        .number
                        .as_ref()
                        .map(|n| n.masked())
                        .unwrap_or_default(),
                    dependents: r.dependents,
                    status: r.person.status.label(),
                    code: r.code,
                })
                .collect();
            show(
                &authed,
                StatusCode::OK,
                empty_rows(),
                attribute_all.clone(),
                Vec::new(),
                saved,
            )
            .await
        }
        Saved::Refused {
            rows: errors,
            general,
        } => {
            place(&mut rows, errors);
            show(
                &authed,
                StatusCode::UNPROCESSABLE_ENTITY,
                rows,
                attribute_all.clone(),
                general,
                Vec::new(),
            )
            .await
        }
    }
}
