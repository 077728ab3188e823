//! 契約者情報 (manual ch.4): the company's registration details and its passcode (企業パスコード).
//!
//! The details live in their own item (`CONTRACTOR`) beside the tenant's `PROFILE`, which keeps
//! what the product itself runs on (plan, keys, settings). 会社名 is both: the one typed here is
//! the name every page shows, so a save writes `PROFILE.company_name` in the same transaction.
//!
//! The passcode is kept twice: its argon2 hash on `PROFILE` (what the phone login checks) and a
//! copy sealed under a passcode key of its own (`PASSCODE`, `app::secrets`), because the manual shows it on this
//! screen so that it can be passed on to the registrants. Both are written together.
//!
//! Not here: who may see or change what (the route table and the page), the postal table
//! (served by the web layer from files), the phone login's passcode check (`app::enrol`).

use time::OffsetDateTime;

use super::actor::Actor;
use super::keys::{sk, TenantScope};
use super::person::{text, FieldErrors};
use super::secrets::{self, Purpose, SealedSecret};
use super::tenants::{self, Tenant};
use super::{passwords, App, InfraError};
use crate::domain::contractor::{
    BusinessForm, CorporateNumber, PhoneNumber, PostalCode, PREFECTURES,
};
use crate::domain::identity::Email;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, WriteOp};

/// The subject the sealed passcode is bound to (`app::secrets`, purpose `passcode`).
const PASSCODE_SUBJECT: &str = "company";

/// 契約者情報 as stored and shown. Text fields are empty when not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contractor {
    /// 法人番号, 13 digits (empty: none given).
    pub corporate_number: String,
    /// 事業形態; `None` until first saved (a sign-up does not ask).
    pub business_form: Option<BusinessForm>,
    /// 会社名/組織名 (for a 個人事業主 without a trade name, the person's name).
    pub company_name: String,
    pub company_kana: String,
    /// 代表者氏名.
    pub representative: String,
    /// 申請部署.
    pub department: String,
    /// 申請者氏名 (姓・名).
    pub applicant_family: String,
    pub applicant_given: String,
    pub email: String,
    /// 郵便番号, 7 digits.
    pub postal_code: String,
    pub prefecture: String,
    /// 市区町村・番地.
    pub address: String,
    /// 建物名など.
    pub building: String,
    pub phone: String,
    pub industry: String,
    /// メールでのお知らせ: 希望する.
    pub mail_notices: bool,
}

/// The fields the edit form posts, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ContractorInput {
    pub corporate_number: String,
    pub business_form: String,
    pub company_name: String,
    pub company_kana: String,
    pub representative: String,
    pub department: String,
    pub applicant_family: String,
    pub applicant_given: String,
    pub email: String,
    pub postal_code: String,
    pub prefecture: String,
    pub address: String,
    pub building: String,
    pub phone: String,
    pub industry: String,
    /// `yes` or `no`.
    pub mail_notices: String,
}

impl Contractor {
    /// The form filled with these details.
    pub fn to_input(&self) -> ContractorInput {
        ContractorInput {
            corporate_number: self.corporate_number.clone(),
            business_form: self
                .business_form
                .map_or(String::new(), |f| f.code().to_string()),
            company_name: self.company_name.clone(),
            company_kana: self.company_kana.clone(),
            representative: self.representative.clone(),
            department: self.department.clone(),
            applicant_family: self.applicant_family.clone(),
            applicant_given: self.applicant_given.clone(),
            email: self.email.clone(),
            postal_code: self.postal_code.clone(),
            prefecture: self.prefecture.clone(),
            address: self.address.clone(),
            building: self.building.clone(),
            phone: self.phone.clone(),
            industry: self.industry.clone(),
            mail_notices: if self.mail_notices { "yes" } else { "no" }.into(),
        }
    }

