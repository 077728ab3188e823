//! The documents that prove a My Number (番号確認) and who its holder is (身元確認), as data:
//! the one place every screen that names documents reads them from (the approval screen's
//! 本人確認 guide, the phone's document steps, the upload slots, 操作ガイド). When the rules
//! change, this file is the one edit.
//!
//! Current as of 2026, after 番号法施行規則 and the tax agency's 本人確認 guidance:
//! - the paper/card 健康保険証 is no longer valid since 2025-12-02; people without a マイナ保険証
//!   hold a 資格確認書, which, like the old card, carries 保険者番号 and 記号・番号 that must be
//!   masked on any copy;
//! - 年金手帳 has not been issued since 2022-04; 基礎年金番号通知書 replaced it (a 年金手帳
//!   already issued still serves);
//! - 通知カード stopped being issued on 2020-05-25 and proves the number only while its name
//!   and address still match the 住民票; the 個人番号通知書 that replaced it proves nothing.
//!
//! This module is not the approval decision (an administrator looks at the image) and holds no
//! wording of the screens around the lists.

/// One kind of document, with the condition under which it serves (empty: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Document {
    pub name: &'static str,
    pub condition: &'static str,
}

const fn doc(name: &'static str, condition: &'static str) -> Document {
    Document { name, condition }
}

/// 番号確認: any one of these.
pub const NUMBER_PROOF: &[Document] = &[
    doc("個人番号カード（マイナンバーカード）の裏面", ""),
    doc(
        "個人番号が記載された住民票の写し、または住民票記載事項証明書",
        "発行から6ヶ月以内のもの",
    ),
    doc(
        "通知カード",
        "氏名・住所などの記載事項が現在の住民票と一致している場合に限ります",
    ),
];

/// Documents people offer as 番号確認 that do not serve.
pub const NOT_NUMBER_PROOF: &[Document] = &[doc(
    "個人番号通知書",
    "番号確認にも身元確認にも使えません（令和2年5月25日以降に届く、番号をお知らせするだけの書類です）",
)];

/// 身元確認 with a photo: any one of these.
pub const IDENTITY_PHOTO: &[Document] = &[
    doc("個人番号カード（マイナンバーカード）の表面", ""),
    doc("運転免許証", ""),
    doc("運転経歴証明書", "平成24年4月1日以降に交付されたもの"),
    doc("パスポート（旅券）", ""),
    doc("在留カード", ""),
    doc("特別永住者証明書", ""),
    doc("身体障害者手帳", ""),
    doc("精神障害者保健福祉手帳", ""),
    doc("療育手帳", ""),
];

/// 身元確認 without a photo: two of these together.
pub const IDENTITY_NO_PHOTO: &[Document] = &[
    doc(
        "資格確認書（健康保険・国民健康保険・後期高齢者医療など）",
        "保険者番号と被保険者等記号・番号を隠した（マスキングした）もの",
    ),
    doc("基礎年金番号通知書、または交付済みの年金手帳", ""),
    doc("児童扶養手当証書", ""),
    doc("特別児童扶養手当証書", ""),
];

/// Documents that used to serve and no longer do, with what replaced them.
pub const NO_LONGER_VALID: &[Document] = &[
    doc(
        "健康保険証（被保険者証）",
        "2025年12月2日以降は使えません。マイナ保険証をお持ちでない方に交付される「資格確認書」をお使いください",
    ),
];

/// What a copy of a 資格確認書 must hide, shown wherever the identity documents are.
pub const MASKING_NOTE: &str = "資格確認書の写しは、保険者番号と被保険者等記号・番号を隠した（マスキングした）ものに限ります。";

/// The documents of each list named in one line, for the places that show a summary (the
/// upload slots) rather than the lists.
pub fn names(list: &[Document]) -> String {
    list.iter().map(|d| d.name).collect::<Vec<_>>().join("、")
}

/// The documents of a list with their conditions, in one line (where a condition decides
/// whether the document serves at all, as for 通知カード).
pub fn names_with_conditions(list: &[Document]) -> String {
    list.iter()
        .map(|d| match d.condition {
            "" => d.name.to_string(),
            c => format!("{}（{c}）", d.name),
        })
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_current() -> impl Iterator<Item = &'static Document> {
        NUMBER_PROOF
            .iter()
            .chain(IDENTITY_PHOTO)
            .chain(IDENTITY_NO_PHOTO)
    }

    #[test]
    fn current_lists_offer_the_qualification_certificate_not_the_abolished_insurance_card() {
        assert!(IDENTITY_NO_PHOTO
            .iter()
            .any(|d| d.name.contains("資格確認書")));
        assert!(all_current().all(|d| !d.name.contains("健康保険証")));
        assert!(NO_LONGER_VALID
            .iter()
            .any(|d| d.name.contains("健康保険証")));
    }

    #[test]
    fn number_notice_never_proves_a_number_and_the_notice_card_only_with_its_condition() {
        assert!(NUMBER_PROOF
            .iter()
            .all(|d| !d.name.contains("個人番号通知書")));
        assert!(NOT_NUMBER_PROOF.iter().any(|d| d.name == "個人番号通知書"));
        let card = NUMBER_PROOF.iter().find(|d| d.name == "通知カード");
        assert!(card.is_some_and(|d| d.condition.contains("住民票と一致")));
    }

    #[test]
    fn the_pension_book_is_named_with_the_notice_that_replaced_it() {
        assert!(IDENTITY_NO_PHOTO
            .iter()
            .any(|d| d.name.contains("基礎年金番号通知書")));
    }
}
