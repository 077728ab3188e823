//! One registrant as the list sees it, and how it is read back from its directory entry
//! (`app::directory::entry_item` writes it). Not here: the snapshot of all entries.

use time::Date;

use super::super::Registrant;
use crate::app::directory::{attribute_letter, entry_fields, status_letter, ENTRY};
use crate::app::person::Names;
use crate::domain::person::Attribute;
use crate::domain::search::search_key;
use crate::domain::status::Status;
use crate::ports::store::Item;

/// One registrant as the list sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: String,
    pub code: String,
    pub names: Names,
    pub attribute: Attribute,
    pub email: Option<String>,
    pub status: Status,
    pub dependents_status: Option<Status>,
    pub group_id: Option<String>,
    pub dependents: i64,
    pub has_number: bool,
    pub retired_on: Option<Date>,
    pub delete_on: Option<Date>,
    pub(super) import_id: Option<String>,
    /// Whether a CP932 download is known to hold the registrant's rows, its dependents' too
    /// (`Registrant::text_cp932`); `false` when one does not or it is not known (items
    /// written before it was kept): the download then checks the rows themselves.
    pub text_cp932: bool,
    /// Folded names + kana, and kana alone (the name search).
    pub(in crate::app::registrants) search_all: String,
    pub(in crate::app::registrants) search_kana: String,
    /// `<code>#<id>`: the 社員コード order the index has always given.
    pub(in crate::app::registrants) order: String,
    /// Folded kana, folded name: the フリガナ order (`sort=name`), ties by id.
    pub(super) name_order: (String, String),
    pub(in crate::app::registrants) code_lower: String,
}

impl Entry {
    pub fn from_registrant(r: &Registrant) -> Entry {
        let p = &r.person;
        Entry {
            id: r.id.clone(),
            code: r.code.clone(),
            names: Names {
                family_name: p.family_name.clone(),
                given_name: p.given_name.clone(),
                family_kana: p.family_kana.clone(),
                given_kana: p.given_kana.clone(),
            },
            attribute: r.attribute,
            email: r.email.clone(),
            status: p.status,
            dependents_status: r.dependents_status,
            group_id: r.group_id.clone(),
            dependents: r.dependents,
            has_number: p.number.is_some(),
            retired_on: r.retired_on,
            delete_on: r.delete_on,
            import_id: None,
            text_cp932: r.text_cp932() == Some(true),
            ..Entry::UNDERIVED
        }
        .derived()
    }

    /// The search and order keys left empty: [`Entry::derived`] fills them.
    const UNDERIVED: Entry = Entry {
        id: String::new(),
        code: String::new(),
        names: Names {
            family_name: String::new(),
            given_name: String::new(),
            family_kana: String::new(),
            given_kana: String::new(),
        },
        attribute: Attribute::Other,
        email: None,
        status: Status::Unregistered,
        dependents_status: None,
        group_id: None,
        dependents: 0,
        has_number: false,
        retired_on: None,
        delete_on: None,
        import_id: None,
        text_cp932: false,
        search_all: String::new(),
        search_kana: String::new(),
        order: String::new(),
        name_order: (String::new(), String::new()),
        code_lower: String::new(),
    };

    /// The entry with its search and order keys made from its fields.
    fn derived(mut self) -> Entry {
        let n = &self.names;
        self.search_all = search_key(&format!(
            "{}{}{}{}",
            n.family_name, n.given_name, n.family_kana, n.given_kana
        ));
        self.search_kana = search_key(&format!("{}{}", n.family_kana, n.given_kana));
        self.order = format!("{}#{}", self.code, self.id);
        self.code_lower = self.code.to_lowercase();
        self.name_order = (search_key(&self.kana()), search_key(&self.name()));
        self
    }

    pub fn name(&self) -> String {
        self.names.name()
    }

    pub fn kana(&self) -> String {
        self.names.kana()
    }

    pub fn is_retired(&self) -> bool {
        self.retired_on.is_some()
    }

    /// Whether the 削除予定日 has come by `today` (no day known: nobody is due).
    pub fn is_due(&self, today: Option<Date>) -> bool {
        matches!((self.delete_on, today), (Some(d), Some(t)) if d <= t)
    }

