//! The company's security settings (セキュリティ, 最高権限 only): トークン認証 for every login
//! user, whether 閲覧のみ users may reveal and download numbers, and the retention years behind
//! a proposed 削除予定日 (`domain::retention`). Each change is recorded.
//!
//! Only the two attributes are written onto the stored profile, so whatever else the profile
//! holds (契約者情報, the passcode, the keys) is left exactly as it was.

use super::actor::Actor;
use super::keys::{sk, TenantScope};
use super::tenants::TenantSettings;
use super::{App, InfraError};
use crate::ports::audit::AuditEvent;
use crate::ports::store::Condition;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Infra(#[from] InfraError),
}

fn on_off(on: bool) -> &'static str {
    if on {
        "オン"
    } else {
        "オフ"
    }
}

/// Stores `wanted` and records each setting that changed (nothing is recorded when nothing
/// changed).
pub async fn update_settings(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    wanted: TenantSettings,
) -> Result<(), SettingsError> {
    let key = scope.key(sk::PROFILE);
    let item = scope
        .get(&key)
        .await
        .map_err(InfraError::from)?
        .ok_or(InfraError::Corrupt("tenant"))?;
    let flag = |name: &str| item.bool(name).unwrap_or(false);
    let changes: Vec<String> = [
        ("require_totp", "トークン認証の必須", wanted.require_totp),
        (
            "view_only_may_reveal",
            "閲覧のみのマイナンバー表示・ダウンロード",
            wanted.view_only_may_reveal,
        ),
    ]
    .into_iter()
    .filter(|(name, _, want)| flag(name) != *want)
    .map(|(name, label, want)| {
        format!(
            "セキュリティ設定変更: {label} {}→{}",
            on_off(flag(name)),
            on_off(want)
        )
    })
    .chain({
        let stored = super::tenants::read_retention_years(&item);
        (stored != wanted.retention_years).then(|| {
            format!(
                "セキュリティ設定変更: 法定保存期間（削除予定日の提案） {stored}年→{}年",
                wanted.retention_years
            )
        })
    })
    .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let updated = item
        .clone()
        .with("require_totp", wanted.require_totp)
        .with("view_only_may_reveal", wanted.view_only_may_reveal)
        .with("retention_years", wanted.retention_years);
    scope
        .put(updated, Condition::Exists)
        .await
        .map_err(InfraError::from)?;
    for detail in changes {
        app.audit()
            .record(AuditEvent {
                tenant_id: Some(scope.tenant().to_string()),
                actor_id: Some(actor.user_id.clone()),
                actor_name: Some(actor.name.clone()),
                action: "security.settings_changed".into(),
                target: None,
                detail,
                ip: Some(actor.ip.clone()),
            })
            .await
            .map_err(InfraError::from)?;
    }
    Ok(())
}
