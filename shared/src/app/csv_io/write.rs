//! Writing a CSV file (CSVダウンロード): CP932 or UTF-8 with BOM, the look-alikes Windows writes,
//! the cells CP932 cannot hold, and the streamed export with one data key.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use futures_util::stream::{self, Stream};

use super::{escape, writer_with, COLUMNS, DEPENDENT_ROW, FAMILY, GIVEN, REGISTRANT_ROW};
use crate::app::actor::Actor;
use crate::app::dependents::Dependent;
use crate::app::download::{char_fits_cp932, fits_cp932};
pub use crate::app::download::{cp932_lookalikes, encode_cp932, encode_download, Encoding};
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

/// One row of the file, as the walk found it: a registrant, or a dependent with its
/// registrant's 社員コード.
enum Row {
    Registrant(Registrant),
    Dependent { code: String, dependent: Dependent },
}

/// The 18 cells of a row, borrowing what can be borrowed; `number` is the opened number (or
/// empty, for the check made before the file is written).
fn cells<'a>(
    row: &'a Row,
    groups: &'a HashMap<String, String>,
    number: &'a str,
) -> [Cow<'a, str>; 18] {
    let date = |d: Option<time::Date>| Cow::Owned(d.map(format_slash).unwrap_or_default());
    let sex = |s: Option<Sex>| Cow::Borrowed(s.map_or("", Sex::label));
    let none = || Cow::Borrowed("");
    // 氏名 … マイナンバー: the columns a registrant's and a dependent's rows fill alike.
    let person = |p: &'a PersonCore| {
        [
            escape(&p.family_name),
            escape(&p.given_name),
            escape(&p.family_kana),
            escape(&p.given_kana),
            date(p.birth_date),
            sex(p.sex),
            Cow::Borrowed(number),
        ]
    };
    let (head, person, tail) = match row {
        Row::Registrant(r) => {
            let group = r
                .group_id
                .as_ref()
                .and_then(|g| groups.get(g))
                .map_or("", String::as_str);
            (
                [
                    Cow::Borrowed(REGISTRANT_ROW),
                    escape(&r.code),
                    Cow::Borrowed(r.attribute.label()),
                ],
                person(&r.person),
                [
                    none(),
                    date(r.hire_date),
                    escape(r.email.as_deref().unwrap_or_default()),
                    escape(group),
                    escape(&r.note),
                    date(r.retired_on),
                    date(r.delete_on),
                    Cow::Owned(
                        r.last_declaration_year
                            .map(|y| y.to_string())
                            .unwrap_or_default(),
                    ),
                ],
            )
        }
        Row::Dependent { code, dependent: d } => (
            [
                Cow::Borrowed(DEPENDENT_ROW),
                escape(code),
                Cow::Borrowed(d.kind.label()),
            ],
            person(&d.person),
            [
                Cow::Borrowed(d.relationship.label()),
                none(),
                none(),
                none(),
                none(),
                none(),
                none(),
                none(),
            ],
        ),
    };
    let mut all = head.into_iter().chain(person).chain(tail);
    std::array::from_fn(|_| all.next().unwrap_or_default())
}

