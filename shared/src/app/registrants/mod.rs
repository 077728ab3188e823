//! Registrants (マイナンバー登録者, manual ch.6, 10, 11): staff, contractors and other payees
//! whose numbers the company keeps. One item per registrant in the tenant partition, indexed
//! by group (GSI1) and for the whole tenant (GSI2), both in 社員コード order.
//!
//! Every write is one transaction holding the registrant, its 社員コード claim, its number
//! fingerprint, the HOME counters' deltas and nothing else, so counters never drift and a
//! failed write leaves nothing behind. Numbers are sealed by `app::vault` with the registrant
//! id as associated data; only the last four digits are kept in clear, for masked display.
//!
//! The fields a registrant shares with a dependent are its `person` ([`PersonCore`], read and
//! written once in `app::person`); its own fields and key are written around it.
//!
//! This file holds the entity and its item mapping and the single reads; the rest lives by
//! concern in `validate` (the form), `save` (the write path), `groups` (membership), `list`
//! (search and paging, and `row_test`: the search form as a test on one registrant), all
//! re-exported here so callers keep using `registrants::…`.

pub mod directory;
mod groups;
mod list;
mod save;
mod validate;

use std::collections::HashMap;

use serde_json::Value;
use time::{Date, OffsetDateTime};

use super::download::fits_cp932;
use super::keys::{index, sk, RecordId, TenantScope};
use super::person::{read_date, PersonCore};
use super::tenants::Counters;
use super::InfraError;
use crate::domain::person::Attribute;
use crate::domain::search::search_key;
use crate::domain::status::Status;
use crate::ports::store::Item;

pub use super::person::{FieldErrors, SealedNumber};
pub use groups::{delete_group, join_group};
pub use list::{
    for_each_selected, is_due, list, load_all, row_test, select, Filter, GroupFilter, ListPage,
    PAGE_SIZE,
};
pub use save::{
    check_plan, check_return, create, duplicates, room_left, update, Duplicate, SaveError,
};
pub(super) use save::{
    claim_ops, commit, commit_with, counted_people, counter_delta, seal_unique, set_number,
};
pub use validate::{check_retention, validate, RegistrantForm, RetentionDates, Valid};

#[derive(Clone, Debug, PartialEq)]
pub struct Registrant {
    pub id: String,
    pub group_id: Option<String>,
    pub code: String,
    /// Names, sex, birth date, number, status, images, reasons and times, as a dependent has.
    pub person: PersonCore,
    pub attribute: Attribute,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub login_lock: bool,
    pub hire_date: Option<Date>,
    pub note: String,
    /// Dependents, and how many of them are 未登録 / 承認待 (HOME counts them).
    pub dependents: i64,
    pub dependents_unregistered: i64,
    pub dependents_pending: i64,
    /// The dependents' aggregate status (lowest wins), `None` without dependents.
    pub dependents_status: Option<Status>,
    /// Whether CP932 holds every text cell of the dependents' CSV rows (part of their
    /// summary, recomputed with it); `None` when unknown (a summary written before it was
    /// kept).
    pub dependents_text_cp932: Option<bool>,
    pub retired_on: Option<Date>,
    pub delete_on: Option<Date>,
    /// The year of the last 扶養控除等申告書, the other basis of the proposed 削除予定日.
    pub last_declaration_year: Option<i32>,
}

impl Registrant {
    /// A new registrant from a checked form, without dependents.
    pub fn new(
        id: String,
        valid: Valid,
        number: Option<SealedNumber>,
        password_hash: Option<String>,
        status: Status,
        now: i64,
    ) -> Registrant {
        let mut person = PersonCore::new(valid.names, valid.sex, valid.birth_date, now);
        person.number = number;
        person.status = status;
        Registrant {
            id,
            group_id: valid.group_id,
            code: valid.code,
            person,
            attribute: valid.attribute,
            email: valid.email,
            password_hash,
            login_lock: valid.login_lock,
            hire_date: valid.hire_date,
            note: valid.note,
            dependents: 0,
            dependents_unregistered: 0,
            dependents_pending: 0,
            dependents_status: None,
            dependents_text_cp932: Some(true),
            retired_on: valid.retention.retired_on,
            delete_on: valid.retention.delete_on,
            last_declaration_year: valid.retention.last_declaration_year,
        }
    }

    pub fn name(&self) -> String {
        self.person.name()
    }

    pub fn kana(&self) -> String {
        self.person.kana()
    }

    pub fn is_retired(&self) -> bool {
        self.retired_on.is_some()
    }

