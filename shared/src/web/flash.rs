//! The one-line notice a page shows after a redirect (`?done=<code>`, the PRG pattern): the
//! codes the マイナンバー管理 screens (registrants, dependents, groups, 複数一括登録) send and
//! their Japanese text. An unknown code shows nothing, so a crafted link cannot put words on
//! the page.

use serde::Deserialize;

/// The `done` query parameter of a page reached by a redirect after a change.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Flash {
    pub(super) done: Option<String>,
}

impl Flash {
    /// What to say, if the code is one of ours.
    pub(super) fn text(&self) -> Option<&'static str> {
        match self.done.as_deref()? {
            "created" => Some("登録者を追加しました。"),
            "updated" => Some("登録者情報を更新しました。"),
            "deleted" => Some("登録者を削除しました。"),
            "group_created" => Some("グループを追加しました。"),
            "group_updated" => Some("グループを更新しました。"),
            "group_deleted" => Some("グループを削除しました。"),
            "members" => Some("メンバーを登録しました。"),
            "dep_created" => Some("扶養家族を追加しました。"),
            "dep_updated" => Some("扶養家族を更新しました。"),
            "dep_deleted" => Some("扶養家族を削除しました。"),
            "bulk" => Some("複数一括登録で登録しました（ステータス: 完了）。"),
            _ => None,
        }
    }
}
