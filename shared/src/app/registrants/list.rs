//! Reading many registrants: the filtered, paged 登録者一覧 (search by name, group, dates),
//! made in memory from the tenant's `directory`, which also gives the CSV download whom it
//! selects; the full rows a filter selects, and whole-group loads, both read from the items
//! through the indexes.

use std::collections::HashMap;
use std::sync::Arc;

use time::Date;

use super::directory::{self, Entry};
use super::Registrant;
use crate::app::keys::{index, RecordId, TenantScope};
use crate::app::InfraError;
use crate::domain::person::Attribute;
use crate::domain::search::search_key;
use crate::domain::status::Status;
use crate::ports::store::{Index, Query};

/// Every registrant of a group (or all), in 社員コード order, reading the index page by page.
pub async fn load_all(
    scope: &TenantScope,
    group: Option<GroupFilter<'_>>,
) -> Result<(Vec<Registrant>, usize), InfraError> {
    let (index, pk) = match group {
        Some(GroupFilter::Group(id)) => (
            Index::Gsi1,
            scope.partition(&index::group_members(Some(id))),
        ),
        Some(GroupFilter::Ungrouped) => (Index::Gsi1, scope.partition(&index::group_members(None))),
        None => (Index::Gsi2, scope.partition(index::ALL_REGISTRANTS)),
    };
    let mut out = Vec::new();
    let mut cursor = None;
    let mut queries = 0;
    loop {
        let page = scope
            .query(&Query::partition(&pk).on(index).limit(1000).after(cursor))
            .await?;
        queries += 1;
        let items = crate::app::import_gate::visible(scope, page.items).await?;
        out.extend(items.iter().filter_map(Registrant::from_item));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((out, queries)),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum GroupFilter<'a> {
    Group(&'a str),
    Ungrouped,
}

/// The search form of the list (manual ch.10 検索).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Filter {
    pub code: String,
    pub name: String,
    pub attribute: String,
    pub email: String,
    pub status: String,
    /// "" all, "exclude" 在籍者のみ, "only" 退職者のみ
    pub retired: String,
    /// "" all, "none" ungrouped, or a group id
    pub group: String,
    pub retired_month: String,
    pub delete_month: String,
    /// "1": only registrants whose 削除予定日 has come (HOME's 削除予定日到来 link).
    pub due: String,
    /// The day `due` compares with (set by the caller from the app's clock, never from the URL).
    #[serde(skip)]
    pub today: Option<Date>,
    /// "code" (default) or "name"
    pub sort: String,
    /// 1-based page number as typed in the URL (anything else means page 1).
    pub page: String,
}

impl Filter {
    pub fn page_number(&self) -> usize {
        self.page.trim().parse().unwrap_or(1)
    }
}

pub const PAGE_SIZE: usize = 50;

pub struct ListPage {
    pub rows: Vec<Entry>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// Every group's name by id (the rows' groups among them).
    pub groups: HashMap<String, String>,
    /// Store calls made for the list (a figure for the benchmark).
    pub store_calls: usize,
    pub errors: Vec<String>,
}

/// Whether a registrant's 削除予定日 has come by `today` (no day known: nobody is due).
pub fn is_due(r: &Registrant, today: Option<Date>) -> bool {
    matches!((r.delete_on, today), (Some(d), Some(t)) if d <= t)
}

fn month_of(d: Option<Date>) -> Option<(i32, u8)> {
    d.map(|d| (d.year(), u8::from(d.month())))
}

/// One page of the registrant list for a filter, filtered, sorted and paged in memory from
/// the tenant's directory (`directory`): one Store call when this container's copy is
/// current.
pub async fn list(scope: &TenantScope, filter: &Filter) -> Result<ListPage, InfraError> {
    let (criteria, errors) = Criteria::parse(filter);
    let (snap, store_calls) = directory::snapshot(scope).await?;
    // Both orders are kept sorted in the snapshot: a page only filters.
    let ordered: Box<dyn Iterator<Item = &Arc<Entry>>> = if filter.sort == "name" {
        Box::new(snap.by_name.iter())
    } else {
        Box::new(snap.entries.iter())
    };
    let rows: Vec<&Arc<Entry>> = ordered.filter(|e| criteria.matches(e)).collect();
    let total = rows.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page_number().clamp(1, pages);
    let rows = rows
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|e| Entry::clone(e))
        .collect();
    Ok(ListPage {
        rows,
        total,
        page,
        pages,
        groups: snap.groups.clone(),
        store_calls,
        errors,
    })
}