    /// This registrant's share of HOME's counters.
    pub fn counts(&self) -> Counters {
        let retired = i64::from(self.is_retired());
        Counters {
            registrants: 1,
            unregistered: i64::from(self.person.status == Status::Unregistered),
            pending: i64::from(self.person.status == Status::Pending),
            retired,
            dependents: self.dependents,
            dependents_unregistered: self.dependents_unregistered,
            dependents_pending: self.dependents_pending,
            dependents_retired: self.dependents * retired,
        }
    }

    /// Whether CP932 holds every text cell of this registrant's own CSV row (社員コード,
    /// names, kana, email, 備考; the rest are digits, dates and fixed labels, the group
    /// name is the group's).
    pub fn own_text_fits_cp932(&self) -> bool {
        let p = &self.person;
        [
            self.code.as_str(),
            &p.family_name,
            &p.given_name,
            &p.family_kana,
            &p.given_kana,
            self.email.as_deref().unwrap_or_default(),
            &self.note,
        ]
        .into_iter()
        .all(fits_cp932)
    }

    /// Whether a CP932 download holds this registrant's rows, its dependents' included
    /// (stored as `text_cp932` and copied into the directory, so a download knows without
    /// reading the rows); `None` when unknown.
    pub fn text_cp932(&self) -> Option<bool> {
        if self.own_text_fits_cp932() {
            self.dependents_text_cp932
        } else {
            Some(false)
        }
    }

    fn index_sort_key(&self) -> String {
        format!("{}#{}", self.code, self.id)
    }

    pub fn to_item(&self, scope: &TenantScope) -> Item {
        let date = |d: &Option<Date>| d.map(|d| Value::from(d.to_string())).unwrap_or(Value::Null);
        let p = &self.person;
        let mut item = Item::new(scope.key(&sk::registrant(&self.id)))
            .with("kind", "registrant")
            .with(
                "gsi1pk",
                scope.partition(&index::group_members(self.group_id.as_deref())),
            )
            .with("gsi1sk", self.index_sort_key())
            .with("gsi2pk", scope.partition(index::ALL_REGISTRANTS))
            .with("gsi2sk", self.index_sort_key())
            .with("code", self.code.as_str())
            .with(
                "search",
                search_key(&format!(
                    "{}{}{}{}",
                    p.family_name, p.given_name, p.family_kana, p.given_kana
                )),
            )
            .with("attribute", self.attribute.code())
            .with("login_lock", self.login_lock)
            .with("note", self.note.as_str())
            .with("dependents", self.dependents)
            .with("dependents_unregistered", self.dependents_unregistered)
            .with("dependents_pending", self.dependents_pending)
            // A registrant's item has always said so when a date is unknown.
            .with("birth_date", date(&p.birth_date))
            .with("hire_date", date(&self.hire_date))
            .with("retired_on", date(&self.retired_on))
            .with("delete_on", date(&self.delete_on));
        p.write(&mut item);
        let mut opt = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                item.attrs.insert(name.into(), Value::from(v));
            }
        };
        opt("group_id", self.group_id.clone());
        opt(
            "last_declaration_year",
            self.last_declaration_year.map(|y| y.to_string()),
        );
        opt("email", self.email.clone());
        opt("password_hash", self.password_hash.clone());
        opt(
            "dependents_status",
            self.dependents_status.map(|s| s.code().to_string()),
        );
        for (name, flag) in [
            ("dependents_text_cp932", self.dependents_text_cp932),
            ("text_cp932", self.text_cp932()),
        ] {
            if let Some(flag) = flag {
                item.attrs.insert(name.into(), Value::from(flag));
            }
        }
        item
    }

    pub fn from_item(item: &Item) -> Option<Registrant> {
        let s = |k: &str| item.str(k).map(str::to_string);
        let date = |k: &str| read_date(item, k);
        let dependents = item.i64("dependents").unwrap_or(0);
        Some(Registrant {
            id: item.key.sk.strip_prefix("REG#")?.to_string(),
            group_id: s("group_id"),
            code: s("code").unwrap_or_default(),
            person: PersonCore::read(item)?,
            attribute: Attribute::from_code(item.str("attribute")?)?,
            email: s("email"),
            password_hash: s("password_hash"),
            login_lock: item.bool("login_lock").unwrap_or(false),
            hire_date: date("hire_date"),
            note: s("note").unwrap_or_default(),
            dependents,
            dependents_unregistered: item.i64("dependents_unregistered").unwrap_or(0),
            dependents_pending: item.i64("dependents_pending").unwrap_or(0),
            dependents_status: item.str("dependents_status").and_then(Status::from_code),
            // Without dependents there is nothing to doubt.
            dependents_text_cp932: item
                .bool("dependents_text_cp932")
                .or((dependents == 0).then_some(true)),
            retired_on: date("retired_on"),
            delete_on: date("delete_on"),
            last_declaration_year: item
                .str("last_declaration_year")
                .and_then(|y| y.parse().ok()),
        })
    }
}

