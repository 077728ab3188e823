//! The phone's entry steps: ステップ1 (the registrant's own sex, birth date and number) and
//! ステップ4 (a dependent). Both take the birth date from three selects and the number from
//! three boxes, require sex and birth date, and a number unless one is stored; a dependent is
//! then checked and saved by the same rules as the admin's form (`app::dependents`).

use time::Date;

use crate::app::actor::Actor;
use crate::app::dependents::{self as deps, DependentForm, ValidDependent};
use crate::app::keys::TenantScope;
use crate::app::person::NamesForm;
use crate::app::registrants::{self as regs, FieldErrors, Registrant, SaveError};
use crate::app::tenants::Tenant;
use crate::app::{App, InfraError};
use crate::domain::date::format_slash;
use crate::domain::my_number::MyNumber;
use crate::domain::person::Sex;
use crate::domain::status::Status;
use crate::ports::audit::AuditEvent;

/// ステップ1 as typed (birth date from three selects; the number in three boxes).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct OwnForm {
    pub sex: String,
    pub birth_year: String,
    pub birth_month: String,
    pub birth_day: String,
    pub number1: String,
    pub number2: String,
    pub number3: String,
}

/// A birth date from the three selects, or the field error.
pub fn birth_date(year: &str, month: &str, day: &str, today: Date) -> Result<Date, String> {
    let parse = |s: &str| s.trim().parse::<i32>().ok();
    let (Some(y), Some(m), Some(d)) = (parse(year), parse(month), parse(day)) else {
        return Err("生年月日を選択してください。".into());
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or("生年月日が正しくありません。")?;
    let date = u8::try_from(d)
        .ok()
        .and_then(|d| Date::from_calendar_date(y, month, d).ok())
        .ok_or("存在しない日付です。生年月日を確認してください。")?;
    if date > today {
        return Err("生年月日に未来の日付は入力できません。".into());
    }
    if y < 1900 {
        return Err("生年月日が正しくありません。".into());
    }
    Ok(date)
}

/// The number typed in three boxes; `None` when left empty (keep the stored one).
pub fn number_boxes(a: &str, b: &str, c: &str) -> Result<Option<MyNumber>, String> {
    let raw = format!("{}{}{}", a.trim(), b.trim(), c.trim());
    if raw.is_empty() {
        return Ok(None);
    }
    MyNumber::parse(&raw).map(Some).map_err(|e| e.to_string())
}

pub struct Own {
    pub sex: Sex,
    pub birth_date: Date,
    pub number: Option<MyNumber>,
}

/// 性別 on the phone: required.
fn required_sex(e: &mut FieldErrors, raw: &str) -> Option<Sex> {
    let sex = Sex::from_code(raw.trim());
    if sex.is_none() {
        e.push(("sex", "性別を選択してください。".into()));
    }
    sex
}

const NUMBER_REQUIRED: &str = "マイナンバーを入力してください。";

/// Checks ステップ1; the number may stay empty only when one is already stored.
pub fn validate_own(form: &OwnForm, today: Date, has_number: bool) -> Result<Own, FieldErrors> {
    let mut e = FieldErrors::new();
    let sex = required_sex(&mut e, &form.sex);
    let birth = birth_date(&form.birth_year, &form.birth_month, &form.birth_day, today)
        .map_err(|m| e.push(("birth_date", m)))
        .ok();
    let number = match number_boxes(&form.number1, &form.number2, &form.number3) {
        Ok(None) if !has_number => {
            e.push(("number", NUMBER_REQUIRED.into()));
            None
        }
        Ok(n) => n,
        Err(m) => {
            e.push(("number", m));
            None
        }
    };
    match (sex, birth) {
        (Some(sex), Some(birth_date)) if e.is_empty() => Ok(Own {
            sex,
            birth_date,
            number,
        }),
        _ => Err(e),
    }
}

/// ステップ4 as typed: a dependent on the phone (all fields required; birth date from selects).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PhoneDependentForm {
    pub family_name: String,
    pub given_name: String,
    pub sex: String,
    pub birth_year: String,
    pub birth_month: String,
    pub birth_day: String,
    pub relationship: String,
    pub kind: String,
    pub number1: String,
    pub number2: String,
    pub number3: String,
}

