//! The ログインユーザ登録 / 編集 form (manual ch.5) and its checks: every problem at once, each
//! under its field, in Japanese. The password rules are sign-up's (`passwords::check_new`).
//!
//! Not here: whether the address is free in the tenant or the change would remove the last
//! 最高権限; those need the store and are [`super::manage`]'s.

use super::UserKind;
use crate::app::passwords;
use crate::app::person::{required, FieldErrors};
use crate::domain::identity::Email;
use crate::domain::role::Role;

/// The form as typed (the web layer fills it from the request).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct UserInput {
    pub family_name: String,
    pub given_name: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
    pub department: String,
    pub role: String,
    pub kind: String,
    pub note: String,
}

/// A checked form: what is saved.
#[derive(Clone, Debug)]
pub struct UserDraft {
    pub family_name: String,
    pub given_name: String,
    pub email: Email,
    pub department: String,
    pub role: Role,
    pub kind: UserKind,
    pub note: String,
}

const MAX_DEPARTMENT: usize = 100;
const MAX_NOTE: usize = 500;

/// An optional free text: at most `max` characters, no control characters but line breaks in
/// 備考, no My Number.
fn optional(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim().to_string();
    let multiline = field == "note";
    if v.chars().count() > max {
        errors.push((field, format!("{label}は{max}文字以内で入力してください。")));
    } else if v
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r')))
    {
        errors.push((
            field,
            format!("{label}に使用できない文字が含まれています。"),
        ));
    } else if let Err(e) = crate::domain::text::refuse_my_number(label, &v) {
        errors.push((field, e.to_string()));
    }
    v
}

/// Checks the form. `with_password`: registration asks for the initial password and its
/// confirmation; 編集 does not (passwords change on their own screen).
pub fn validate(input: &UserInput, with_password: bool) -> Result<UserDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let family_name = required(&mut errors, "family_name", "氏名（姓）", &input.family_name);
    let given_name = required(&mut errors, "given_name", "氏名（名）", &input.given_name);
    let email = match Email::parse(&input.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(("email", e.to_string()));
            None
        }
    };
    if with_password {
        passwords::check_new(
            &mut errors,
            &input.password,
            &input.password_confirm,
            email.as_ref(),
        );
    }
    let department = optional(
        &mut errors,
        "department",
        "部署",
        &input.department,
        MAX_DEPARTMENT,
    );
    let role = Role::from_code(input.role.trim());
    if role.is_none() {
        errors.push(("role", "権限を選択してください。".into()));
    }
    let kind = UserKind::from_code(input.kind.trim());
    if kind.is_none() {
        errors.push(("kind", "属性を選択してください。".into()));
    }
    let note = optional(&mut errors, "note", "備考", &input.note, MAX_NOTE);
    match (email, role, kind) {
        (Some(email), Some(role), Some(kind)) if errors.is_empty() => Ok(UserDraft {
            family_name,
            given_name,
            email,
            department,
            role,
            kind,
            note,
        }),
        _ => Err(errors),
    }
}

/// The form of an existing user, for 編集 (no password).
pub fn input_of(user: &super::User) -> UserInput {
    UserInput {
        family_name: user.family_name.clone(),
        given_name: user.given_name.clone(),
        email: user.email.clone(),
        department: user.department.clone(),
        role: user.role.code().into(),
        kind: user.kind.code().into(),
        note: user.note.clone(),
        ..UserInput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> UserInput {
        UserInput {
            family_name: "佐藤".into(),
            given_name: "一郎".into(),
            email: "Ichiro@Example.jp".into(),
            password: "Momiji-2026x".into(),
            password_confirm: "Momiji-2026x".into(),
            department: "総務部".into(),
            role: "manager".into(),
            kind: "professional".into(),
            note: "顧問税理士\n2026年4月から".into(),
        }
    }

    #[test]
    fn validate_cleans_every_field_when_all_are_right() {
        let d = validate(&input(), true).unwrap();
        assert_eq!(d.email.as_str(), "ichiro@example.jp");
        assert_eq!(d.role, Role::Manager);
        assert_eq!(d.kind, UserKind::Professional);
        assert_eq!(d.note, "顧問税理士\n2026年4月から");
    }

    #[test]
    fn validate_reports_every_field_when_all_are_wrong() {
        let bad = UserInput {
            password_confirm: "x".into(),
            ..UserInput::default()
        };
        let fields: Vec<_> = validate(&bad, true)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        for f in [
            "family_name",
            "given_name",
            "email",
            "password",
            "role",
            "kind",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn validate_ignores_the_password_when_editing() {
        let edit = UserInput {
            password: String::new(),
            password_confirm: String::new(),
            ..input()
        };
        assert!(validate(&edit, false).is_ok());
        assert!(validate(&edit, true).is_err());
    }

    #[test]
    fn validate_refuses_a_my_number_in_the_note_and_control_characters_in_the_department() {
        let bad = UserInput {
            note: "番号 621498320257".into(),
            department: "総務\u{7}".into(),
            ..input()
        };
        let fields: Vec<_> = validate(&bad, true)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, vec!["department", "note"]);
    }
}
