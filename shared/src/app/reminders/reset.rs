//! The new password a right code allows: set on every account of the ticket (once), ending
//! their sessions, recorded and told by mail. Not here: the code check (`verify`).

use super::{live_ticket, ticket_users, ResetError};
use crate::app::auth::audit_each;
use crate::app::keys::{sk, TenantScope};
use crate::app::users::User;
use crate::app::{passwords, App, InfraError};
use crate::domain::identity::check_password_strength;
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, StoreError};

/// Sets the new password on every account of the ticket, ends their sessions (the password
/// they were opened with is gone), records it and tells the address.
pub async fn reset_password(
    app: &App,
    token: &str,
    password: &str,
    confirm: &str,
    ip: &str,
) -> Result<(), ResetError> {
    let item = live_ticket(app, token)
        .await?
        .filter(|i| i.bool("opened") == Some(true))
        .ok_or(ResetError::Expired)?;
    let listed = ticket_users(app, &item).await?;
    let email = listed.first().map(|u| u.email.clone());
    if let Err(problems) = check_password_strength(password, email.as_deref()) {
        return Err(ResetError::Invalid(problems));
    }
    if password != confirm {
        return Err(ResetError::Invalid(vec![
            "確認用のパスワードが一致しません。".into(),
        ]));
    }
    // Single use: only the request that removes the opened ticket goes on.
    match app
        .ports
        .sessions
        .delete(&item.key, Condition::Equals("opened".into(), true.into()))
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(ResetError::Expired),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    let hash = passwords::hash(app.config.password_params, password.to_string()).await?;
    for u in &listed {
        set_password_hash(app, u, &hash).await?;
    }
    audit_each(
        app,
        &listed,
        "reminder.password_reset",
        "リマインダー: パスワード再設定（他のログイン中のセッションを終了）",
        ip,
    )
    .await?;
    if let Some(first) = listed.first() {
        app.ports
            .mailer
            .send(&reset_notice(app, first))
            .await
            .map_err(InfraError::from)?;
    }
    Ok(())
}

/// Writes a new password hash onto the stored user, leaving every other attribute as it is.
async fn set_password_hash(app: &App, user: &User, hash: &str) -> Result<(), InfraError> {
    let scope = TenantScope::new(user.tenant.clone(), app.ports.store.clone());
    let key = scope.key(&sk::user(&user.id));
    let Some(item) = scope.get(&key).await? else {
        return Ok(());
    };
    scope
        .put(item.with("password_hash", hash), Condition::Exists)
        .await?;
    Ok(())
}

fn reset_notice(app: &App, user: &User) -> Mail {
    let at = app.now().to_offset(time::macros::offset!(+9));
    let body = format!(
        "{name} 様\n\n\
         {y}年{m}月{d}日 {hh:02}:{mm:02}ごろ、「ログインできない場合」のお手続きにより、\
         マイナクラウドのパスワードを再設定しました。ログイン中だった画面は、すべてログアウト\
         しています。\n\n\
         お心当たりのない場合は、至急、最高権限のユーザにご連絡ください。\
         操作履歴で日時と接続元を確認できます。\n\n\
         このメールは送信専用です。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        y = at.year(),
        m = u8::from(at.month()),
        d = at.day(),
        hh = at.hour(),
        mm = at.minute(),
    );
    Mail::new(
        &user.email,
        "【マイナンバー管理】パスワードを再設定しました",
        body,
    )
}
