//! Login (manual ch.2): email + password, then a second factor (a code mailed to the user, or
//! the code of their authenticator app).
//!
//! - [`password`]: the first step. It finds the address's tenants through the global `EMAIL#`
//!   look-up, narrows them by customer number when one is given (オプションログイン), and
//!   verifies the password against each candidate. Only when the password matches in more
//!   than one tenant does it ask for the customer number, so the question itself never tells a
//!   stranger anything.
//! - [`second_factor`]: the second step, consuming the pending session.
//! - [`logout`]: ending a session.
//!
//! Every failure is rate limited (see [`rate_limit`]: per pair of account and client address,
//! per client address, and a higher ceiling with growing delays per account, whose owner is
//! mailed when it trips), and every outcome is written to the audit log with the address.

mod logout;
mod password;
mod second_factor;
pub mod totp;

pub use logout::logout;
pub use password::password_step;
pub use second_factor::otp_step;

use super::keys::TenantId;
use super::rate_limit;
use super::users::User;
use super::{App, InfraError};
use crate::ports::audit::AuditEvent;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("メールアドレスまたはパスワードが正しくありません。")]
    Invalid,
    #[error("このメールアドレスは複数のアカウントで登録されています。「オプション入力」を押して、お客様番号を入力してください。")]
    NeedCustomerNumber,
    #[error("お客様番号が正しくありません。ログイン画面の「オプション入力」のお客様番号をご確認ください（お申し込み時のメールに記載しています）。")]
    WrongCustomerNumber,
    #[error("ログインの失敗が続いているため、しばらく待ってから再度お試しください（あと{}）。", rate_limit::wait_text(*.seconds))]
    Wait { seconds: i64 },
    #[error("ログインの失敗が続いたため、一時的にログインを制限しています。{}ほど時間をおいてから再度お試しください。", rate_limit::wait_text(*.seconds))]
    Locked { seconds: i64 },
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl LoginError {
    /// Seconds before another attempt can succeed, for a refusal by the limits.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            LoginError::Wait { seconds } | LoginError::Locked { seconds } => Some(*seconds),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("第二認証コードが正しくありません。")]
    Wrong,
    #[error("第二認証コードの有効期限（10分）が切れました。お手数ですが、もう一度ログインしてください。")]
    Expired,
    #[error("第二認証コードの入力に続けて失敗したため、このログインは無効になりました。もう一度ログインしてください。")]
    TooManyAttempts,
    #[error("第二認証コードの失敗が続いたため、一時的にログインを制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub customer_number: Option<String>,
}

pub(super) fn event(
    tenant: Option<&TenantId>,
    user: Option<&User>,
    action: &str,
    detail: &str,
    ip: &str,
) -> AuditEvent {
    AuditEvent {
        tenant_id: tenant.map(TenantId::to_string),
        actor_id: user.map(|u| u.id.clone()),
        actor_name: user.map(User::display_name),
        action: action.into(),
        target: user.map(|u| u.id.clone()),
        detail: detail.into(),
        ip: Some(ip.to_string()),
    }
}

pub(super) async fn audit(app: &App, e: AuditEvent) -> Result<(), InfraError> {
    app.audit().record(e).await.map_err(InfraError::from)
}

/// One audit entry in the tenant of each of `users` (so each tenant's administrators see it).
pub(super) async fn audit_each(
    app: &App,
    users: &[User],
    action: &str,
    detail: &str,
    ip: &str,
) -> Result<(), InfraError> {
    for user in users {
        audit(
            app,
            event(Some(&user.tenant), Some(user), action, detail, ip),
        )
        .await?;
    }
    Ok(())
}
