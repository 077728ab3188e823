//! Reading a tenant's operation log for the 操作履歴 screen (manual ch.14): search by date
//! range, 実施者, 登録者 and 操作内容, newest first, a page at a time, and the CSV of a search.
//!
//! The log is stored by sequence number, not by date or person, so a search walks it from the
//! newest entry down and stops at the first entry older than the date range, or after
//! [`SCAN_LIMIT`] entries (the screen then offers to go on from there). A page's cursor is
//! the sequence number the next page starts below.
//!
//! The 登録者 column names the registrant an entry is about (氏名 and 社員コード, never the
//! number), read from the registrant record; a deleted registrant's entries still name them
//! in 操作内容, where the use case wrote the name.

use std::collections::{HashMap, HashSet};

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::Entry;
use crate::app::download::{encode_download, Encoding};
use crate::app::keys::TenantScope;
use crate::app::registrants::{self as regs, Registrant};
use crate::app::{App, InfraError};
use crate::domain::search::search_key;

/// Entries per page of the screen.
pub const PAGE_SIZE: usize = 50;
/// Most entries one screen search reads before it stops and offers to go on.
pub const SCAN_LIMIT: usize = 5_000;

/// The screen's search fields; empty ones match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// First day (Japan time), inclusive.
    pub from: Option<Date>,
    /// Last day (Japan time), inclusive.
    pub to: Option<Date>,
    /// Part of the acting person's name.
    pub actor: String,
    /// Part of the registrant's name, kana or 社員コード.
    pub subject: String,
    /// Part of 操作内容.
    pub operation: String,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

/// One entry as the screen and the CSV show it.
#[derive(Clone, Debug)]
pub struct Row {
    pub entry: Entry,
    /// 氏名（社員コード） of the registrant the entry is about, or empty.
    pub subject: String,
}

impl Row {
    /// 日時 in Japan time, `2026/01/05 12:43:00`.
    pub fn when(&self) -> String {
        japan_time(&self.entry.at).map_or_else(|| self.entry.at.clone(), format_time)
    }

    pub fn actor(&self) -> &str {
        self.entry.actor_name.as_deref().unwrap_or("")
    }
}

/// A page of search results.
#[derive(Debug, Default)]
pub struct Found {
    pub rows: Vec<Row>,
    /// Where the next page starts (below this sequence number), if there may be more.
    pub next: Option<i64>,
    /// The search stopped at [`SCAN_LIMIT`] rather than at the end of the range.
    pub stopped_early: bool,
}

/// The moment an entry was written, in Japan time.
pub fn japan_time(at: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(at, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::macros::offset!(+9)))
}

pub fn format_time(t: OffsetDateTime) -> String {
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Up to `limit` entries matching `filter`, newest first, below `before`, reading at most
/// `scan_limit` entries.
pub async fn search(
    app: &App,
    scope: &TenantScope,
    filter: &Filter,
    before: Option<i64>,
    limit: usize,
    scan_limit: usize,
) -> Result<Found, InfraError> {
    let subjects = match filter.subject.trim() {
        "" => None,
        text => Some(matching_registrants(scope, text).await?),
    };
    let (actor, operation, subject) = (
        search_key(filter.actor.trim()),
        search_key(filter.operation.trim()),
        search_key(filter.subject.trim()),
    );
    let mut found = Found::default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut scanned = 0;
    app.audit
        .walk_back(scope.tenant(), before, 500, |entry| {
            scanned += 1;
            let day = japan_time(&entry.at).map(OffsetDateTime::date);
            if filter
                .from
                .is_some_and(|from| day.is_some_and(|d| d < from))
            {
                return false;
            }
            let in_range = filter.to.is_none_or(|to| day.is_none_or(|d| d <= to));
            let about = |e: &Entry| {
                subjects.as_ref().is_none_or(|ids| {
                    e.target.as_ref().is_some_and(|t| ids.contains(t))
                        || search_key(&e.detail).contains(&subject)
                })
            };
            if in_range
                && search_key(entry.actor_name.as_deref().unwrap_or("")).contains(&actor)
                && search_key(&entry.detail).contains(&operation)
                && about(&entry)
            {
                entries.push(entry.clone());
            }
            if entries.len() > limit {
                entries.pop();
                found.next = entries.last().map(|e| e.seq);
                return false;
            }
            if scanned >= scan_limit {
                found.next = Some(entry.seq);
                found.stopped_early = true;
                return false;
            }
            true
        })
        .await?;
    found.rows = with_subjects(scope, entries).await?;
    Ok(found)
}

/// Ids of the registrants whose name, kana or 社員コード contains `text`.
async fn matching_registrants(
    scope: &TenantScope,
    text: &str,
) -> Result<HashSet<String>, InfraError> {
    let key = search_key(text);
    let (all, _) = regs::load_all(scope, None).await?;
    Ok(all
        .into_iter()
        .filter(|r| {
            [r.name(), r.kana(), r.code.clone()]
                .iter()
                .any(|v| search_key(v).contains(&key))
        })
        .map(|r| r.id)
        .collect())
}

/// The entries with the registrant each is about, read once per registrant.
async fn with_subjects(scope: &TenantScope, entries: Vec<Entry>) -> Result<Vec<Row>, InfraError> {
    let mut ids: Vec<String> = entries.iter().filter_map(|e| e.target.clone()).collect();
    ids.sort();
    ids.dedup();
    let labels: HashMap<String, String> = regs::get_many(scope, &ids)
        .await?
        .iter()
        .map(|r| (r.id.clone(), subject_label(r)))
        .collect();
    Ok(entries
        .into_iter()
        .map(|entry| Row {
            subject: entry
                .target
                .as_ref()
                .and_then(|t| labels.get(t))
                .cloned()
                .unwrap_or_default(),
            entry,
        })
        .collect())
}

/// 氏名（社員コード）: how the log names a registrant (never by number).
pub fn subject_label(r: &Registrant) -> String {
    match r.code.as_str() {
        "" => r.name(),
        code => format!("{}（{code}）", r.name()),
    }
}

/// Why a CSV could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("Shift_JISで表せない文字が含まれています。文字コードに「UTF-8」を選んでダウンロードしてください。")]
    Unrepresentable,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// The CSV columns, as on the screen plus the user agent.
pub const COLUMNS: [&str; 6] = [
    "日時",
    "実施者",
    "登録者",
    "操作内容",
    "IPアドレス",
    "ユーザーエージェント",
];

/// Rows as a CSV file in `encoding`.
pub fn to_csv(rows: &[Row], encoding: Encoding) -> Result<Vec<u8>, CsvError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let io = |_| CsvError::Infra(InfraError::Task);
    w.write_record(COLUMNS).map_err(io)?;
    for r in rows {
        w.write_record([
            r.when().as_str(),
            r.actor(),
            r.subject.as_str(),
            r.entry.detail.as_str(),
            r.entry.ip.as_deref().unwrap_or(""),
            r.entry.user_agent.as_deref().unwrap_or(""),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|_| CsvError::Infra(InfraError::Task))?;
    encode_download(bytes, encoding, true).map_err(|e| match e {
        InfraError::Corrupt(_) => CsvError::Unrepresentable,
        other => CsvError::Infra(other),
    })
}
