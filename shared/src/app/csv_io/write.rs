//! Writing a CSV file (CSVダウンロード): CP932 or UTF-8 with BOM, the look-alikes Windows writes,
//! the cells CP932 cannot hold, and the streamed export with one data key.

use std::collections::HashMap;

use futures_util::stream::{self, Stream};

use super::{escape, writer, COLUMNS, DEPENDENT_ROW, FAMILY, GIVEN, REGISTRANT_ROW};
use crate::app::actor::Actor;
use crate::app::dependents::{self as deps, Dependent};
pub use crate::app::download::{cp932_lookalikes, encode_cp932, encode_download, Encoding};
use crate::app::groups;
use crate::app::keys::{sk, TenantScope};
use crate::app::person::PersonCore;
use crate::app::registrants::{self as regs, Filter, Registrant};
use crate::app::tenants::Tenant;
use crate::app::usage::{self, RevealError};
use crate::app::users::User;
use crate::app::vault::TenantCipher;
use crate::app::{App, InfraError};
use crate::domain::date::format_slash;
use crate::domain::person::Sex;
use crate::ports::store::Query;

/// The rows of one registrant and its dependents; numbers opened only with a cipher.
fn person_rows(
    r: &Registrant,
    dependents: &[Dependent],
    groups: &HashMap<String, String>,
    cipher: Option<&TenantCipher>,
) -> Result<Vec<[String; 18]>, InfraError> {
    let date = |d: Option<time::Date>| d.map(format_slash).unwrap_or_default();
    let number = |id: &str, n: &Option<regs::SealedNumber>| -> Result<String, InfraError> {
        match (cipher, n) {
            (Some(c), Some(n)) => Ok(c.open(id, &n.sealed)?.expose().to_string()),
            _ => Ok(String::new()),
        }
    };
    let sex = |s: Option<Sex>| s.map_or("", Sex::label).to_string();
    // 氏名 … マイナンバー: the columns a registrant's and a dependent's rows fill alike.
    let person = |id: &str, p: &PersonCore| -> Result<[String; 7], InfraError> {
        Ok([
            escape(&p.family_name),
            escape(&p.given_name),
            escape(&p.family_kana),
            escape(&p.given_kana),
            date(p.birth_date),
            sex(p.sex),
            number(id, &p.number)?,
        ])
    };
    let group = r
        .group_id
        .as_ref()
        .and_then(|g| groups.get(g))
        .map_or("", String::as_str);
    let mut rows = vec![row(
        [
            REGISTRANT_ROW.to_string(),
            escape(&r.code),
            r.attribute.label().to_string(),
        ],
        person(&r.id, &r.person)?,
        [
            String::new(),
            date(r.hire_date),
            escape(r.email.as_deref().unwrap_or_default()),
            escape(group),
            escape(&r.note),
            date(r.retired_on),
            date(r.delete_on),
            r.last_declaration_year
                .map(|y| y.to_string())
                .unwrap_or_default(),
        ],
    )];
    for d in dependents {
        rows.push(row(
            [
                DEPENDENT_ROW.to_string(),
                escape(&r.code),
                d.kind.label().to_string(),
            ],
            person(&d.id, &d.person)?,
            [
                d.relationship.label().to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        ));
    }
    Ok(rows)
}

/// One CSV row: 区分・社員コード・属性, the person's seven columns, then 続柄 … 最終申告書年.
fn row(head: [String; 3], person: [String; 7], tail: [String; 8]) -> [String; 18] {
    let mut cells = head.into_iter().chain(person).chain(tail);
    std::array::from_fn(|_| cells.next().unwrap_or_default())
}

/// A cell a CP932 download cannot hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unwritable {
    /// Line in the file (1 = the header).
    pub line: usize,
    /// Whose row it is (姓 名).
    pub name: String,
    pub column: &'static str,
    /// The characters without a code, each once.
    pub chars: String,
}

/// The cells of a row CP932 cannot hold, with their characters.
fn unrepresentable(line: usize, row: &[String; 18]) -> Vec<Unwritable> {
    row.iter()
        .enumerate()
        .filter(|(_, cell)| encode_cp932(cell).is_none())
        .map(|(i, cell)| {
            let mut chars = String::new();
            for c in cell.chars() {
                if encode_cp932(c.encode_utf8(&mut [0; 4])).is_none() && !chars.contains(c) {
                    chars.push(c);
                }
            }
            Unwritable {
                line,
                name: format!("{} {}", row[FAMILY], row[GIVEN]),
                column: COLUMNS[i].label,
                chars,
            }
        })
        .collect()
}

/// Registrants, each with its dependents, ready to write.
type People = Vec<(Registrant, Vec<Dependent>)>;

/// Registrants exported per piece of the stream.
const ROWS_PER_PIECE: usize = 200;

