//! User roles (権限) of an employer account and what each may do.
//!
//! Limits: a static permission table only. It does not know who the user is,
//! which company they belong to, or whether a usage purpose was declared
//! before revealing a number; callers enforce those separately.

/// Role of a user inside a customer account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 最高権限
    Owner,
    /// 管理担当者
    Manager,
    /// 閲覧のみ
    ViewOnly,
}

/// An operation guarded by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewRegistrants,
    RevealNumber,
    ExportCsv,
    EditRegistrants,
    Approve,
    SendCollectionMail,
    ImportCsv,
    DisposeNumbers,
    ManageUsers,
    EditContractor,
    ViewAuditLog,
    ChangeSecurity,
    ChangePlan,
    /// お支払い情報 (payment method and invoices) of the contract.
    ManagePayment,
    CancelContract,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 15] = [
        Permission::ViewRegistrants,
        Permission::RevealNumber,
        Permission::ExportCsv,
        Permission::EditRegistrants,
        Permission::Approve,
        Permission::SendCollectionMail,
        Permission::ImportCsv,
        Permission::DisposeNumbers,
        Permission::ManageUsers,
        Permission::EditContractor,
        Permission::ViewAuditLog,
        Permission::ChangeSecurity,
        Permission::ChangePlan,
        Permission::ManagePayment,
        Permission::CancelContract,
    ];

    /// Japanese name of the operation (for "not allowed" messages).
    pub fn label(self) -> &'static str {
        match self {
            Permission::ViewRegistrants => "登録者情報の閲覧",
            Permission::RevealNumber => "マイナンバーの表示",
            Permission::ExportCsv => "CSV出力",
            Permission::EditRegistrants => "登録者情報の編集",
            Permission::Approve => "承認・差戻し",
            Permission::SendCollectionMail => "収集依頼メールの送信",
            Permission::ImportCsv => "CSV取込",
            Permission::DisposeNumbers => "マイナンバーの廃棄",
            Permission::ManageUsers => "利用者の管理",
            Permission::EditContractor => "契約者情報の変更",
            Permission::ViewAuditLog => "操作履歴の閲覧",
            Permission::ChangeSecurity => "セキュリティ設定の変更",
            Permission::ChangePlan => "契約プランの変更",
            Permission::ManagePayment => "お支払い情報の変更",
            Permission::CancelContract => "解約申請",
        }
    }
}

impl Role {
    /// Every role, strongest first.
    pub const ALL: [Role; 3] = [Role::Owner, Role::Manager, Role::ViewOnly];

    /// Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "最高権限",
            Role::Manager => "管理担当者",
            Role::ViewOnly => "閲覧のみ",
        }
    }

    /// Stable storage code.
    pub fn code(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::ViewOnly => "view_only",
        }
    }

    /// Inverse of [`Role::code`].
    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Explanation shown when choosing a role (wording from the manual).
    pub fn description(self) -> &'static str {
        match self {
            Role::Owner => "契約プランの変更や解約申請を含む、すべての操作が可能です。",
            Role::Manager => {
                "ログインユーザの管理、契約プランの変更、お支払い情報の変更と解約申請以外の操作が可能です。"
            }
            Role::ViewOnly => "マイナンバー関連の閲覧のみ可能です。登録情報の編集はできません。",
        }
    }

    /// Whether this role may perform `permission`. A 管理担当者 runs the vault but not the
    /// account: who may log in, the contract and its payment are the 最高権限's. 閲覧のみ reads
    /// registrants and (where the company allows it: the caller checks `TenantSettings`)
    /// reveals or downloads numbers; it changes nothing, approves nothing, mails nobody and
    /// imports nothing, and the operation log (who did what, from where) is not theirs to read.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Manager => !matches!(
                permission,
                ManageUsers | ChangePlan | ManagePayment | CancelContract
            ),
            Role::ViewOnly => matches!(permission, ViewRegistrants | RevealNumber | ExportCsv),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn allows_matches_table_when_every_role_and_permission() {
        // (permission, owner, manager, view_only)
        let table = [
            (ViewRegistrants, true, true, true),
            (RevealNumber, true, true, true),
            (ExportCsv, true, true, true),
            (EditRegistrants, true, true, false),
            (Approve, true, true, false),
            (SendCollectionMail, true, true, false),
            (ImportCsv, true, true, false),
            (DisposeNumbers, true, true, false),
            (ManageUsers, true, false, false),
            (EditContractor, true, true, false),
            (ViewAuditLog, true, true, false),
            (ChangeSecurity, true, true, false),
            (ChangePlan, true, false, false),
            (ManagePayment, true, false, false),
            (CancelContract, true, false, false),
        ];
        assert_eq!(table.len(), Permission::ALL.len());
        for (permission, owner, manager, view_only) in table {
            assert_eq!(
                Role::Owner.allows(permission),
                owner,
                "owner {permission:?}"
            );
            assert_eq!(
                Role::Manager.allows(permission),
                manager,
                "manager {permission:?}"
            );
            assert_eq!(
                Role::ViewOnly.allows(permission),
                view_only,
                "view_only {permission:?}"
            );
        }
    }

    #[test]
    fn code_round_trips_when_each_role() {
        let cases = [
            (Role::Owner, "owner", "最高権限"),
            (Role::Manager, "manager", "管理担当者"),
            (Role::ViewOnly, "view_only", "閲覧のみ"),
        ];
        for (role, code, label) in cases {
            assert_eq!(role.code(), code);
            assert_eq!(role.label(), label);
            assert_eq!(Role::from_code(code), Some(role));
            assert!(!role.description().is_empty());
        }
        assert_eq!(Role::from_code("admin"), None);
    }

    #[test]
    fn label_is_unique_when_each_permission() {
        let mut labels: Vec<_> = Permission::ALL.iter().map(|p| p.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Permission::ALL.len());
    }
}
