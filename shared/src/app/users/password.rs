//! パスワード変更 of a login user (manual ch.5): by a 最高権限 for another user (who is told by
//! mail) and by each user for themselves with the current password, rate-limited like every
//! re-authentication. Reached as `users::manage::{set_password, change_own_password}`.
//! Not here: the password rules themselves (`app::passwords`).

use super::manage::{audit, event, queue_mail, UserError};
use super::User;
use crate::app::actor::Actor;
use crate::app::keys::TenantScope;
use crate::app::person::FieldErrors;
use crate::app::{passwords, rate_limit, App};
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, StoreError};

/// The new password of `user`, checked by the sign-up rules.
fn check_password(user: &User, password: &str, confirm: &str) -> Result<(), UserError> {
    let mut errors = FieldErrors::new();
    let email = crate::domain::identity::Email::parse(&user.email).ok();
    passwords::check_new(&mut errors, password, confirm, email.as_ref());
    if errors.is_empty() {
        Ok(())
    } else {
        Err(UserError::Invalid(errors))
    }
}

async fn store_password(
    app: &App,
    scope: &TenantScope,
    user: &User,
    password: String,
) -> Result<String, UserError> {
    let updated = User {
        password_hash: passwords::hash(app.config.password_params, password).await?,
        ..user.clone()
    };
    scope
        .put(updated.to_item(scope), Condition::Exists)
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed => UserError::NotFound,
            other => other.into(),
        })?;
    Ok(updated.password_hash)
}

/// パスワード変更 of another user by an administrator. The user is told by mail (no password
/// in it), so a change they did not expect does not go unnoticed.
pub async fn set_password(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    user_id: &str,
    password: String,
    confirm: &str,
) -> Result<(), UserError> {
    let user = super::load(scope, user_id)
        .await?
        .ok_or(UserError::NotFound)?;
    check_password(&user, &password, confirm)?;
    store_password(app, scope, &user, password).await?;
    audit(
        app,
        event(
            scope,
            actor,
            "user.password_set",
            &user.id,
            format!(
                "ログインユーザ「{}」のパスワード変更（管理者による）",
                user.display_name()
            ),
        ),
    )
    .await?;
    let body = format!(
        "{name} 様\n\n\
         マイナクラウドのログインパスワードが、管理者（{actor}）によって変更されました。\n\
         新しいパスワードは管理者にお問い合わせください（このメールには記載していません）。\n\
         ログイン後、画面右上の「パスワード変更」から、ご自身だけが知るパスワードに変更してください。\n\n\
         お心当たりのない場合は、至急ご担当者にお問い合わせください。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        actor = actor.name,
    );
    queue_mail(
        app,
        &Mail::new(
            &user.email,
            "【マイナンバー管理】パスワードが変更されました",
            body,
        ),
    )
    .await;
    Ok(())
}

/// パスワード変更 of one's own password: the current password first. Wrong ones count against
/// the user and the client address with the re-authentication limits (as before revealing a
/// number); once either is used up even the right one waits out the window. Returns the new
/// password hash, so the caller keeps its own session (every other session of the user ends).
pub async fn change_own_password(
    app: &App,
    scope: &TenantScope,
    user: &User,
    ip: &str,
    current: &str,
    password: String,
    confirm: &str,
) -> Result<String, UserError> {
    let now = app.now().unix_timestamp();
    let store = app.ports.sessions.as_ref();
    let account = format!("{}#{}", scope.tenant(), user.id);
    let limited = |e: StoreError| UserError::Infra(e.into());
    if rate_limit::is_blocked(store, &rate_limit::REAUTH_ACCOUNT, &account, now)
        .await
        .map_err(limited)?
        || rate_limit::is_blocked(store, &rate_limit::REAUTH_IP, ip, now)
            .await
            .map_err(limited)?
    {
        return Err(UserError::Locked);
    }
    let actor = Actor {
        user_id: user.id.clone(),
        name: user.display_name(),
        ip: ip.to_string(),
    };
    if current.is_empty()
        || !passwords::verify(user.password_hash.clone(), current.to_string()).await
    {
        rate_limit::hit(store, &rate_limit::REAUTH_IP, ip, now)
            .await
            .map_err(limited)?;
        rate_limit::hit(store, &rate_limit::REAUTH_ACCOUNT, &account, now)
            .await
            .map_err(limited)?;
        audit(
            app,
            event(
                scope,
                &actor,
                "user.password_change_failed",
                &user.id,
                "パスワード変更失敗（現在のパスワード誤り）".into(),
            ),
        )
        .await?;
        return Err(UserError::WrongPassword);
    }
    check_password(user, &password, confirm)?;
    let hash = store_password(app, scope, user, password).await?;
    audit(
        app,
        event(
            scope,
            &actor,
            "user.password_change",
            &user.id,
            "パスワード変更（本人による）".into(),
        ),
    )
    .await?;
    Ok(hash)
}