impl Row {
    /// The record's id and sealed number, if it holds one.
    fn sealed(&self) -> (&str, Option<&regs::SealedNumber>) {
        match self {
            Row::Registrant(r) => (&r.id, r.person.number.as_ref()),
            Row::Dependent { dependent: d, .. } => (&d.id, d.person.number.as_ref()),
        }
    }
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
fn unrepresentable(line: usize, row: &[Cow<'_, str>; 18]) -> Vec<Unwritable> {
    row.iter()
        .enumerate()
        .filter(|(_, cell)| !fits_cp932(cell))
        .map(|(i, cell)| {
            let mut chars = String::new();
            for c in cell.chars() {
                if !char_fits_cp932(c) && !chars.contains(c) {
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

/// Items read per store page: a few hundred kilobytes whatever the tenant's size, so the
/// download's memory stays flat; on DynamoDB a 1 MB page may end sooner.
const PAGE_ITEMS: usize = 500;

/// A walk over the tenant's registrant partition (`REG#`: each registrant followed by its
/// dependents, in id order) with the store's own paging, one page per step, keeping the rows
/// the filter selects. Not the list's code: the list pages an index in 社員コード order, the
/// download streams every row of the partition.
struct Walk {
    scope: TenantScope,
    filter: Filter,
    cursor: Option<String>,
    done: bool,
    /// The last registrant seen (its dependents follow it, perhaps on the next page): its id,
    /// 社員コード, and whether the filter selected it.
    owner: Option<(String, String, bool)>,
}

impl Walk {
    fn new(scope: &TenantScope, filter: &Filter) -> Walk {
        Walk {
            scope: scope.clone(),
            filter: filter.clone(),
            cursor: None,
            done: false,
            owner: None,
        }
    }

    /// The selected rows of the next page (the first page always comes, maybe empty); `None`
    /// once the partition is read.
    async fn next(&mut self) -> Result<Option<Vec<Row>>, InfraError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .scope
            .query(
                &Query::partition(self.scope.pk())
                    .prefix(sk::REGISTRANTS_AND_DEPENDENTS)
                    .limit(PAGE_ITEMS)
                    .after(self.cursor.take()),
            )
            .await?;
        self.cursor = page.next;
        self.done = self.cursor.is_none();
        // Rows of an import not yet flipped stay out (a registrant's dependents with it).
        let items = crate::app::import_gate::visible(&self.scope, page.items).await?;
        let selects = regs::row_test(&self.filter);
        let mut rows = Vec::new();
        for item in &items {
            if item.key.sk.contains("#DEP#") {
                let Some(d) = Dependent::from_item(item) else {
                    continue;
                };
                match &self.owner {
                    Some((id, code, true)) if *id == d.registrant_id => {
                        rows.push(Row::Dependent {
                            code: code.clone(),
                            dependent: d,
                        });
                    }
                    _ => {}
                }
            } else if let Some(r) = Registrant::from_item(item) {
                let selected = selects(&r);
                self.owner = Some((r.id.clone(), r.code.clone(), selected));
                if selected {
                    rows.push(Row::Registrant(r));
                }
            }
        }
        Ok(Some(rows))
    }
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

/// Whom a filter selects, as the directory says (the list's own selection): the counts the
/// audit entry names, whether every selected row is known to fit CP932, and every group's
/// name. Read before the rows, so the download walks its partition once.
struct Selection {
    registrants: usize,
    dependents: usize,
    /// Every selected registrant's rows (its dependents' too) and group name are known to
    /// fit CP932; `false` if one does not, or if its entry predates the flag (unknown).
    fits_cp932: bool,
    groups: HashMap<String, String>,
}

impl Selection {
    async fn of(scope: &TenantScope, filter: &Filter) -> Result<Selection, InfraError> {
        let (mut registrants, mut dependents) = (0, 0);
        let mut flags_fit = true;
        let mut group_ids: HashSet<String> = HashSet::new();
        let groups = regs::for_each_selected(scope, filter, |e| {
            registrants += 1;
            dependents += usize::try_from(e.dependents).unwrap_or(0);
            flags_fit &= e.text_cp932;
            if let Some(g) = e.group_id.as_ref().filter(|g| !group_ids.contains(*g)) {
                group_ids.insert(g.clone());
            }
        })
        .await?;
        let names_fit = group_ids
            .iter()
            .filter_map(|g| groups.get(g))
            .all(|name| fits_cp932(name));
        Ok(Selection {
            registrants,
            dependents,
            fits_cp932: flags_fit && names_fit,
            groups,
        })
    }
}

/// How many registrants a filter selects (shown on the download form): the number the
/// download's audit entry will name.
pub async fn count(scope: &TenantScope, filter: &Filter) -> Result<usize, InfraError> {
    Ok(Selection::of(scope, filter).await?.registrants)
}

/// The cells of the selected rows CP932 cannot hold, found by reading every row (numbers
/// are digits: not opened): the refusal's list, read only when the directory cannot vouch
/// for every row. Only refused cells are kept, so memory stays flat.
async fn unwritable_cells(
    scope: &TenantScope,
    filter: &Filter,
    groups: &HashMap<String, String>,
) -> Result<Vec<Unwritable>, InfraError> {
    let mut walk = Walk::new(scope, filter);
    let mut line = 1;
    let mut unwritable = Vec::new();
    while let Some(rows) = walk.next().await? {
        for row in &rows {
            line += 1;
            unwritable.extend(unrepresentable(line, &cells(row, groups, "")));
        }
    }
    Ok(unwritable)
}

/// CSVダウンロード: after the password and a purpose (the checks of 表示), the registrants the
/// list's filter selects and their dependents, numbers included. Audited (purpose, count)
/// before the first byte; one data-key unwrap for the whole file; one walk over the rows
/// when the directory vouches for every cell (see [`Selection`]), two otherwise.
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
    // Counted from the directory, not from the rows: a registrant saved or deleted while the
    // file streams can make the rows differ from the audited count (as it could when a first
    // walk counted them).
    let Selection {
        registrants,
        dependents,
        fits_cp932,
        groups,
    } = Selection::of(scope, req.filter).await?;
    if registrants == 0 {
        return Ok(Err(ExportError::Empty));
    }
    // UTF-8 holds everything. For CP932, rows the directory cannot vouch for (a character
    // without a code, or written before the flag was kept) are read once to list the cells;
    // a stale "fits" is still caught by the encoder, ending the file with an error rather
    // than a wrong name.
    if req.encoding == Encoding::Cp932 && !fits_cp932 {
        let unwritable = unwritable_cells(scope, req.filter, &groups).await?;
        if !unwritable.is_empty() {
            return Ok(Err(ExportError::Unrepresentable(unwritable)));
        }
    }
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
        body: Box::pin(rows_stream(
            Walk::new(scope, req.filter),
            groups,
            cipher,
            req.encoding,
        )),
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

/// The file, piece by piece: the header with the first page, then one piece per store page,
/// each written before the next page is read (numbers opened here).
fn rows_stream(
    walk: Walk,
    groups: HashMap<String, String>,
    cipher: TenantCipher,
    encoding: Encoding,
) -> impl Stream<Item = Result<Vec<u8>, InfraError>> + Send {
    struct Pieces {
        walk: Walk,
        groups: HashMap<String, String>,
        cipher: TenantCipher,
        first: bool,
    }
    let state = Pieces {
        walk,
        groups,
        cipher,
        first: true,
    };
    stream::try_unfold(state, move |mut p| async move {
        let Some(rows) = p.walk.next().await? else {
            return Ok(None);
        };
        let piece = write_piece(p.first, &rows, &p.groups, &p.cipher, encoding)?;
        p.first = false;
        Ok(Some((piece, p)))
    })
}

fn write_piece(
    header: bool,
    rows: &[Row],
    groups: &HashMap<String, String>,
    cipher: &TenantCipher,
    encoding: Encoding,
) -> Result<Vec<u8>, InfraError> {
    // About 200 bytes a row: one allocation for the page.
    let mut w = writer_with(Vec::with_capacity(256 * (rows.len() + 1)));
    let io = |_| InfraError::Task;
    if header {
        w.write_record(COLUMNS.iter().map(|c| c.label))
            .map_err(io)?;
    }
    for row in rows {
        let number = match row.sealed() {
            (id, Some(n)) => Some(cipher.open(id, &n.sealed)?),
            (_, None) => None,
        };
        let number = number.as_ref().map_or("", |n| n.expose());
        w.write_record(cells(row, groups, number).iter().map(|c| c.as_bytes()))
            .map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|_| InfraError::Task)?;
    encode_download(bytes, encoding, header)
}
