//! 承認 (manual ch.9) as pure rules: which status each decision may follow, what it leads to,
//! what a reason must look like, and when a dependent's documents must be on file.
//!
//! | decision | allowed from            | leads to | reason   |
//! |----------|-------------------------|----------|----------|
//! | 承認     | 承認待                  | 完了     | none     |
//! | 差戻し   | 承認待                  | 差戻し   | required |
//! | 拒否     | 未登録・承認待・差戻し  | 拒否     | required |
//!
//! 拒否 records that the person declined to provide the number (the manual's example is a
//! 未登録 registrant), so it may follow any status in which no approved number is held. It may
//! not follow 完了 (an approved number is on file: correcting or disposing of it is マイナンバー
//! 編集 or 削除, not a refusal) nor 拒否 itself. Leaving 拒否 happens only by entering a number
//! (マイナンバー編集), which goes back to 承認待 like any changed number ([`after_number_change`]).
//!
//! Limits: no I/O. Who may decide (`Permission::Approve`), the audit entry and the one-transaction
//! write are `app::approval`'s job.

use crate::domain::status::Status;

/// A decision an approver takes on a registrant or dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 承認: the number and the documents were checked (本人確認).
    Approve,
    /// 差戻し: something is missing or wrong; the person is asked to submit again.
    SendBack,
    /// 拒否: the person declined to provide the number, for a stated reason.
    Refuse,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::Approve => "承認",
            Decision::SendBack => "差戻し",
            Decision::Refuse => "拒否",
        }
    }

    /// Stable code for the audit log.
    pub fn code(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::SendBack => "send_back",
            Decision::Refuse => "refuse",
        }
    }

    /// The status the decision leads to.
    pub fn target(self) -> Status {
        match self {
            Decision::Approve => Status::Completed,
            Decision::SendBack => Status::SentBack,
            Decision::Refuse => Status::Refused,
        }
    }

    /// Whether a reason must be written (差戻し理由・拒否理由).
    pub fn needs_reason(self) -> bool {
        !matches!(self, Decision::Approve)
    }
}

/// Why a decision was refused (Japanese, for the page).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("{name}できません。ステータスが「{}」のためです（{name}できるのは「承認待」のときだけです）。", .from.label(), name = .decision.label())]
    NotPending { decision: Decision, from: Status },
    #[error("すでに「拒否」になっています。")]
    AlreadyRefused,
    #[error(
        "承認済み（完了）のため拒否できません。番号の訂正はマイナンバー編集から行ってください。"
    )]
    RefuseCompleted,
    #[error("{}理由を入力してください。", .0.label())]
    ReasonMissing(Decision),
    #[error("{}理由は{max}文字以内で入力してください。", .0.label(), max = MAX_REASON_CHARS)]
    ReasonTooLong(Decision),
    #[error("{}理由に使用できない文字が含まれています。", .0.label())]
    ReasonControl(Decision),
    #[error("{}理由にマイナンバー（12桁の数字）を書かないでください。理由は登録者へのメールにも使われます。", .0.label())]
    ReasonHoldsNumber(Decision),
    #[error("マイナンバーが登録されていないため承認できません。")]
    NoNumber,
    #[error("国民年金の第3号被保険者は本人確認書類（番号確認書類・身元確認書類）の画像が両方そろうまで承認できません。画像をアップロードするか、差戻ししてください。")]
    ImagesMissing,
}

/// Longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The status `decision` leads to from `from`, or why it may not be taken.
pub fn transition(from: Status, decision: Decision) -> Result<Status, ApprovalError> {
    match (decision, from) {
        (Decision::Approve | Decision::SendBack, Status::Pending) => Ok(decision.target()),
        (Decision::Approve | Decision::SendBack, from) => {
            Err(ApprovalError::NotPending { decision, from })
        }
        (Decision::Refuse, Status::Unregistered | Status::Pending | Status::SentBack) => {
            Ok(Status::Refused)
        }
        (Decision::Refuse, Status::Completed) => Err(ApprovalError::RefuseCompleted),
        (Decision::Refuse, Status::Refused) => Err(ApprovalError::AlreadyRefused),
    }
}

/// The reason as it will be kept: trimmed, required for 差戻し and 拒否, at most
/// [`MAX_REASON_CHARS`], and never holding something shaped like a My Number (the reason goes
/// on the record, into the collection mail's message and onto the registrant's phone).
pub fn reason(decision: Decision, raw: &str) -> Result<Option<String>, ApprovalError> {
    if !decision.needs_reason() {
        return Ok(None);
    }
    let text = raw.trim();
    if text.is_empty() {
        return Err(ApprovalError::ReasonMissing(decision));
    }
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(ApprovalError::ReasonTooLong(decision));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ApprovalError::ReasonControl(decision));
    }
    if super::text::holds_my_number(text) {
        return Err(ApprovalError::ReasonHoldsNumber(decision));
    }
    Ok(Some(text.to_string()))
}

/// What approving needs besides the status: a number, and for kinds that require them
/// (国民年金の第3号被保険者) both document images. Other dependents' identity is checked by
/// the registrant, so they are approved directly (manual ch.9 扶養家族の承認作業).
pub fn check_approvable(
    has_number: bool,
    images_required: bool,
    has_number_proof: bool,
    has_identity_proof: bool,
) -> Result<(), ApprovalError> {
    if !has_number {
        return Err(ApprovalError::NoNumber);
    }
    if images_required && !(has_number_proof && has_identity_proof) {
        return Err(ApprovalError::ImagesMissing);
    }
    Ok(())
}

