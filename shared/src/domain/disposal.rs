//! 廃棄 (manual ch.12): the four kinds of deletion and the reason every deletion must give.
//!
//! Pure rules: what each kind removes is `app::disposal::deletion`, the record kept of it
//! `app::disposal`. A reason is one of the listed grounds plus free text (required for その他);
//! the free text is stored and printed in clear, so it may not hold a My Number.

use super::text::refuse_my_number;

/// What a deletion removes, named as the manual's screens are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisposalKind {
    /// マイナンバー削除: the registrant's number and images; the registrant stays (未登録).
    Number,
    /// 登録者削除: the registrant with its dependents.
    Registrant,
    /// 扶養家族マイナンバー削除: a dependent's number and images; the dependent stays.
    DependentNumber,
    /// 扶養家族の削除: a dependent.
    Dependent,
}

impl DisposalKind {
    pub const ALL: [DisposalKind; 4] = [
        DisposalKind::Number,
        DisposalKind::Registrant,
        DisposalKind::DependentNumber,
        DisposalKind::Dependent,
    ];

    /// The screen's name (and the certificate's 削除内容).
    pub fn label(self) -> &'static str {
        match self {
            DisposalKind::Number => "マイナンバー削除",
            DisposalKind::Registrant => "登録者削除",
            DisposalKind::DependentNumber => "扶養家族マイナンバー削除",
            DisposalKind::Dependent => "扶養家族の削除",
        }
    }

    /// What is removed, in a sentence for the confirmation page and the certificate.
    pub fn removes(self) -> &'static str {
        match self {
            DisposalKind::Number => {
                "マイナンバーと本人確認書類の画像を削除します。登録者情報は残り、ステータスは「未登録」に戻ります。"
            }
            DisposalKind::Registrant => {
                "登録者情報・マイナンバー・本人確認書類の画像を、扶養家族の分も含めてすべて削除します。"
            }
            DisposalKind::DependentNumber => {
                "扶養家族のマイナンバーと本人確認書類の画像を削除します。扶養家族の登録情報は残り、ステータスは「未登録」に戻ります。"
            }
            DisposalKind::Dependent => {
                "扶養家族の登録情報・マイナンバー・本人確認書類の画像をすべて削除します。"
            }
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            DisposalKind::Number => "number",
            DisposalKind::Registrant => "registrant",
            DisposalKind::DependentNumber => "dependent_number",
            DisposalKind::Dependent => "dependent",
        }
    }

    pub fn from_code(code: &str) -> Option<DisposalKind> {
        DisposalKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the person stays (only the number and images go).
    pub fn keeps_person(self) -> bool {
        matches!(self, DisposalKind::Number | DisposalKind::DependentNumber)
    }
}

/// The listed grounds for a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonChoice {
    Retired,
    RetentionOver,
    NoLongerNeeded,
    Mistaken,
    Requested,
    Other,
}

impl ReasonChoice {
    pub const ALL: [ReasonChoice; 6] = [
        ReasonChoice::Retired,
        ReasonChoice::RetentionOver,
        ReasonChoice::NoLongerNeeded,
        ReasonChoice::Mistaken,
        ReasonChoice::Requested,
        ReasonChoice::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ReasonChoice::Retired => "退職・契約終了による事務の終了",
            ReasonChoice::RetentionOver => "法定保存期間の経過",
            ReasonChoice::NoLongerNeeded => "扶養から外れた等、利用目的がなくなったため",
            ReasonChoice::Mistaken => "誤って登録したため",
            ReasonChoice::Requested => "本人からの申し出",
            ReasonChoice::Other => "その他",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ReasonChoice::Retired => "retired",
            ReasonChoice::RetentionOver => "retention_over",
            ReasonChoice::NoLongerNeeded => "no_longer_needed",
            ReasonChoice::Mistaken => "mistaken",
            ReasonChoice::Requested => "requested",
            ReasonChoice::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<ReasonChoice> {
        ReasonChoice::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Longest free text of a reason, in characters.
pub const REASON_TEXT_MAX: usize = 200;

/// A checked reason: a listed ground and free text (trimmed, possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub choice: ReasonChoice,
    pub text: String,
}

impl Reason {
    /// 「法定保存期間の経過（2018年分の源泉徴収票の保存期間満了）」.
    pub fn label(&self) -> String {
        if self.text.is_empty() {
            self.choice.label().to_string()
        } else {
            format!("{}（{}）", self.choice.label(), self.text)
        }
    }
}

/// Why a reason was refused (the message names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    #[error("削除理由を選択してください。")]
    Missing,
    #[error("「その他」を選んだときは、削除理由の詳細を入力してください。")]
    OtherNeedsText,
    #[error("削除理由の詳細は{REASON_TEXT_MAX}文字以内で入力してください。")]
    TooLong,
    #[error("{0}")]
    HoldsNumber(String),
}

/// Checks a posted reason: a listed ground is required, free text is required for その他, at
/// most [`REASON_TEXT_MAX`] characters and never a My Number.
pub fn parse_reason(choice: &str, text: &str) -> Result<Reason, ReasonError> {
    let choice = ReasonChoice::from_code(choice.trim()).ok_or(ReasonError::Missing)?;
    let text = text.trim().to_string();
    if choice == ReasonChoice::Other && text.is_empty() {
        return Err(ReasonError::OtherNeedsText);
    }
    if text.chars().count() > REASON_TEXT_MAX {
        return Err(ReasonError::TooLong);
    }
    refuse_my_number("削除理由の詳細", &text)
        .map_err(|e| ReasonError::HoldsNumber(e.to_string()))?;
    Ok(Reason { choice, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reason_accepts_or_refuses_as_the_table_says() {
        // (choice, text, expected)
        let long = "あ".repeat(REASON_TEXT_MAX + 1);
        let cases: [(&str, &str, Result<&str, ReasonError>); 7] = [
            ("", "", Err(ReasonError::Missing)),
            ("unknown", "理由", Err(ReasonError::Missing)),
            ("retired", "", Ok("退職・契約終了による事務の終了")),
            (
                "retired",
                " 2025年3月退職 ",
                Ok("退職・契約終了による事務の終了（2025年3月退職）"),
            ),
            ("other", "  ", Err(ReasonError::OtherNeedsText)),
            ("other", &long, Err(ReasonError::TooLong)),
            ("other", "重複登録の整理", Ok("その他（重複登録の整理）")),
        ];
        for (choice, text, expected) in cases {
            let got = parse_reason(choice, text).map(|r| r.label());
            assert_eq!(got, expected.map(str::to_string), "{choice} {text}");
        }
    }

    #[test]
    fn parse_reason_refuses_a_my_number_in_the_free_text() {
        // given a valid number written into the reason
        let got = parse_reason("other", "番号 1234 5678 9018 を削除");
        // then it is refused with the field named, never stored
        assert!(matches!(got, Err(ReasonError::HoldsNumber(m)) if m.contains("削除理由の詳細")));
    }

    #[test]
    fn kinds_round_trip_through_their_codes() {
        for k in DisposalKind::ALL {
            assert_eq!(DisposalKind::from_code(k.code()), Some(k));
        }
        for r in ReasonChoice::ALL {
            assert_eq!(ReasonChoice::from_code(r.code()), Some(r));
        }
    }
}
