//! What registrants and dependents share: the checks of the fields both have (names and
//! フリガナ, sex, birth date, My Number) and the small text and date checks every form uses.
//! `app::registrants` and `app::dependents` validate their own fields and call these for the
//! common ones, in their own field order, so each form reports its problems as before.
//!
//! Limits: pure checks on typed text, no I/O; messages are Japanese and never echo a number.

use time::Date;

use crate::domain::date::parse_date;
use crate::domain::my_number::MyNumber;
use crate::domain::person::Sex;

/// Problems with a form, each on its field (`"number"`, `"family_name"`, ...).
pub type FieldErrors = Vec<(&'static str, String)>;

/// A person's name and its reading, checked.
pub struct Names {
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
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
