//! What registrants and dependents share: the checks of the fields both have (names and
//! フリガナ, sex, birth date, My Number) and the small text and date checks every form uses.
//! `app::registrants` and `app::dependents` validate their own fields and call these for the
//! common ones, in their own field order, so each form reports its problems as before.
//!
//! Also the record core both embed ([`PersonCore`], read and written alike), the sealed number
//! and the approver's reasons.
//!
//! Limits: pure code, no I/O; messages are Japanese and never echo a number.

use serde_json::{Map, Value};
use time::Date;

use crate::domain::date::parse_date;
use crate::domain::my_number::MyNumber;
use crate::domain::person::Sex;
use crate::domain::status::Status;
use crate::ports::store::Item;

/// A registrant's or a dependent's own record: the fields both have, read from and written to
/// their items alike ([`PersonCore::read`], [`PersonCore::write`]). Each entity reads and
/// writes its own key and its own fields around this.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonCore {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<Date>,
    pub number: Option<SealedNumber>,
    pub status: Status,
    /// Document images (`image_<kind>` → object name, `image_<kind>_at` → when), kept as
    /// stored; `app::images` writes them.
    pub images: Map<String, Value>,
    /// The approver's last 差戻し / 拒否 reasons (`app::approval` writes them).
    pub review: Review,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PersonCore {
    /// A new record's core from checked names, without number, images or reasons.
    pub fn new(names: Names, sex: Option<Sex>, birth_date: Option<Date>, now: i64) -> PersonCore {
        let mut core = PersonCore {
            family_name: String::new(),
            given_name: String::new(),
            family_kana: String::new(),
            given_kana: String::new(),
            sex,
            birth_date,
            number: None,
            status: Status::Unregistered,
            images: Map::new(),
            review: Review::default(),
            created_at: now,
            updated_at: now,
        };
        core.set_names(names);
        core
    }

    /// 「山田 太郎」.
    pub fn name(&self) -> String {
        full_name(&self.family_name, &self.given_name)
    }

    /// 「ヤマダ タロウ」, or empty.
    pub fn kana(&self) -> String {
        full_kana(&self.family_kana, &self.given_kana)
    }

    pub fn set_names(&mut self, names: Names) {
        let Names {
            family_name,
            given_name,
            family_kana,
            given_kana,
        } = names;
        self.family_name = family_name;
        self.given_name = given_name;
        self.family_kana = family_kana;
        self.given_kana = given_kana;
    }

    /// The common attributes on the record's item. The birth date is written only when
    /// known (a registrant's item also says so when it is not: `Registrant::to_item`).
    pub fn write(&self, item: &mut Item) {
        for (name, v) in [
            ("family_name", self.family_name.as_str()),
            ("given_name", self.given_name.as_str()),
            ("family_kana", self.family_kana.as_str()),
            ("given_kana", self.given_kana.as_str()),
            ("status", self.status.code()),
        ] {
            item.attrs.insert(name.into(), Value::from(v));
        }
        item.attrs
            .insert("created_at".into(), Value::from(self.created_at));
        item.attrs
            .insert("updated_at".into(), Value::from(self.updated_at));
        item.attrs.extend(self.images.clone());
        if let Some(s) = self.sex {
            item.attrs.insert("sex".into(), Value::from(s.code()));
        }
        if let Some(d) = self.birth_date {
            item.attrs
                .insert("birth_date".into(), Value::from(d.to_string()));
        }
        if let Some(n) = &self.number {
            n.write(item);
        }
        self.review.write(item);
    }

    /// The common attributes of a stored record; `None` without a family name or a known
    /// status (not a person's item).
    pub fn read(item: &Item) -> Option<PersonCore> {
        let s = |k: &str| item.str(k).map(str::to_string);
        Some(PersonCore {
            family_name: s("family_name")?,
            given_name: s("given_name").unwrap_or_default(),
            family_kana: s("family_kana").unwrap_or_default(),
            given_kana: s("given_kana").unwrap_or_default(),
            sex: item.str("sex").and_then(Sex::from_code),
            birth_date: read_date(item, "birth_date"),
            number: SealedNumber::read(item),
            status: Status::from_code(item.str("status")?)?,
            images: item
                .attrs
                .iter()
                .filter(|(k, _)| k.starts_with("image_"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            review: Review::read(item),
            created_at: item.i64("created_at").unwrap_or(0),
            updated_at: item.i64("updated_at").unwrap_or(0),
        })
    }
}

/// A stored ISO date (`2024-04-01`); `None` when absent, null or not a date.
pub fn read_date(item: &Item, name: &str) -> Option<Date> {
    item.str(name).and_then(|v| {
        Date::parse(v, time::macros::format_description!("[year]-[month]-[day]")).ok()
    })
}

/// A sealed number as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedNumber {
    pub sealed: String,
    pub fingerprint: String,
    pub last4: String,
}

impl SealedNumber {
    /// The attributes holding a sealed number on a registrant's or dependent's item.
    pub fn write(&self, item: &mut Item) {
        item.attrs
            .insert("number".into(), Value::from(self.sealed.as_str()));
        item.attrs
            .insert("number_fp".into(), Value::from(self.fingerprint.as_str()));
        item.attrs
            .insert("number_last4".into(), Value::from(self.last4.as_str()));
    }

    pub fn read(item: &Item) -> Option<SealedNumber> {
        Some(SealedNumber {
            sealed: item.str("number")?.to_string(),
            fingerprint: item.str("number_fp")?.to_string(),
            last4: item.str("number_last4")?.to_string(),
        })
    }

    pub fn masked(&self) -> String {
        format!("********{}", self.last4)
    }
}

/// The approver's last reasons on a record, kept as the attributes `sent_back_reason` (shown on
/// the detail page and to the registrant) and `refused_reason`. 承認 clears both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Review {
    pub sent_back_reason: Option<String>,
    pub refused_reason: Option<String>,
}