/// Checks ステップ4: the phone's own requirements, then the dependent's rules as the admin's
/// form checks them ([`deps::validate`]); the number may stay empty only when one is stored.
pub fn validate_dependent(
    form: &PhoneDependentForm,
    today: Date,
    has_number: bool,
) -> Result<ValidDependent, FieldErrors> {
    let mut e = FieldErrors::new();
    required_sex(&mut e, &form.sex);
    let birth = match birth_date(&form.birth_year, &form.birth_month, &form.birth_day, today) {
        Ok(d) => format_slash(d),
        Err(m) => {
            e.push(("birth_date", m));
            String::new()
        }
    };
    let typed_number = format!("{}{}{}", form.number1, form.number2, form.number3);
    if typed_number.trim().is_empty() && !has_number {
        e.push(("number", NUMBER_REQUIRED.into()));
    }
    let checked = deps::validate(
        &DependentForm {
            names: NamesForm {
                family_name: form.family_name.clone(),
                given_name: form.given_name.clone(),
                ..NamesForm::default()
            },
            relationship: form.relationship.clone(),
            kind: form.kind.clone(),
            sex: form.sex.clone(),
            birth_date: birth,
            number1: form.number1.clone(),
            number2: form.number2.clone(),
            number3: form.number3.clone(),
        },
        today,
    );
    match checked {
        Ok(valid) if e.is_empty() => Ok(valid),
        Ok(_) => Err(e),
        Err(more) => {
            // The selects' own message says what is wrong with the date.
            e.extend(more.into_iter().filter(|(f, _)| *f != "birth_date"));
            Err(e)
        }
    }
}

/// Saves ステップ1. The status stays as it is until 登録を終了, except 拒否: a registrant who
/// was marked 拒否 and, given a new link, now saves a number has provided it after all, so the
/// record goes to 承認待 at once rather than showing 拒否 over a stored number.
pub async fn save_own(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    before: &Registrant,
    own: Own,
) -> Result<Registrant, SaveError> {
    let mut r = before.clone();
    r.person.sex = Some(own.sex);
    r.person.birth_date = Some(own.birth_date);
    if let Some(n) =
        regs::seal_unique(app, scope, tenant, &r.id, own.number.as_ref(), false).await?
    {
        r.person.number = Some(n);
        if r.person.status == Status::Refused {
            r.person.status = Status::Pending;
        }
    }
    r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
    regs::commit_with(scope, Some(before), Some(&r), Vec::new()).await?;
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "enrol.update".into(),
            target: Some(r.id.clone()),
            detail: if own.number.is_some() {
                "本人のマイナンバー登録情報の入力（マイナンバーあり）".into()
            } else {
                "本人のマイナンバー登録情報の入力".into()
            },
            ip: Some(actor.ip.clone()),
        })
        .await
        .map_err(InfraError::from)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        time::macros::date!(2026 - 04 - 01)
    }

    fn filled() -> PhoneDependentForm {
        PhoneDependentForm {
            family_name: "山田".into(),
            given_name: "花子".into(),
            sex: "female".into(),
            birth_year: "1990".into(),
            birth_month: "4".into(),
            birth_day: "1".into(),
            relationship: "spouse".into(),
            kind: "dependent".into(),
            ..PhoneDependentForm::default()
        }
    }

    fn fields(e: &FieldErrors) -> Vec<&'static str> {
        e.iter().map(|(f, _)| *f).collect()
    }

    #[test]
    fn validate_dependent_accepts_an_empty_number_only_when_one_is_stored() {
        let valid = validate_dependent(&filled(), today(), true).expect("valid");
        assert_eq!(valid.names.name(), "山田 花子");
        assert_eq!(valid.birth_date, Some(time::macros::date!(1990 - 04 - 01)));
        let e = validate_dependent(&filled(), today(), false).unwrap_err();
        assert_eq!(fields(&e), ["number"]);
    }

    #[test]
    fn validate_dependent_reports_phone_and_shared_errors_each_once_when_fields_are_missing() {
        // given a form without sex, with an impossible date, no given name and a bad number
        let form = PhoneDependentForm {
            sex: String::new(),
            birth_day: "31".into(),
            birth_month: "2".into(),
            given_name: String::new(),
            number1: "1234".into(),
            number2: "5678".into(),
            number3: "9012".into(),
            ..filled()
        };
        // when it is checked
        let e = validate_dependent(&form, today(), false).unwrap_err();
        // then each problem is on its field once, the date with the selects' own message
        assert_eq!(fields(&e), ["sex", "birth_date", "given_name", "number"]);
        assert!(e[1].1.contains("存在しない日付"));
    }
}
