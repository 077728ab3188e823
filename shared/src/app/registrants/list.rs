//! Reading many registrants: the filtered, paged 登録者一覧 (search by name, group, dates) and
//! whole-group loads, with the group names each page shows.

use std::collections::HashMap;

use time::Date;

use super::Registrant;
use crate::app::keys::{index, sk, RecordId, TenantScope};
use crate::app::InfraError;
use crate::domain::search::search_key;
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
    pub rows: Vec<Registrant>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub groups: HashMap<String, String>,
    /// Store calls made (a figure for the benchmark).
    pub store_calls: usize,
    pub errors: Vec<String>,
}

/// Whether a registrant's 削除予定日 has come by `today` (no day known: nobody is due).
pub fn is_due(r: &Registrant, today: Option<Date>) -> bool {
    matches!((r.delete_on, today), (Some(d), Some(t)) if d <= t)
}

/// One page of the registrant list for a filter.
pub async fn list(scope: &TenantScope, filter: &Filter) -> Result<ListPage, InfraError> {
    let (group, errors) = parse_filter(filter);
    // The list as first opened (no filter, code order, page 1): one index page, not a walk.
    let plain = filter.code.trim().is_empty()
        && filter.name.trim().is_empty()
        && filter.attribute.is_empty()
        && filter.email.trim().is_empty()
        && filter.status.is_empty()
        && filter.retired.is_empty()
        && filter.retired_month.trim().is_empty()
        && filter.delete_month.trim().is_empty()
        && filter.due.is_empty()
        && group.is_none()
        && filter.sort != "name";
    if plain && filter.page_number() <= 1 && errors.is_empty() {
        let total = usize::try_from(
            crate::app::tenants::counters(scope)
                .await?
                .registrants
                .max(0),
        )
        .unwrap_or(0);
        let page = scope
            .query(
                &Query::partition(scope.partition(index::ALL_REGISTRANTS))
                    .on(Index::Gsi2)
                    .limit(PAGE_SIZE),
            )
            .await?;
        let read = page.items.len();
        let items = crate::app::import_gate::visible(scope, page.items).await?;
        // While a CSV import commits, its rows are in the index but not yet visible: then the
        // page is made the long way, so it still holds 50 rows.
        if items.len() == read {
            let rows: Vec<Registrant> = items.iter().filter_map(Registrant::from_item).collect();
            let (groups, batch) = group_names(scope, &rows).await?;
            return Ok(ListPage {
                total,
                page: 1,
                pages: total.div_ceil(PAGE_SIZE).max(1),
                rows,
                groups,
                store_calls: 2 + batch,
                errors,
            });
        }
    }
    let (rows, queries) = select_with(scope, filter, group).await?;
    let total = rows.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page_number().clamp(1, pages);
    let rows: Vec<Registrant> = rows
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();

    let (groups, batch) = group_names(scope, &rows).await?;
    let store_calls = queries + batch;
    Ok(ListPage {
        rows,
        total,
        page,
        pages,
        groups,
        store_calls,
        errors,
    })
}

/// Every registrant a filter selects (all pages, in list order), e.g. for the CSV download,
/// with the filter's input errors (a field in error does not filter).
pub async fn select(
    scope: &TenantScope,
    filter: &Filter,
) -> Result<(Vec<Registrant>, Vec<String>), InfraError> {
    let (group, errors) = parse_filter(filter);
    let (rows, _) = select_with(scope, filter, group).await?;
    Ok((rows, errors))
}

/// The filter's group, with the errors of the fields typed wrong.
fn parse_filter(filter: &Filter) -> (Option<GroupFilter<'_>>, Vec<String>) {
    let mut errors = Vec::new();
    let month = |raw: &str, label: &str, errors: &mut Vec<String>| {
        if let Err(e) = crate::domain::date::parse_year_month(raw.trim()) {
            if !raw.trim().is_empty() {
                errors.push(format!("{label}: {e}"));
            }
        }
    };
    // The months filter in `Matcher`; here only their errors are kept.
    month(&filter.retired_month, "退職日（年月）", &mut errors);
    month(&filter.delete_month, "削除予定日（年月）", &mut errors);
    let group = match filter.group.as_str() {
        "" => None,
        "none" => Some(GroupFilter::Ungrouped),
        id => Some(GroupFilter::Group(id)),
    };
    (group, errors)
}

/// The rows of [`select`], and the index queries it took.
async fn select_with(
    scope: &TenantScope,
    filter: &Filter,
    group: Option<GroupFilter<'_>>,
) -> Result<(Vec<Registrant>, usize), InfraError> {
    let (all, queries) = if matches!(group, Some(GroupFilter::Group(id)) if RecordId::parse(id).is_none())
    {
        (Vec::new(), 0)
    } else {
        load_all(scope, group).await?
    };
    let matcher = super::Matcher::new(filter);
    let mut rows: Vec<Registrant> = all
        .into_iter()
        .filter(|r| matcher.matches_fields(r))
        .collect();
    if filter.sort == "name" {
        rows.sort_by_cached_key(|r| (search_key(&r.kana()), search_key(&r.name()), r.id.clone()));
    }
    Ok((rows, queries))
}

/// Names of the groups the rows belong to: one batch read (none if no row has a group).
async fn group_names(
    scope: &TenantScope,
    rows: &[Registrant],
) -> Result<(HashMap<String, String>, usize), InfraError> {
    let mut ids: Vec<String> = rows.iter().filter_map(|r| r.group_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut groups = HashMap::new();
    if ids.is_empty() {
        return Ok((groups, 0));
    }
    let keys: Vec<_> = ids.iter().map(|id| scope.key(&sk::group(id))).collect();
    for item in scope.batch_get(&keys).await? {
        if let (Some(id), Some(name)) = (item.key.sk.strip_prefix("GROUP#"), item.str("name")) {
            groups.insert(id.to_string(), name.to_string());
        }
    }
    Ok((groups, 1))
}