impl Review {
    const SENT_BACK: &'static str = "sent_back_reason";
    const REFUSED: &'static str = "refused_reason";

    pub fn write(&self, item: &mut Item) {
        for (name, value) in [
            (Self::SENT_BACK, &self.sent_back_reason),
            (Self::REFUSED, &self.refused_reason),
        ] {
            if let Some(v) = value {
                item.attrs.insert(name.into(), Value::from(v.as_str()));
            }
        }
    }

    pub fn read(item: &Item) -> Review {
        let s = |k: &str| item.str(k).map(str::to_string);
        Review {
            sent_back_reason: s(Self::SENT_BACK),
            refused_reason: s(Self::REFUSED),
        }
    }
}

/// The longest name a one-line name field takes.
pub const MAX_NAME: usize = 100;

/// A required one-line text (a name): trimmed, at most [`MAX_NAME`] characters, no control
/// characters, no My Number. Shared by sign-up and the login user form (`app::users`).
pub(crate) fn required(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    value: &str,
) -> String {
    let v = value.trim().to_string();
    if v.is_empty() {
        errors.push((field, format!("{label}を入力してください。")));
    } else if v.chars().count() > MAX_NAME {
        errors.push((
            field,
            format!("{label}は{MAX_NAME}文字以内で入力してください。"),
        ));
    } else if v.chars().any(char::is_control) {
        errors.push((
            field,
            format!("{label}に使用できない文字が含まれています。"),
        ));
    } else if let Err(e) = crate::domain::text::refuse_my_number(label, &v) {
        errors.push((field, e.to_string()));
    }
    v
}

/// Problems with a form, each on its field (`"number"`, `"family_name"`, ...).
pub type FieldErrors = Vec<(&'static str, String)>;

/// 氏名（姓・名）and フリガナ（セイ・メイ）as typed: the part of the registrant's and the
/// dependent's forms they share (flattened into both, so the posted field names stay).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct NamesForm {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
}

impl NamesForm {
    /// The names of a stored record, for editing.
    pub fn of(p: &PersonCore) -> NamesForm {
        NamesForm {
            family_name: p.family_name.clone(),
            given_name: p.given_name.clone(),
            family_kana: p.family_kana.clone(),
            given_kana: p.given_kana.clone(),
        }
    }

    /// Checks them in that order; 姓 is always required, 名 when `given_required` (a
    /// dependent's).
    pub fn check(&self, errors: &mut FieldErrors, given_required: bool) -> Names {
        names(
            errors,
            [
                &self.family_name,
                &self.given_name,
                &self.family_kana,
                &self.given_kana,
            ],
            given_required,
        )
    }

    /// The fields as a form posts them (the 入力確認 page's hidden fields).
    pub fn fields(&self) -> [(&'static str, String); 4] {
        [
            ("family_name", self.family_name.clone()),
            ("given_name", self.given_name.clone()),
            ("family_kana", self.family_kana.clone()),
            ("given_kana", self.given_kana.clone()),
        ]
    }
}

/// A person's name and its reading, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
}

impl Names {
    /// 「山田 太郎」.
    pub fn name(&self) -> String {
        full_name(&self.family_name, &self.given_name)
    }

    /// 「ヤマダ タロウ」, or empty.
    pub fn kana(&self) -> String {
        full_kana(&self.family_kana, &self.given_kana)
    }
}

fn full_name(family: &str, given: &str) -> String {
    format!("{family} {given}")
}

fn full_kana(family: &str, given: &str) -> String {
    format!("{family} {given}").trim().to_string()
}

