//! The 契約者情報 edit form: the fields as typed and their validation against the manual's
//! rules. Not here: storing the details (`super`) or saving them (`save`).

use super::Contractor;
use crate::app::person::{text, FieldErrors};
use crate::domain::contractor::{
    BusinessForm, CorporateNumber, PhoneNumber, PostalCode, PREFECTURES,
};
use crate::domain::identity::Email;

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
