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
//!
//! This file holds the details as stored and shown, their item mapping and the read; the rest
//! lives by concern in `form` (the edit form and its validation), `passcode` (the passcode's
//! hash and sealed copy) and `save` (the save transaction and its operation-log entries), all
//! re-exported here so callers keep using `contractor::…`.

mod form;
mod passcode;
mod save;

use time::OffsetDateTime;

use super::keys::{sk, TenantScope};
use super::tenants::Tenant;
use super::InfraError;
use crate::domain::contractor::BusinessForm;
use crate::ports::store::Item;

pub use form::{validate, ContractorInput};
pub use passcode::{passcode, set_passcode, Passcode};
pub use save::save;

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

impl Contractor {
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