    /// An entry as `app::directory::entry_item` stored it (either format); `None` for one
    /// that is not a listable registrant.
    pub(super) fn from_stored(item: &Item) -> Option<Entry> {
        let id = item.key.sk.strip_prefix(ENTRY)?.to_string();
        let mut f = entry_fields(item)?;
        let mut take = |name: &str| f.remove(name).unwrap_or_default();
        let some = |text: String| (!text.is_empty()).then_some(text);
        let date = |text: String| {
            Date::parse(
                &text,
                time::macros::format_description!("[year][month][day]"),
            )
            .ok()
        };
        let status = |letter: String| {
            Status::ALL
                .into_iter()
                .find(|&s| status_letter(s) == letter)
        };
        let attribute = take("attribute");
        let names = Names {
            family_name: take("family_name"),
            given_name: take("given_name"),
            family_kana: take("family_kana"),
            given_kana: take("given_kana"),
        };
        Some(
            Entry {
                id,
                code: take("code"),
                names,
                attribute: Attribute::ALL
                    .into_iter()
                    .find(|&a| attribute_letter(a) == attribute)?,
                email: some(take("email")),
                status: status(take("status"))?,
                dependents_status: status(take("dependents_status")),
                group_id: some(take("group_id")),
                dependents: take("dependents").parse().unwrap_or(0),
                has_number: take("has_number") == "1",
                retired_on: date(take("retired_on")),
                delete_on: date(take("delete_on")),
                import_id: some(take("import_id")),
                text_cp932: take("text_cp932") == "1",
                ..Entry::UNDERIVED
            }
            .derived(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::directory as layout;
    use serde_json::Value;

    use crate::app::keys::TenantScope;
    use crate::app::person::fixtures::scope;
    use crate::app::person::{PersonCore, SealedNumber};

    fn registrant(scope: &TenantScope) -> Registrant {
        let mut person = PersonCore::new(
            Names {
                family_name: "山田".into(),
                given_name: "花子".into(),
                family_kana: "ヤマダ".into(),
                given_kana: "ハナコ".into(),
            },
            None,
            None,
            0,
        );
        person.status = Status::Pending;
        person.number = SealedNumber::read(
            &Item::new(scope.key("X"))
                .with("number", "sealed")
                .with("number_fp", "fp")
                .with("number_last4", "1234"),
        );
        Registrant {
            id: ulid::Ulid::new().to_string(),
            group_id: Some(ulid::Ulid::new().to_string()),
            code: "E001".into(),
            person,
            attribute: Attribute::ALL[1],
            email: Some("hanako@example.jp".into()),
            password_hash: Some("never listed".into()),
            login_lock: false,
            hire_date: None,
            note: String::new(),
            dependents: 2,
            dependents_unregistered: 1,
            dependents_pending: 1,
            dependents_status: Some(Status::Unregistered),
            dependents_text_cp932: Some(true),
            retired_on: Date::from_calendar_date(2026, time::Month::March, 31).ok(),
            delete_on: Date::from_calendar_date(2033, time::Month::April, 1).ok(),
            last_declaration_year: None,
        }
    }

    #[test]
    fn entry_stored_for_a_registrant_reads_back_as_the_registrant_lists() {
        // given a registrant with every listed field set, as its item is written
        let scope = scope();
        let r = registrant(&scope);
        let item = r.to_item(&scope);
        // when the directory entry is made from the item and read back
        let stored = layout::entry_item(&scope.pk(), &r.id, &item);
        let read = Entry::from_stored(&stored).expect("an entry");
        // then it equals the registrant's own entry, and holds no secret
        assert_eq!(read, Entry::from_registrant(&r));
        let raw = stored.str(layout::ENTRY_ATTR).unwrap_or_default();
        assert!(
            !raw.contains("sealed") && !raw.contains("never listed"),
            "{raw}"
        );
    }

    #[test]
    fn entry_says_cp932_fits_only_when_the_registrant_item_says_so() {
        // given a registrant whose rows fit CP932, one whose dependent's do not, and an
        // entry written before the flag was kept (its last field left off)
        let scope = scope();
        let fits = registrant(&scope);
        let mut spoilt = registrant(&scope);
        spoilt.dependents_text_cp932 = Some(false);
        let entry = |r: &Registrant| {
            Entry::from_stored(&layout::entry_item(&scope.pk(), &r.id, &r.to_item(&scope)))
        };
        let mut old = layout::entry_item(&scope.pk(), &fits.id, &fits.to_item(&scope));
        let raw = old.str(layout::ENTRY_ATTR).unwrap_or_default();
        let (before, flag) = raw.rsplit_once('\u{1f}').unwrap_or_default();
        assert_eq!(flag, "1");
        old.attrs
            .insert(layout::ENTRY_ATTR.into(), Value::from(before.to_string()));
        // then only the first is known to fit; the others make a download check the rows
        assert_eq!(entry(&fits).map(|e| e.text_cp932), Some(true));
        assert_eq!(entry(&spoilt).map(|e| e.text_cp932), Some(false));
        let old = Entry::from_stored(&old).expect("an entry");
        assert_eq!((old.code.as_str(), old.text_cp932), ("E001", false));
    }

    #[test]
    fn entry_reads_back_text_holding_the_separator_and_backslashes() {
        // given a registrant whose name holds the field separator and backslashes
        let scope = scope();
        let mut r = registrant(&scope);
        r.person.given_name = "花\u{1f}子\\s".into();
        r.email = None;
        r.group_id = None;
        r.retired_on = None;
        r.delete_on = None;
        let stored = layout::entry_item(&scope.pk(), &r.id, &r.to_item(&scope));
        // then it reads back as it was
        assert_eq!(
            Entry::from_stored(&stored),
            Some(Entry::from_registrant(&r))
        );
    }

    #[test]
    fn entry_in_the_first_format_reads_back_as_the_registrant_lists() {
        // given an entry as the first format wrote it: a JSON array in ENTRY_ATTRS order
        let scope = scope();
        let r = registrant(&scope);
        let item = r.to_item(&scope);
        let wire: Vec<Value> = layout::ENTRY_ATTRS
            .iter()
            .map(|&name| match name {
                "has_number" => Value::from(true),
                name => item.attrs.get(name).cloned().unwrap_or(Value::Null),
            })
            .collect();
        let legacy = Item::new(scope.key(&format!("{}{}", layout::ENTRY, r.id)))
            .with(layout::LEGACY_ENTRY_ATTR, Value::from(wire).to_string());
        // then it reads back as the registrant's entry
        assert_eq!(
            Entry::from_stored(&legacy),
            Some(Entry::from_registrant(&r))
        );
    }
}