/// 氏名（姓・名）and フリガナ（セイ・メイ）as typed, in that order; 姓 is always required,
/// 名 when `given_required` (a dependent's).
pub fn names(errors: &mut FieldErrors, typed: [&str; 4], given_required: bool) -> Names {
    let [family, given, family_kana, given_kana] = typed;
    Names {
        family_name: text(errors, "family_name", "氏名（姓）", family, 50, true),
        given_name: text(
            errors,
            "given_name",
            "氏名（名）",
            given,
            50,
            given_required,
        ),
        family_kana: text(
            errors,
            "family_kana",
            "フリガナ（セイ）",
            family_kana,
            50,
            false,
        ),
        given_kana: text(
            errors,
            "given_kana",
            "フリガナ（メイ）",
            given_kana,
            50,
            false,
        ),
    }
}

/// 性別: empty, or one of the codes.
pub fn sex(errors: &mut FieldErrors, raw: &str) -> Option<Sex> {
    match raw.trim() {
        "" => None,
        s => Sex::from_code(s).or_else(|| {
            errors.push(("sex", "性別を選択してください。".into()));
            None
        }),
    }
}

/// 生年月日: empty, or a date (Western or era forms) not after `today`.
pub fn birth_date(errors: &mut FieldErrors, raw: &str, today: Date) -> Option<Date> {
    let birth_date = optional_date(errors, "birth_date", "生年月日", raw);
    if birth_date.is_some_and(|d| d > today) {
        errors.push((
            "birth_date",
            "生年月日に未来の日付は入力できません。".into(),
        ));
    }
    birth_date
}

/// マイナンバー: empty, or twelve digits with a valid check digit.
pub fn number(errors: &mut FieldErrors, raw: &str) -> Option<MyNumber> {
    if raw.is_empty() {
        return None;
    }
    MyNumber::parse(raw)
        .map_err(|err| errors.push(("number", err.to_string())))
        .ok()
}

/// A short typed value: trimmed, required or not, at most `max` characters, no control
/// characters. 社員コード is one: an employer's own 12-digit codes must stay possible, and
/// its format (ASCII letters, digits, `-`, `_`) is checked on its own.
pub(super) fn identifier(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    raw: &str,
    max: usize,
    required: bool,
) -> String {
    let v = raw.trim().to_string();
    if v.is_empty() && required {
        errors.push((field, format!("{label}を入力してください。")));
    } else if v.chars().count() > max {
        errors.push((field, format!("{label}は{max}文字以内で入力してください。")));
    } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        errors.push((
            field,
            format!("{label}に使用できない文字が含まれています。"),
        ));
    }
    v
}

/// A free-text field: [`identifier`]'s checks, and no My Number in it (free text is shown
/// and exported in clear).
pub(super) fn text(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    raw: &str,
    max: usize,
    required: bool,
) -> String {
    let before = errors.len();
    let v = identifier(errors, field, label, raw, max, required);
    if errors.len() == before {
        if let Err(e) = crate::domain::text::refuse_my_number(label, &v) {
            errors.push((field, e.to_string()));
        }
    }
    v
}

pub(super) fn optional_date(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    raw: &str,
) -> Option<Date> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match parse_date(raw) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.push((field, format!("{label}: {e}")));
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Stored items as they have always looked, for the entities' item tests.
    use std::sync::Arc;

    use serde_json::{json, Value};

    use crate::app::keys::{TenantId, TenantScope};
    use crate::ports::store::{Item, Key};

    pub(crate) fn scope() -> TenantScope {
        let db = crate::adapters::embedded::SqliteDb::in_memory().unwrap();
        TenantScope::new(TenantId::new(), Arc::new(db.table("main").unwrap()))
    }

    pub(crate) fn item(key: Key, attrs: Value) -> Item {
        let mut item = Item::new(key);
        if let Value::Object(map) = attrs {
            item.attrs.extend(map);
        }
        item
    }

    /// The attributes both entities have stored since before the core existed.
    pub(crate) fn common(birth_date: Value) -> Value {
        json!({
            "family_name": "山田", "given_name": "花子", "family_kana": "ヤマダ",
            "given_kana": "ハナコ", "sex": "female", "status": "pending", "birth_date": birth_date,
            "number": "sealed", "number_fp": "fp", "number_last4": "1234",
            "image_number": "obj", "image_number_at": 1700000000, "sent_back_reason": "暗い",
            "created_at": 1700000000, "updated_at": 1700000001,
        })
    }

    pub(crate) fn merged(mut a: Value, b: Value) -> Value {
        if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
            a.extend(b);
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::fixtures::{common, item, scope};
    use super::*;
    use crate::app::keys::sk;

    #[test]
    fn core_is_not_read_when_status_or_family_name_is_missing() {
        let scope = scope();
        let key = || scope.key(&sk::registrant("01J0REG"));
        let without = |name: &str| {
            let mut attrs = common(Value::Null);
            attrs.as_object_mut().map(|a| a.remove(name));
            item(key(), attrs)
        };
        assert!(PersonCore::read(&item(key(), common(Value::Null))).is_some());
        assert!(PersonCore::read(&without("status")).is_none());
        assert!(PersonCore::read(&without("family_name")).is_none());
    }
}
