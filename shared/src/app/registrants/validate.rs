//! The registrant form and its validation (入力チェック): the posted strings, checked in the
//! manual's field order, into a [`Valid`] ready to save. A 退職日 without a 削除予定日 gets the
//! statutory proposal (`domain::retention`), shown with its basis on 入力確認.

use time::Date;

use super::Registrant;
use crate::app::groups::Group;
use crate::app::person::FieldErrors;
use crate::app::person::{self, identifier, optional_date, text, Names, NamesForm};
use crate::domain::date::format_slash;
use crate::domain::identity::Email;
use crate::domain::my_number::MyNumber;
use crate::domain::person::{Attribute, Sex};
use crate::domain::retention::{propose, Proposal};

/// The add/edit form as typed (all text, so a refused form comes back as it was).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct RegistrantForm {
    pub group_id: String,
    pub code: String,
    #[serde(flatten)]
    pub names: NamesForm,
    pub attribute: String,
    pub email: String,
    pub password: String,
    pub login_lock: String,
    pub sex: String,
    pub birth_date: String,
    pub hire_date: String,
    pub retired_on: String,
    pub delete_on: String,
    /// The year of the last 扶養控除等申告書 (blank: the retirement year).
    pub last_declaration_year: String,
    pub note: String,
    pub number1: String,
    pub number2: String,
    pub number3: String,
}

impl RegistrantForm {
    pub fn number_input(&self) -> String {
        format!(
            "{}{}{}",
            self.number1.trim(),
            self.number2.trim(),
            self.number3.trim()
        )
    }

    /// The form filled from a stored registrant (for editing; the number boxes stay empty).
    pub fn from_registrant(r: &Registrant) -> RegistrantForm {
        let date = |d: Option<Date>| d.map(format_slash).unwrap_or_default();
        RegistrantForm {
            group_id: r.group_id.clone().unwrap_or_default(),
            code: r.code.clone(),
            names: NamesForm::of(&r.person),
            attribute: r.attribute.code().to_string(),
            email: r.email.clone().unwrap_or_default(),
            password: String::new(),
            login_lock: if r.login_lock {
                "on".into()
            } else {
                String::new()
            },
            sex: r
                .person
                .sex
                .map(|s| s.code().to_string())
                .unwrap_or_default(),
            birth_date: date(r.person.birth_date),
            hire_date: date(r.hire_date),
            retired_on: date(r.retired_on),
            delete_on: date(r.delete_on),
            last_declaration_year: r
                .last_declaration_year
                .map(|y| y.to_string())
                .unwrap_or_default(),
            note: r.note.clone(),
            number1: String::new(),
            number2: String::new(),
            number3: String::new(),
        }
    }
}

/// A checked form.
#[derive(Clone, Debug)]
pub struct Valid {
    pub group_id: Option<String>,
    pub code: String,
    pub names: Names,
    pub attribute: Attribute,
    pub email: Option<String>,
    pub password: Option<String>,
    pub login_lock: bool,
    pub sex: Option<Sex>,
    pub birth_date: Option<Date>,
    pub hire_date: Option<Date>,
    pub retention: RetentionDates,
    pub note: String,
    pub number: Option<MyNumber>,
}

/// 退職日, 削除予定日 and the last 申告書 year as checked; `proposed` when the 削除予定日 is the
/// statutory proposal rather than typed.
#[derive(Clone, Debug, Default)]
pub struct RetentionDates {
    pub retired_on: Option<Date>,
    pub delete_on: Option<Date>,
    pub last_declaration_year: Option<i32>,
    pub proposed: Option<Proposal>,
}

