//! How a registrant or a dependent is shown, wherever it is shown: the rows naming the person
//! (approval and マイナンバー編集), the approver's reasons (detail pages) and the rows both
//! 入力確認 pages show alike. The admin screens' views of a person share these; the screens
//! themselves are their capabilities' own.

use crate::app::approval::Subject;
use crate::app::person::Review;
use crate::domain::my_number::MyNumber;
use crate::domain::person::Sex;
use crate::domain::status::Status;

/// The rows naming the person, as the manual's approval and edit screens show them.
pub(super) fn person_rows(s: &Subject) -> Vec<(&'static str, String)> {
    let r = &s.registrant;
    let mut rows = vec![("社員コード", r.code.clone())];
    if let Some(d) = &s.dependent {
        rows.push(("登録社員", r.name()));
        rows.push(("氏名", s.name()));
        rows.push(("フリガナ", s.kana()));
        rows.push(("続柄", d.relationship.label().into()));
        rows.push(("属性", d.kind.label().into()));
    } else {
        rows.push(("氏名", s.name()));
        rows.push(("フリガナ", s.kana()));
    }
    rows.push(("ステータス", s.status().label().into()));
    rows
}

/// The approver's reasons as detail rows: 差戻し理由 while kept (承認 clears it), 拒否理由 while
/// the status is 拒否.
pub(super) fn review_rows(status: Status, review: &Review) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if let Some(r) = &review.sent_back_reason {
        rows.push(("差戻し理由", r.clone()));
    }
    if let (Some(r), Status::Refused) = (&review.refused_reason, status) {
        rows.push(("拒否理由", r.clone()));
    }
    rows
}

/// 性別 on a 入力確認 page.
pub(super) fn sex_row(sex: Option<Sex>) -> (&'static str, String) {
    (
        "性別",
        sex.map_or("（未選択）".into(), |s| s.label().to_string()),
    )
}

/// マイナンバー on a 入力確認 page: masked, or what the empty boxes mean (an edit keeps the
/// stored number).
pub(super) fn number_row(number: Option<&MyNumber>, editing: bool) -> (&'static str, String) {
    let empty = if editing {
        "変更しない"
    } else {
        "（未入力）"
    };
    (
        "マイナンバー",
        number.map_or_else(|| empty.into(), |n| n.masked()),
    )
}