/// Registrants by id (missing ones left out), in the order asked.
pub async fn get_many(scope: &TenantScope, ids: &[String]) -> Result<Vec<Registrant>, InfraError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(100) {
        let keys: Vec<_> = chunk
            .iter()
            .filter_map(|id| RecordId::parse(id))
            .map(|id| scope.key(&sk::registrant(id.as_str())))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let items = super::import_gate::visible(scope, scope.batch_get(&keys).await?).await?;
        for item in items {
            if let Some(r) = Registrant::from_item(&item) {
                found.insert(r.id.clone(), r);
            }
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub async fn get(scope: &TenantScope, id: &str) -> Result<Option<Registrant>, InfraError> {
    let Some(id) = RecordId::parse(id) else {
        return Ok(None);
    };
    let Some(item) = scope.get(&scope.key(&sk::registrant(id.as_str()))).await? else {
        return Ok(None);
    };
    // A row of a CSV import still being committed is not there yet.
    if !super::import_gate::visible(scope, vec![item.clone()])
        .await?
        .is_empty()
    {
        return Ok(Registrant::from_item(&item));
    }
    Ok(None)
}

pub fn today(now: OffsetDateTime) -> Date {
    now.to_offset(time::macros::offset!(+9)).date()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::app::person::fixtures::{common, item, merged, scope};

    #[test]
    fn text_cp932_is_false_when_any_own_text_cell_lacks_a_code_and_unknown_with_old_dependents() {
        // given a registrant whose cells fit, as a new one is made
        let scope = scope();
        let stored = item(
            scope.key(&sk::registrant("01J0REG")),
            merged(
                common(Value::Null),
                json!({"kind": "registrant", "code": "E1", "attribute": "employee1",
                       "note": "〜", "email": "a@example.jp", "dependents": 0}),
            ),
        );
        let fits = Registrant::from_item(&stored).expect("a registrant");
        assert_eq!(fits.text_cp932(), Some(true), "a look-alike fits");
        assert_eq!(fits.to_item(&scope).bool("text_cp932"), Some(true));
        // when any one of its own text cells holds 𠮷, then it does not fit
        let spoilt: [fn(&mut Registrant); 7] = [
            |r| r.code = "𠮷".into(),
            |r| r.person.family_name = "𠮷".into(),
            |r| r.person.given_name = "𠮷".into(),
            |r| r.person.family_kana = "𠮷".into(),
            |r| r.person.given_kana = "𠮷".into(),
            |r| r.email = Some("𠮷@example.jp".into()),
            |r| r.note = "𠮷".into(),
        ];
        for spoil in spoilt {
            let mut r = fits.clone();
            spoil(&mut r);
            assert_eq!(r.to_item(&scope).bool("text_cp932"), Some(false));
        }
        // when its dependents' summary predates the flag, then it is unknown (not written)
        let mut old = stored.clone();
        old.attrs.insert("dependents".into(), json!(2));
        let r = Registrant::from_item(&old).expect("a registrant");
        assert_eq!(r.text_cp932(), None);
        assert!(!r.to_item(&scope).attrs.contains_key("text_cp932"));
    }

    #[test]
    fn registrant_item_comes_back_attribute_for_attribute_when_read_and_written() {
        // given a stored registrant as items have always looked, with and without a birth date
        let scope = scope();
        for birth_date in [Value::Null, json!("1990-04-01")] {
            let stored = item(
                scope.key(&sk::registrant("01J0REG")),
                merged(
                    common(birth_date.clone()),
                    json!({
                        "kind": "registrant", "code": "E1", "attribute": "employee1",
                        "login_lock": false, "note": "", "dependents": 0,
                        "dependents_unregistered": 0, "dependents_pending": 0,
                        "hire_date": null, "retired_on": null, "delete_on": null,
                        "email": "a@example.jp",
                    }),
                ),
            );
            // when it is read and written again
            let r = Registrant::from_item(&stored).expect("a registrant");
            let written = r.to_item(&scope);
            // then the core holds the shared fields and every stored attribute is unchanged
            assert_eq!(r.person.name(), "山田 花子");
            assert_eq!(
                r.person.number.as_ref().map(|n| n.masked()).as_deref(),
                Some("********1234")
            );
            assert_eq!(r.person.birth_date.is_some(), !birth_date.is_null());
            for (name, value) in &stored.attrs {
                assert_eq!(written.attrs.get(name), Some(value), "attribute {name}");
            }
        }
    }
}