/// Hands `each` the directory entry of every registrant a filter selects (all pages, in
/// 社員コード order) and returns every group's name: what the CSV download counts and checks
/// before it reads a row, so its count is the list's. One Store call when this container's
/// copy of the directory is current; nothing is collected.
pub async fn for_each_selected(
    scope: &TenantScope,
    filter: &Filter,
    mut each: impl FnMut(&Entry),
) -> Result<HashMap<String, String>, InfraError> {
    let (criteria, _) = Criteria::parse(filter);
    let (snap, _) = directory::snapshot(scope).await?;
    snap.entries
        .iter()
        .filter(|e| criteria.matches(e))
        .for_each(|e| each(e));
    Ok(snap.groups.clone())
}

/// Every registrant a filter selects (all pages, in list order), full rows read from the
/// items themselves (not the directory), e.g. for the CSV download, with the filter's input
/// errors (a field in error does not filter).
pub async fn select(
    scope: &TenantScope,
    filter: &Filter,
) -> Result<(Vec<Registrant>, Vec<String>), InfraError> {
    let (criteria, errors) = Criteria::parse(filter);
    let (all, _) = match criteria.group {
        Some(GroupFilter::Group(id)) if RecordId::parse(id).is_none() => (Vec::new(), 0),
        group => load_all(scope, group).await?,
    };
    let mut rows: Vec<Registrant> = all
        .into_iter()
        .filter(|r| criteria.matches(&Entry::from_registrant(r)))
        .collect();
    if filter.sort == "name" {
        rows.sort_by_cached_key(|r| (search_key(&r.kana()), search_key(&r.name()), r.id.clone()));
    }
    Ok((rows, errors))
}

/// The list's search form as a test on full registrants, parsed once: what the CSV download
/// (`app::csv_io`) applies to each row as it streams the store, so the file holds exactly whom
/// the list selects. A field typed wrong does not filter; `list` reports it.
pub fn row_test(filter: &Filter) -> impl Fn(&Registrant) -> bool + '_ {
    let (criteria, _) = Criteria::parse(filter);
    move |r| criteria.matches(&Entry::from_registrant(r))
}

type Month = Option<(i32, u8)>;

/// A filter parsed once: what [`list`] and [`select`] both test each registrant against.
struct Criteria<'a> {
    code: String,
    name: String,
    attribute: Option<Attribute>,
    email: String,
    status: Option<Status>,
    retired: &'a str,
    group: Option<GroupFilter<'a>>,
    retired_month: Month,
    delete_month: Month,
    due: Option<Option<Date>>,
}

impl<'a> Criteria<'a> {
    /// The filter's fields, parsed, with the errors of those typed wrong.
    fn parse(filter: &'a Filter) -> (Criteria<'a>, Vec<String>) {
        let mut errors = Vec::new();
        let month = |raw: &str, label: &str, errors: &mut Vec<String>| match raw.trim() {
            "" => None,
            m => match crate::domain::date::parse_year_month(m) {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(format!("{label}: {e}"));
                    None
                }
            },
        };
        let retired_month = month(&filter.retired_month, "退職日（年月）", &mut errors);
        let delete_month = month(&filter.delete_month, "削除予定日（年月）", &mut errors);
        let group = match filter.group.as_str() {
            "" => None,
            "none" => Some(GroupFilter::Ungrouped),
            id => Some(GroupFilter::Group(id)),
        };
        let criteria = Criteria {
            code: filter.code.trim().to_lowercase(),
            name: search_key(&filter.name),
            attribute: Attribute::from_code(filter.attribute.trim()),
            email: filter.email.trim().to_lowercase(),
            status: Status::from_code(filter.status.trim()),
            retired: filter.retired.as_str(),
            group,
            retired_month,
            delete_month,
            due: (filter.due == "1").then_some(filter.today),
        };
        (criteria, errors)
    }

    fn matches(&self, e: &Entry) -> bool {
        (self.code.is_empty() || e.code_lower.contains(&self.code))
            && (self.name.is_empty()
                || e.search_all.contains(&self.name)
                || e.search_kana.contains(&self.name))
            && self.attribute.is_none_or(|a| e.attribute == a)
            && (self.email.is_empty()
                || e.email.as_deref().is_some_and(|m| m.contains(&self.email)))
            && self
                .status
                .is_none_or(|s| e.status == s || e.dependents_status == Some(s))
            && match self.retired {
                "only" => e.is_retired(),
                "exclude" => !e.is_retired(),
                _ => true,
            }
            && match self.group {
                None => true,
                Some(GroupFilter::Ungrouped) => e.group_id.is_none(),
                Some(GroupFilter::Group(id)) => e.group_id.as_deref() == Some(id),
            }
            && self
                .retired_month
                .is_none_or(|m| month_of(e.retired_on) == Some(m))
            && self
                .delete_month
                .is_none_or(|m| month_of(e.delete_on) == Some(m))
            && self.due.is_none_or(|today| e.is_due(today))
    }
}
