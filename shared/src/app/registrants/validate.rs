//! The registrant form and its validation (入力チェック): the posted strings, checked in the
//! manual's field order, into a [`Valid`] ready to save.

use time::Date;

use super::Registrant;
use crate::app::groups::Group;
use crate::app::person::FieldErrors;
use crate::app::person::{self, identifier, optional_date, text, Names, NamesForm};
use crate::domain::date::format_slash;
use crate::domain::identity::Email;
use crate::domain::my_number::MyNumber;
use crate::domain::person::{Attribute, Sex};

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
    pub note: String,
    pub number: Option<MyNumber>,
}

/// Checks every field; all problems at once, each on its field.
pub fn validate(
    form: &RegistrantForm,
    groups: &[Group],
    today: Date,
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
            note,
            number,
        }),
        _ => Err(e),
    }
}
