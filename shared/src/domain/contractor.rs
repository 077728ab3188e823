//! The rules of 契約者情報 (manual ch.4): the 法人番号 with its check digit, the 郵便番号 and
//! 電話番号 shapes, 事業形態, the 47 都道府県 and the 業種 offered on the form.
//!
//! Limits: shapes and check digits only. Whether a 法人番号 was really issued, or a postal code
//! exists, is not known here (the postal table is data the web layer serves).

use super::text::{fold_fullwidth, is_blank, is_hyphen_like};

/// The digits of `raw` with full-width digits folded and blanks and hyphens dropped; `None`
/// if anything else is in it.
fn digits_only(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars().map(fold_fullwidth) {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !(is_blank(c) || is_hyphen_like(c)) {
            return None;
        }
    }
    Some(out)
}

/// A 法人番号 (corporate number): 13 digits, the first a check digit over the other twelve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorporateNumber(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CorporateNumberError {
    #[error("法人番号は13桁の数字で入力してください。")]
    Shape,
    #[error(
        "法人番号が正しくありません（チェックデジットが一致しません）。入力内容をご確認ください。"
    )]
    CheckDigit,
}

impl CorporateNumber {
    /// Parses 13 digits (full-width, spaces and hyphens accepted) and checks the check digit.
    pub fn parse(raw: &str) -> Result<CorporateNumber, CorporateNumberError> {
        let d = digits_only(raw).ok_or(CorporateNumberError::Shape)?;
        if d.len() != 13 {
            return Err(CorporateNumberError::Shape);
        }
        let bytes: Vec<u8> = d.bytes().map(|b| b - b'0').collect();
        let mut base = [0u8; 12];
        base.copy_from_slice(&bytes[1..]);
        if corporate_check_digit(&base) != bytes[0] {
            return Err(CorporateNumberError::CheckDigit);
        }
        Ok(CorporateNumber(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The 国税庁 rule: with the twelve base digits counted from the right (n = 1..12), weight 1 for
/// odd n and 2 for even n; the check digit is 9 − (Σ digit × weight mod 9).
pub fn corporate_check_digit(base: &[u8; 12]) -> u8 {
    let sum: u32 = base
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 2 })
        .sum();
    // `sum % 9` is below 9, so the result is 1..=9 and fits a u8.
    9 - u8::try_from(sum % 9).unwrap_or(0)
}

/// A 郵便番号: 7 digits, stored without the hyphen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostalCode(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("郵便番号は7桁の数字で入力してください（例: 150-0036）。")]
pub struct PostalCodeError;

impl PostalCode {
    pub fn parse(raw: &str) -> Result<PostalCode, PostalCodeError> {
        let raw = raw.trim().trim_start_matches('〒');
        match digits_only(raw) {
            Some(d) if d.len() == 7 => Ok(PostalCode(d)),
            _ => Err(PostalCodeError),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shard of the postal table holding this code (its first three digits).
    pub fn shard(&self) -> &str {
        &self.0[..3]
    }
}

/// A 電話番号: 10 or 11 digits starting with 0, kept as typed (with its hyphens, ASCII).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("電話番号は0から始まる10桁または11桁の数字で入力してください（ハイフンは入れても入れなくてもかまいません）。")]
pub struct PhoneNumberError;

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<PhoneNumber, PhoneNumberError> {
        let d = digits_only(raw).ok_or(PhoneNumberError)?;
        if !(d.len() == 10 || d.len() == 11) || !d.starts_with('0') {
            return Err(PhoneNumberError);
        }
        let typed: String = raw
            .trim()
            .chars()
            .map(fold_fullwidth)
            .map(|c| if is_hyphen_like(c) { '-' } else { c })
            .filter(|c| !is_blank(*c))
            .collect();
        Ok(PhoneNumber(typed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 事業形態 (manual: 法人 / 個人事業主).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusinessForm {
    Corporation,
    SoleProprietor,
}

impl BusinessForm {
    pub const ALL: [BusinessForm; 2] = [BusinessForm::Corporation, BusinessForm::SoleProprietor];

    pub fn code(self) -> &'static str {
        match self {
            BusinessForm::Corporation => "corporation",
            BusinessForm::SoleProprietor => "sole_proprietor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BusinessForm::Corporation => "法人",
            BusinessForm::SoleProprietor => "個人事業主",
        }
    }

    pub fn from_code(code: &str) -> Option<BusinessForm> {
        BusinessForm::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// The 47 都道府県 in JIS X 0401 order (what the postal table's first column holds).
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// 業種 suggested on the form (the manual's field is free text; these are the 日本標準産業分類
/// 大分類 plus the manual's own example), offered as a list the user may ignore.
pub const INDUSTRIES: [&str; 21] = [
    "農業、林業",
    "漁業",
    "鉱業、採石業、砂利採取業",
    "建設業",
    "製造業",
    "電気・ガス・熱供給・水道業",
    "情報通信業",
    "その他情報関連サービス",
    "運輸業、郵便業",
    "卸売業、小売業",
    "金融業、保険業",
    "不動産業、物品賃貸業",
    "学術研究、専門・技術サービス業",
    "宿泊業、飲食サービス業",
    "生活関連サービス業、娯楽業",
    "教育、学習支援業",
    "医療、福祉",
    "複合サービス事業",
    "サービス業（他に分類されないもの）",
    "公務",
    "その他",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corporate_number_parses_when_check_digit_matches() {
        // 国税庁's own 法人番号, and two more published numbers.
        for (raw, want) in [
            ("7000012050002", "7000012050002"),
            ("7-0000-1205-0002", "7000012050002"),
            ("７０００　０１２０５０００２", "7000012050002"),
            ("1180301018771", "1180301018771"),
        ] {
            assert_eq!(
                CorporateNumber::parse(raw).map(|n| n.as_str().to_string()),
                Ok(want.to_string()),
                "{raw}"
            );
        }
    }

    #[test]
    fn corporate_number_is_refused_when_check_digit_or_shape_is_wrong() {
        let cases = [
            ("8000012050002", CorporateNumberError::CheckDigit),
            ("7000012050003", CorporateNumberError::CheckDigit),
            ("700001205000", CorporateNumberError::Shape),
            ("70000120500021", CorporateNumberError::Shape),
            ("7000O12050002", CorporateNumberError::Shape),
            ("", CorporateNumberError::Shape),
        ];
        for (raw, want) in cases {
            assert_eq!(CorporateNumber::parse(raw), Err(want), "{raw}");
        }
    }

    #[test]
    fn corporate_check_digit_follows_the_rule_when_each_position_changes() {
        // One base digit 1 at each position from the right: weight 1 (odd) or 2 (even).
        for n in 1..=12usize {
            let mut base = [0u8; 12];
            base[12 - n] = 1;
            let weight = if n % 2 == 1 { 1 } else { 2 };
            assert_eq!(corporate_check_digit(&base), 9 - weight, "position {n}");
        }
        assert_eq!(corporate_check_digit(&[0; 12]), 9);
    }

    #[test]
    fn postal_code_parses_when_seven_digits_in_any_usual_form() {
        for raw in [
            "1500036",
            "150-0036",
            "〒150-0036",
            "１５０－００３６",
            " 150 0036 ",
        ] {
            let code = PostalCode::parse(raw).unwrap_or_else(|_| panic!("{raw}"));
            assert_eq!(code.as_str(), "1500036");
            assert_eq!(code.shard(), "150");
        }
        for raw in ["150003", "15000366", "150-003a", ""] {
            assert_eq!(PostalCode::parse(raw), Err(PostalCodeError), "{raw}");
        }
    }

    #[test]
    fn phone_number_keeps_hyphens_when_ten_or_eleven_digits() {
        assert_eq!(
            PhoneNumber::parse("03-1234-5678").map(|p| p.as_str().to_string()),
            Ok("03-1234-5678".into())
        );
        assert_eq!(
            PhoneNumber::parse("０９０１２３４５６７８").map(|p| p.as_str().to_string()),
            Ok("09012345678".into())
        );
        for raw in [
            "3-1234-5678",
            "03-1234-567",
            "090-1234-56789",
            "03(1234)5678",
        ] {
            assert_eq!(PhoneNumber::parse(raw), Err(PhoneNumberError), "{raw}");
        }
    }

    #[test]
    fn business_form_round_trips_when_each_form() {
        for f in BusinessForm::ALL {
            assert_eq!(BusinessForm::from_code(f.code()), Some(f));
        }
        assert_eq!(BusinessForm::from_code("other"), None);
    }
}