    /// 申請者氏名 as one line.
    pub fn applicant_name(&self) -> String {
        [
            self.applicant_family.as_str(),
            self.applicant_given.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// 郵便番号 as written on letters (150-0036).
    pub fn postal_code_display(&self) -> String {
        match self.postal_code.len() {
            7 => format!("{}-{}", &self.postal_code[..3], &self.postal_code[3..]),
            _ => self.postal_code.clone(),
        }
    }

    /// 住所 as one line.
    pub fn full_address(&self) -> String {
        format!("{}{}{}", self.prefecture, self.address, self.building)
    }

    /// Whether the fields the manual marks 必須 are all filled (HOME asks to complete them).
    pub fn is_complete(&self) -> bool {
        self.business_form.is_some()
            && [
                &self.company_name,
                &self.applicant_family,
                &self.email,
                &self.postal_code,
                &self.prefecture,
                &self.address,
                &self.phone,
                &self.industry,
            ]
            .iter()
            .all(|s| !s.is_empty())
    }

    /// The labels of the fields that differ from `other` (for the operation log: names of
    /// fields, never their values).
    pub fn changed_fields(&self, other: &Contractor) -> Vec<&'static str> {
        let pairs: [(&'static str, bool); 15] = [
            ("法人番号", self.corporate_number != other.corporate_number),
            ("事業形態", self.business_form != other.business_form),
            ("会社名", self.company_name != other.company_name),
            ("会社名（カナ）", self.company_kana != other.company_kana),
            ("代表者氏名", self.representative != other.representative),
            ("申請部署", self.department != other.department),
            (
                "申請者氏名",
                self.applicant_family != other.applicant_family
                    || self.applicant_given != other.applicant_given,
            ),
            ("メールアドレス", self.email != other.email),
            ("郵便番号", self.postal_code != other.postal_code),
            ("都道府県", self.prefecture != other.prefecture),
            ("市区町村・番地", self.address != other.address),
            ("建物名など", self.building != other.building),
            ("電話番号", self.phone != other.phone),
            ("業種", self.industry != other.industry),
            (
                "メールでのお知らせ",
                self.mail_notices != other.mail_notices,
            ),
        ];
        pairs
            .into_iter()
            .filter(|(_, changed)| *changed)
            .map(|(label, _)| label)
            .collect()
    }

    fn to_item(&self, scope: &TenantScope, updated_at: OffsetDateTime) -> Item {
        Item::new(scope.key(sk::CONTRACTOR))
            .with("kind", "contractor")
            .with("corporate_number", self.corporate_number.as_str())
            .with(
                "business_form",
                self.business_form.map_or("", BusinessForm::code),
            )
            .with("company_name", self.company_name.as_str())
            .with("company_kana", self.company_kana.as_str())
            .with("representative", self.representative.as_str())
            .with("department", self.department.as_str())
            .with("applicant_family", self.applicant_family.as_str())
            .with("applicant_given", self.applicant_given.as_str())
            .with("email", self.email.as_str())
            .with("postal_code", self.postal_code.as_str())
            .with("prefecture", self.prefecture.as_str())
            .with("address", self.address.as_str())
            .with("building", self.building.as_str())
            .with("phone", self.phone.as_str())
            .with("industry", self.industry.as_str())
            .with("mail_notices", self.mail_notices)
            .with("updated_at", updated_at.unix_timestamp())
    }

    fn from_item(item: &Item) -> Contractor {
        let s = |name: &str| item.str(name).unwrap_or_default().to_string();
        Contractor {
            corporate_number: s("corporate_number"),
            business_form: item.str("business_form").and_then(BusinessForm::from_code),
            company_name: s("company_name"),
            company_kana: s("company_kana"),
            representative: s("representative"),
            department: s("department"),
            applicant_family: s("applicant_family"),
            applicant_given: s("applicant_given"),
            email: s("email"),
            postal_code: s("postal_code"),
            prefecture: s("prefecture"),
            address: s("address"),
            building: s("building"),
            phone: s("phone"),
            industry: s("industry"),
            mail_notices: item.bool("mail_notices").unwrap_or(true),
        }
    }
}

/// The item a sign-up writes: what the お申し込み form asked (company, applicant, address).
pub fn initial_item(
    scope: &TenantScope,
    company_name: &str,
    applicant: (&str, &str),
    email: &str,
    now: OffsetDateTime,
) -> Item {
    Contractor {
        company_name: company_name.into(),
        applicant_family: applicant.0.into(),
        applicant_given: applicant.1.into(),
        email: email.into(),
        mail_notices: true,
        ..Contractor::default()
    }
    .to_item(scope, now)
}

/// The tenant's 契約者情報; a tenant from before this screen existed gets its company name.
pub async fn load(scope: &TenantScope, tenant: &Tenant) -> Result<Contractor, InfraError> {
    let mut c = match scope.get(&scope.key(sk::CONTRACTOR)).await? {
        Some(item) => Contractor::from_item(&item),
        None => Contractor {
            mail_notices: true,
            ..Contractor::default()
        },
    };
    // PROFILE is the name the product runs on; the two are written together.
    c.company_name.clone_from(&tenant.company_name);
    Ok(c)
}

/// Checks the form: every 必須 field of the manual, the 法人番号's check digit, the shapes of
/// the postal code, phone and address, and no My Number in any free text.
pub fn validate(input: &ContractorInput) -> Result<Contractor, FieldErrors> {
    let mut errors: FieldErrors = Vec::new();
    let corporate_number = match input.corporate_number.trim() {
        "" => String::new(),
        raw => match CorporateNumber::parse(raw) {
            Ok(n) => n.as_str().to_string(),
            Err(e) => {
                errors.push(("corporate_number", e.to_string()));
                String::new()
            }
        },
    };
    let business_form = BusinessForm::from_code(input.business_form.trim());
    if business_form.is_none() {
        errors.push(("business_form", "事業形態を選択してください。".into()));
    }
    let company_name = text(
        &mut errors,
        "company_name",
        "会社名",
        &input.company_name,
        100,
        true,
    );
    let company_kana = text(
        &mut errors,
        "company_kana",
        "会社名（カナ）",
        &input.company_kana,
        100,
        false,
    );
    let representative = text(
        &mut errors,
        "representative",
        "代表者氏名",
        &input.representative,
        50,
        false,
    );
    let department = text(
        &mut errors,
        "department",
        "申請部署",
        &input.department,
        50,
        false,
    );
    let applicant_family = text(
        &mut errors,
        "applicant_family",
        "申請者氏名（姓）",
        &input.applicant_family,
        50,
        true,
    );
    let applicant_given = text(
        &mut errors,
        "applicant_given",
        "申請者氏名（名）",
        &input.applicant_given,
        50,
        false,
    );
    let email = match Email::parse(&input.email) {
        Ok(e) => e.as_str().to_string(),
        Err(e) => {
            errors.push(("email", e.to_string()));
            String::new()
        }
    };
    let postal_code = match PostalCode::parse(&input.postal_code) {
        Ok(p) => p.as_str().to_string(),
        Err(e) => {
            errors.push(("postal_code", e.to_string()));
            String::new()
        }
    };
    let prefecture = input.prefecture.trim().to_string();
    if !PREFECTURES.contains(&prefecture.as_str()) {
        errors.push(("prefecture", "都道府県を選択してください。".into()));
    }
    let address = text(
        &mut errors,
        "address",
        "市区町村・番地",
        &input.address,
        100,
        true,
    );
    let building = text(
        &mut errors,
        "building",
        "建物名など",
        &input.building,
        100,
        false,
    );
    let phone = match PhoneNumber::parse(&input.phone) {
        Ok(p) => p.as_str().to_string(),
        Err(e) => {
            errors.push(("phone", e.to_string()));
            String::new()
        }
    };
    let industry = text(&mut errors, "industry", "業種", &input.industry, 50, true);
    let mail_notices = match input.mail_notices.trim() {
        "yes" => true,
        "no" => false,
        _ => {
            errors.push((
                "mail_notices",
                "メールでのお知らせを選択してください。".into(),
            ));
            true
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Contractor {
        corporate_number,
        business_form,
        company_name,
        company_kana,
        representative,
        department,
        applicant_family,
        applicant_given,
        email,
        postal_code,
        prefecture,
        address,
        building,
        phone,
        industry,
        mail_notices,
    })
}

/// What 契約者情報 can say about the company passcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Passcode {
    Unset,
    /// Set, and readable here.
    Known(String),
    /// Set before the sealed copy existed: only its hash is kept, so it cannot be shown.
    SetUnreadable,
}

/// The company passcode, opened from its sealed copy (a page for 最高権限/管理担当者 only).
pub async fn passcode(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
) -> Result<Passcode, InfraError> {
    let Some(hash) = tenant.passcode_hash.clone() else {
        return Ok(Passcode::Unset);
    };
    let Some(sealed) = scope.get(&scope.key(sk::PASSCODE)).await?.and_then(|i| {
        Some(SealedSecret {
            secret: i.str("sealed")?.to_string(),
            key: i.str("sealed_key")?.to_string(),
        })
    }) else {
        return Ok(Passcode::SetUnreadable);
    };
    let opened = secrets::open(app, tenant, Purpose::Passcode, PASSCODE_SUBJECT, &sealed).await?;
    let plain = String::from_utf8(opened).map_err(|_| InfraError::Corrupt("passcode"))?;
    // The sealed copy and the hash are written together; a copy that no longer matches the
    // hash (a write from an older version) is not shown as if it were the passcode.
    if passwords::verify(hash, plain.clone()).await {
        Ok(Passcode::Known(plain))
    } else {
        Ok(Passcode::SetUnreadable)
    }
}

/// The writes that set the passcode: PROFILE with the new hash (on `tenant`, changed in place)
/// and its sealed copy.
async fn passcode_ops(
    app: &App,
    scope: &TenantScope,
    tenant: &mut Tenant,
    passcode: Option<&str>,
) -> Result<Vec<WriteOp>, InfraError> {
    let mut ops = Vec::new();
    match passcode {
        Some(p) => {
            tenant.passcode_hash =
                Some(passwords::hash(app.config.password_params, p.to_string()).await?);
            let sealed = secrets::seal(
                app,
                tenant,
                Purpose::Passcode,
                PASSCODE_SUBJECT,
                p.as_bytes(),
            )
            .await?;
            ops.push(WriteOp::put(
                Item::new(scope.key(sk::PASSCODE))
                    .with("kind", "passcode")
                    .with("sealed", sealed.secret)
                    .with("sealed_key", sealed.key),
            ));
        }
        None => {
            tenant.passcode_hash = None;
            ops.push(WriteOp::Delete {
                key: scope.key(sk::PASSCODE),
                condition: Condition::None,
            });
        }
    }
    tenant.passcode_set = tenant.passcode_hash.is_some();
    Ok(ops)
}

/// Sets (or, with `None`, removes) the company passcode: its hash and its sealed copy in one
/// transaction. The caller records it in the operation log.
pub async fn set_passcode(
    app: &App,
    scope: &TenantScope,
    passcode: Option<&str>,
) -> Result<(), InfraError> {
    let mut tenant = tenants::load(scope)
        .await?
        .ok_or(InfraError::Corrupt("tenant"))?;
    let mut ops = passcode_ops(app, scope, &mut tenant, passcode).await?;
    ops.push(WriteOp::Put {
        item: tenant.to_item(scope),
        condition: Condition::Exists,
    });
    scope.transact(ops).await?;
    Ok(())
}

/// Saves 契約者情報 and, when `new_passcode` is given, the passcode: the details, PROFILE's
/// company name and the passcode in one transaction; then one operation-log entry per change
/// (the names of the fields changed, never their values; never the passcode).
pub async fn save(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    details: Contractor,
    new_passcode: Option<&str>,
) -> Result<(), InfraError> {
    let mut tenant = tenants::load(scope)
        .await?
        .ok_or(InfraError::Corrupt("tenant"))?;
    let before = load(scope, &tenant).await?;
    let changed = details.changed_fields(&before);
    let mut ops = match new_passcode {
        Some(p) => passcode_ops(app, scope, &mut tenant, Some(p)).await?,
        None => Vec::new(),
    };
    tenant.company_name.clone_from(&details.company_name);
    ops.push(WriteOp::Put {
        item: tenant.to_item(scope),
        condition: Condition::Exists,
    });
    ops.push(WriteOp::put(details.to_item(scope, app.now())));
    scope.transact(ops).await?;

    let event = |action: &str, detail: String| AuditEvent {
        tenant_id: Some(scope.tenant().to_string()),
        actor_id: Some(actor.user_id.clone()),
        actor_name: Some(actor.name.clone()),
        action: action.into(),
        target: None,
        detail,
        ip: Some(actor.ip.clone()),
    };
    if !changed.is_empty() || new_passcode.is_none() {
        let what = if changed.is_empty() {
            "変更なし".to_string()
        } else {
            changed.join("、")
        };
        app.audit()
            .record(event(
                "contractor.update",
                format!("契約者情報の変更（{what}）"),
            ))
            .await
            .map_err(InfraError::from)?;
    }
    if new_passcode.is_some() {
        app.audit()
            .record(event("tenant.passcode", "企業パスコードの変更".into()))
            .await
            .map_err(InfraError::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ContractorInput {
        ContractorInput {
            corporate_number: "7000012050002".into(),
            business_form: "corporation".into(),
            company_name: "株式会社マイナクラウド".into(),
            applicant_family: "マイナ".into(),
            applicant_given: "太郎".into(),
            email: "taro@example.jp".into(),
            postal_code: "150-0036".into(),
            prefecture: "東京都".into(),
            address: "渋谷区南平台町15-10".into(),
            phone: "03-1234-5678".into(),
            industry: "その他情報関連サービス".into(),
            mail_notices: "yes".into(),
            ..ContractorInput::default()
        }
    }

    #[test]
    fn validate_accepts_the_manuals_example_when_every_required_field_is_filled() {
        let c = validate(&input()).expect("valid");
        assert_eq!(c.postal_code, "1500036");
        assert_eq!(c.postal_code_display(), "150-0036");
        assert!(c.is_complete());
        assert_eq!(c.to_input().mail_notices, "yes");
    }

    #[test]
    fn validate_names_each_bad_field_when_several_are_wrong() {
        let bad = ContractorInput {
            corporate_number: "8000012050002".into(),
            business_form: String::new(),
            prefecture: "東京".into(),
            phone: "12345".into(),
            ..input()
        };
        let errors = validate(&bad).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            ["corporate_number", "business_form", "prefecture", "phone"],
            "{errors:?}"
        );
    }

    #[test]
    fn changed_fields_lists_labels_only_when_values_differ() {
        let a = validate(&input()).expect("valid");
        let b = Contractor {
            phone: "03-9999-0000".into(),
            applicant_given: "花子".into(),
            ..a.clone()
        };
        assert_eq!(b.changed_fields(&a), ["申請者氏名", "電話番号"]);
        assert!(a.changed_fields(&a).is_empty());
    }
}
