//! The list's search form as a test on one registrant: what the 登録者一覧 and the CSV
//! download both select. Not the paging, the sort or the reading: `list` pages the rows it
//! selects, and the download (`app::csv_io`) tests each row as it streams the store.
//! A field typed wrong (a month that is not one) does not filter; `list` reports it.

use time::Date;

use super::list::{is_due, Filter};
use super::Registrant;
use crate::domain::person::Attribute;
use crate::domain::search::search_key;
use crate::domain::status::Status;

type Month = Option<(i32, u8)>;

/// Which group a filter keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Group {
    Any,
    Ungrouped,
    Only(String),
}

/// A [`Filter`] with its fields normalised once, to test many registrants.
#[derive(Clone, Debug)]
pub struct Matcher {
    code: String,
    name: String,
    email: String,
    attribute: Option<Attribute>,
    status: Option<Status>,
    retired: String,
    group: Group,
    retired_month: Month,
    delete_month: Month,
    due: bool,
    today: Option<Date>,
}

fn month(raw: &str) -> Month {
    match raw.trim() {
        "" => None,
        m => crate::domain::date::parse_year_month(m).ok(),
    }
}

fn month_of(d: Option<Date>) -> Month {
    d.map(|d| (d.year(), u8::from(d.month())))
}

impl Matcher {
    pub fn new(filter: &Filter) -> Matcher {
        Matcher {
            code: filter.code.trim().to_lowercase(),
            name: search_key(&filter.name),
            email: filter.email.trim().to_lowercase(),
            attribute: Attribute::from_code(filter.attribute.trim()),
            status: Status::from_code(filter.status.trim()),
            retired: filter.retired.clone(),
            group: match filter.group.as_str() {
                "" => Group::Any,
                "none" => Group::Ungrouped,
                id => Group::Only(id.to_string()),
            },
            retired_month: month(&filter.retired_month),
            delete_month: month(&filter.delete_month),
            due: filter.due == "1",
            today: filter.today,
        }
    }

    /// Whether the filter's group test passes (the list reads a group's members from its
    /// index instead, so it asks only [`Matcher::matches_fields`]).
    pub fn matches_group(&self, r: &Registrant) -> bool {
        match &self.group {
            Group::Any => true,
            Group::Ungrouped => r.group_id.is_none(),
            Group::Only(id) => r.group_id.as_deref() == Some(id.as_str()),
        }
    }

    /// Whether a registrant passes every test of the filter.
    pub fn matches(&self, r: &Registrant) -> bool {
        self.matches_group(r) && self.matches_fields(r)
    }

    /// Every test but the group's.
    pub fn matches_fields(&self, r: &Registrant) -> bool {
        let p = &r.person;
        (self.code.is_empty() || r.code.to_lowercase().contains(&self.code))
            && (self.name.is_empty()
                || search_key(&format!(
                    "{}{}{}{}",
                    p.family_name, p.given_name, p.family_kana, p.given_kana
                ))
                .contains(&self.name)
                || search_key(&format!("{}{}", p.family_kana, p.given_kana)).contains(&self.name))
            && self.attribute.is_none_or(|a| r.attribute == a)
            && (self.email.is_empty()
                || r.email.as_deref().is_some_and(|m| m.contains(&self.email)))
            && self
                .status
                .is_none_or(|s| p.status == s || r.dependents_status == Some(s))
            && match self.retired.as_str() {
                "only" => r.is_retired(),
                "exclude" => !r.is_retired(),
                _ => true,
            }
            && self
                .retired_month
                .is_none_or(|m| month_of(r.retired_on) == Some(m))
            && self
                .delete_month
                .is_none_or(|m| month_of(r.delete_on) == Some(m))
            && (!self.due || is_due(r, self.today))
    }
}