/// Checks the three retention fields (the form's and the CSV's one rule): a 削除予定日 after
/// the 退職日, a plausible 申告書 year, and the proposal when only a 退職日 is given.
pub fn check_retention(
    e: &mut FieldErrors,
    retired_on: &str,
    delete_on: &str,
    last_declaration_year: &str,
    hire_date: Option<Date>,
    years: u8,
) -> RetentionDates {
    let retired = optional_date(e, "retired_on", "退職日", retired_on);
    let mut delete = optional_date(e, "delete_on", "マイナンバー削除予定日", delete_on);
    let last = match last_declaration_year.trim() {
        "" => None,
        raw => match raw.parse::<i32>() {
            Ok(y) if (1990..=2200).contains(&y) => Some(y),
            _ => {
                e.push((
                    "last_declaration_year",
                    "最終申告書年は西暦4桁（例: 2025）で入力してください。".into(),
                ));
                None
            }
        },
    };
    if let (Some(hire), Some(retired)) = (hire_date, retired) {
        if retired < hire {
            e.push((
                "retired_on",
                "退職日が入社日より前になっています。退職日と入社日をご確認ください。".into(),
            ));
        }
    }
    if let (Some(retired), Some(d)) = (retired, delete) {
        if d <= retired {
            e.push((
                "delete_on",
                "マイナンバー削除予定日は退職日より後の日付を入力してください。".into(),
            ));
        }
    }
    let mut proposed = None;
    if let (Some(retired), None, true) = (retired, delete, delete_on.trim().is_empty()) {
        let p = propose(retired, last, years);
        delete = Some(p.delete_on);
        proposed = Some(p);
    }
    RetentionDates {
        retired_on: retired,
        delete_on: delete,
        last_declaration_year: last,
        proposed,
    }
}

/// Checks every field; all problems at once, each on its field.
pub fn validate(
    form: &RegistrantForm,
    groups: &[Group],
    today: Date,
    retention_years: u8,
) -> Result<Valid, FieldErrors> {
    let mut e = FieldErrors::new();
    let group_id = match form.group_id.trim() {
        "" => None,
        id if groups.iter().any(|g| g.id == id) => Some(id.to_string()),
        _ => {
            e.push(("group_id", "選択されたグループが見つかりません。".into()));
            None
        }
    };
    let code = identifier(&mut e, "code", "社員コード", &form.code, 20, false);
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        e.push((
            "code",
            "社員コードは半角英数字・ハイフン・アンダーバーで入力してください。".into(),
        ));
    }
    let names = form.names.check(&mut e, false);
    let attribute = match Attribute::from_code(form.attribute.trim()) {
        Some(a) => Some(a),
        None => {
            e.push(("attribute", "属性を選択してください。".into()));
            None
        }
    };
    let email = match form.email.trim() {
        "" => None,
        raw => match Email::parse(raw) {
            Ok(m) => Some(m.as_str().to_string()),
            Err(err) => {
                e.push(("email", err.to_string()));
                None
            }
        },
    };
    let password = match form.password.as_str() {
        "" => None,
        pw => {
            if let Err(problems) =
                crate::domain::identity::check_password_strength(pw, email.as_deref())
            {
                e.extend(
                    problems
                        .into_iter()
                        .map(|p| ("password", format!("ログインパスワード: {p}"))),
                );
            }
            Some(pw.to_string())
        }
    };
    let sex = person::sex(&mut e, &form.sex);
    let birth_date = person::birth_date(&mut e, &form.birth_date, today);
    let hire_date = optional_date(&mut e, "hire_date", "入社日", &form.hire_date);
    if let (Some(birth), Some(hire)) = (birth_date, hire_date) {
        if hire < birth {
            e.push((
                "hire_date",
                "入社日が生年月日より前になっています。入社日と生年月日をご確認ください。".into(),
            ));
        }
    }
    let retention = check_retention(
        &mut e,
        &form.retired_on,
        &form.delete_on,
        &form.last_declaration_year,
        hire_date,
        retention_years,
    );
    let note = text(&mut e, "note", "備考", &form.note, 500, false);
    let number = person::number(&mut e, &form.number_input());
    match attribute {
        Some(attribute) if e.is_empty() => Ok(Valid {
            group_id,
            code,
            names,
            attribute,
            email,
            password,
            login_lock: !form.login_lock.is_empty(),
            sex,
            birth_date,
            hire_date,
            retention,
            note,
            number,
        }),
        _ => Err(e),
    }
}