/// The status after マイナンバー編集: a changed number must be checked again (承認待), whatever
/// the status was, 完了 and 拒否 included; the same number again changes nothing.
pub fn after_number_change(status: Status, changed: bool) -> Status {
    if changed {
        Status::Pending
    } else {
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Status::*;

    #[test]
    fn transition_follows_the_table_when_every_status_and_decision() {
        // (decision, from, expected)
        let table: &[(Decision, Status, Option<Status>)] = &[
            (Approve, Unregistered, None),
            (Approve, Pending, Some(Completed)),
            (Approve, SentBack, None),
            (Approve, Completed, None),
            (Approve, Refused, None),
            (SendBack, Unregistered, None),
            (SendBack, Pending, Some(SentBack)),
            (SendBack, SentBack, None),
            (SendBack, Completed, None),
            (SendBack, Refused, None),
            (Refuse, Unregistered, Some(Refused)),
            (Refuse, Pending, Some(Refused)),
            (Refuse, SentBack, Some(Refused)),
            (Refuse, Completed, None),
            (Refuse, Refused, None),
        ];
        assert_eq!(table.len(), 3 * Status::ALL.len());
        for (decision, from, expected) in table {
            assert_eq!(
                transition(*from, *decision).ok(),
                *expected,
                "{decision:?} from {from:?}"
            );
        }
    }

    #[test]
    fn transition_says_why_when_refused() {
        assert_eq!(
            transition(Unregistered, Approve).unwrap_err().to_string(),
            "承認できません。ステータスが「未登録」のためです（承認できるのは「承認待」のときだけです）。"
        );
        assert_eq!(
            transition(Completed, SendBack).unwrap_err().to_string(),
            "差戻しできません。ステータスが「完了」のためです（差戻しできるのは「承認待」のときだけです）。"
        );
        assert_eq!(
            transition(Completed, Refuse).unwrap_err(),
            ApprovalError::RefuseCompleted
        );
        assert_eq!(
            transition(Refused, Refuse).unwrap_err(),
            ApprovalError::AlreadyRefused
        );
    }

    #[test]
    fn reason_is_required_trimmed_and_bounded_when_sending_back_or_refusing() {
        assert_eq!(reason(Approve, ""), Ok(None));
        assert_eq!(reason(Approve, "無視される"), Ok(None));
        for d in [SendBack, Refuse] {
            assert_eq!(reason(d, "  \n "), Err(ApprovalError::ReasonMissing(d)));
            assert_eq!(
                reason(d, " 画像が不鮮明です。\n撮り直してください。 "),
                Ok(Some("画像が不鮮明です。\n撮り直してください。".into()))
            );
            assert_eq!(
                reason(d, &"あ".repeat(MAX_REASON_CHARS)).map(|r| r.map(|r| r.chars().count())),
                Ok(Some(MAX_REASON_CHARS))
            );
            assert_eq!(
                reason(d, &"あ".repeat(MAX_REASON_CHARS + 1)),
                Err(ApprovalError::ReasonTooLong(d))
            );
            assert_eq!(reason(d, "理由\u{0}"), Err(ApprovalError::ReasonControl(d)));
        }
        assert_eq!(
            ApprovalError::ReasonMissing(SendBack).to_string(),
            "差戻し理由を入力してください。"
        );
        assert_eq!(
            ApprovalError::ReasonMissing(Refuse).to_string(),
            "拒否理由を入力してください。"
        );
    }

    #[test]
    fn reason_is_refused_when_it_holds_a_number_in_any_spelling() {
        for text in [
            "番号123456789018が違います",
            "1234 5678 9018 ではなく",
            "1234-5678-9018",
            "１２３４５６７８９０１８",
        ] {
            assert_eq!(
                reason(SendBack, text),
                Err(ApprovalError::ReasonHoldsNumber(SendBack)),
                "{text}"
            );
        }
        for text in [
            "2026年4月1日発行の住民票",
            "電話 03-1234-5678 まで",
            "12345678901",
            "123456789012",
        ] {
            assert!(reason(SendBack, text).is_ok(), "{text}");
        }
    }

    #[test]
    fn check_approvable_needs_both_images_only_when_required() {
        let cases = [
            // (number, required, number_proof, identity_proof, ok)
            (false, false, true, true, Err(ApprovalError::NoNumber)),
            (true, false, false, false, Ok(())),
            (true, true, false, false, Err(ApprovalError::ImagesMissing)),
            (true, true, true, false, Err(ApprovalError::ImagesMissing)),
            (true, true, false, true, Err(ApprovalError::ImagesMissing)),
            (true, true, true, true, Ok(())),
        ];
        for (number, required, np, ip, expected) in cases {
            assert_eq!(
                check_approvable(number, required, np, ip),
                expected,
                "{number} {required} {np} {ip}"
            );
        }
    }

    #[test]
    fn after_number_change_returns_to_pending_only_when_the_number_changed() {
        for s in Status::ALL {
            assert_eq!(after_number_change(s, true), Pending);
            assert_eq!(after_number_change(s, false), s);
        }
    }

    #[test]
    fn decision_labels_and_targets_when_each() {
        assert_eq!(
            [Approve, SendBack, Refuse].map(|d| (d.label(), d.code(), d.target())),
            [
                ("承認", "approve", Completed),
                ("差戻し", "send_back", SentBack),
                ("拒否", "refuse", Refused)
            ]
        );
    }
}