/// The dependents of these registrants: a query each for a few, one walk for many.
async fn with_dependents(
    scope: &TenantScope,
    registrants: Vec<Registrant>,
) -> Result<People, InfraError> {
    let with: Vec<&Registrant> = registrants.iter().filter(|r| r.dependents > 0).collect();
    let mut found: HashMap<String, Vec<Dependent>> = HashMap::new();
    if with.len() <= 50 {
        for r in with {
            found.insert(r.id.clone(), deps::list(scope, &r.id).await?);
        }
    } else {
        let wanted: std::collections::HashSet<&str> = with.iter().map(|r| r.id.as_str()).collect();
        let mut cursor = None;
        loop {
            let page = scope
                .query(
                    &Query::partition(scope.pk())
                        .prefix(sk::REGISTRANTS_AND_DEPENDENTS)
                        .limit(1000)
                        .after(cursor),
                )
                .await?;
            for d in page.items.iter().filter_map(Dependent::from_item) {
                if wanted.contains(d.registrant_id.as_str()) {
                    found.entry(d.registrant_id.clone()).or_default().push(d);
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(registrants
        .into_iter()
        .map(|r| {
            let d = found.remove(&r.id).unwrap_or_default();
            (r, d)
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Reauth(#[from] RevealError),
    #[error("Shift_JIS（CP932）で表せない文字が{}か所にあります。文字コードで「UTF-8（BOM付き）」を選んでダウンロードするか、下記の文字を直してください。", .0.len())]
    Unrepresentable(Vec<Unwritable>),
    #[error("該当する登録者がいません。検索条件をご確認ください。")]
    Empty,
}

/// A download about to stream.
pub struct Export {
    pub filename: String,
    pub content_type: &'static str,
    pub registrants: usize,
    pub dependents: usize,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Vec<u8>, InfraError>> + Send>>,
}

/// What the download form asked for.
pub struct ExportRequest<'a> {
    pub filter: &'a Filter,
    pub password: &'a str,
    pub purpose: &'a str,
    pub encoding: Encoding,
}

/// How many registrants a filter selects (shown on the download form).
pub async fn count(scope: &TenantScope, filter: &Filter) -> Result<usize, InfraError> {
    Ok(regs::select(scope, filter).await?.0.len())
}

/// CSVダウンロード: after the password and a purpose (the checks of 表示), the registrants the
/// list's filter selects and their dependents, numbers included. Audited (purpose, count)
/// before the first byte; one data-key unwrap for the whole file.
pub async fn export(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    user: &User,
    actor: &Actor,
    req: ExportRequest<'_>,
) -> Result<Result<Export, ExportError>, InfraError> {
    let purpose =
        match usage::reauthenticate(app, scope, user, actor, req.password, req.purpose).await {
            Ok(p) => p,
            Err(RevealError::Infra(e)) => return Err(e),
            Err(RevealError::WrongPassword) => {
                record(
                    app,
                    scope,
                    actor,
                    "csv.export_denied",
                    "CSVダウンロード（パスワード誤り）".into(),
                )
                .await?;
                return Ok(Err(RevealError::WrongPassword.into()));
            }
            Err(e) => return Ok(Err(e.into())),
        };
    let (registrants, _) = regs::select(scope, req.filter).await?;
    if registrants.is_empty() {
        return Ok(Err(ExportError::Empty));
    }
    let people = with_dependents(scope, registrants).await?;
    let groups: HashMap<String, String> = groups::list(scope)
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    if req.encoding == Encoding::Cp932 {
        let mut line = 1;
        let mut unwritable = Vec::new();
        for (r, d) in &people {
            for row in person_rows(r, d, &groups, None)? {
                line += 1;
                unwritable.extend(unrepresentable(line, &row));
            }
        }
        if !unwritable.is_empty() {
            return Ok(Err(ExportError::Unrepresentable(unwritable)));
        }
    }
    let dependents: usize = people.iter().map(|(_, d)| d.len()).sum();
    let registrants = people.len();
    // No audit entry, no file.
    record(
        app,
        scope,
        actor,
        "csv.export",
        format!(
            "CSVダウンロード（利用目的: {}）: 登録者{registrants}人・扶養家族{dependents}人、計{}人",
            purpose.label(),
            registrants + dependents
        ),
    )
    .await?;
    let cipher = app.vault.cipher(&tenant.keys).await?;
    let now = app.now().to_offset(time::macros::offset!(+9));
    Ok(Ok(Export {
        filename: format!(
            "mynumber_{:04}{:02}{:02}_{:02}{:02}.csv",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute()
        ),
        content_type: req.encoding.content_type(),
        registrants,
        dependents,
        body: Box::pin(rows_stream(people, groups, cipher, req.encoding)),
    }))
}

async fn record(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    action: &str,
    detail: String,
) -> Result<(), InfraError> {
    crate::app::audit::record_by(app, scope, actor, action, None, detail).await
}

/// The file, piece by piece: the header, then [`ROWS_PER_PIECE`] registrants at a time.
pub fn rows_stream(
    people: People,
    groups: HashMap<String, String>,
    cipher: TenantCipher,
    encoding: Encoding,
) -> impl Stream<Item = Result<Vec<u8>, InfraError>> + Send {
    let state = (people.into_iter(), true);
    stream::unfold(state, move |(mut rest, first)| {
        let taken: People = rest.by_ref().take(ROWS_PER_PIECE).collect();
        let piece = (first || !taken.is_empty())
            .then(|| write_piece(first, &taken, &groups, &cipher, encoding));
        std::future::ready(piece.map(|p| (p, (rest, false))))
    })
}

fn write_piece(
    header: bool,
    people: &[(Registrant, Vec<Dependent>)],
    groups: &HashMap<String, String>,
    cipher: &TenantCipher,
    encoding: Encoding,
) -> Result<Vec<u8>, InfraError> {
    let mut w = writer();
    let io = |_| InfraError::Task;
    if header {
        w.write_record(COLUMNS.iter().map(|c| c.label))
            .map_err(io)?;
    }
    for (r, d) in people {
        for row in person_rows(r, d, groups, Some(cipher))? {
            w.write_record(&row).map_err(io)?;
        }
    }
    let bytes = w.into_inner().map_err(|_| InfraError::Task)?;
    encode_download(bytes, encoding, header)
}
