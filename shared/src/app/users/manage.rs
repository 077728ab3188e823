//! The use cases that change a tenant's login users (manual ch.5): 新規登録, 編集, パスワード変更
//! (by a 最高権限 for another user, and by each user for themselves with the current password),
//! 削除. Each is one transaction that also keeps the global `EMAIL#` look-up in step and moves
//! the tenant's users version, so two concurrent changes can never together leave the tenant
//! without a 最高権限 (the loser is told to try again). Every change is audited with the acting
//! user's name; a deleted user leaves a [`super::DeletedUser`] so the log can still mark them.
//!
//! Who may call these is the route table's business (`web::access`); the rules that hold for
//! every caller (not yourself, never the last 最高権限, one address once per tenant) are here.//!
//! The password changes (by an administrator, by oneself) live in `users::password` and are
//! re-exported here, so callers keep using `manage::…`; the error, audit and mail helpers they
//! share stay in this file.

use serde_json::json;

use super::form::UserDraft;
use super::{DeletedUser, User};
use crate::app::actor::Actor;
use crate::app::keys::{self as k, sk, TenantScope};
use crate::app::person::FieldErrors;
use crate::app::{passwords, worker, App, InfraError};
use crate::domain::role::Role;
use crate::ports::audit::AuditEvent;
use crate::ports::mailer::Mail;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

pub use super::password::{change_own_password, set_password};

pub const EMAIL_TAKEN: &str = "このメールアドレスは、すでにログインユーザとして登録されています。";

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("not found")]
    NotFound,
    #[error("最高権限のユーザがいなくなるため、この操作はできません。先に他のユーザを最高権限にしてください。")]
    LastOwner,
    #[error("ログイン中のご自身は削除できません。")]
    DeleteSelf,
    #[error(
        "他の操作と重なったため、保存できませんでした。画面を開き直して、もう一度お試しください。"
    )]
    Conflict,
    #[error("現在のパスワードが正しくありません。")]
    WrongPassword,
    #[error("パスワードの誤りが続いたため、一時的にパスワード変更を制限しています。しばらく時間をおいて（15分程度）から再度お試しください。")]
    Locked,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        UserError::Infra(e.into())
    }
}

pub(super) use crate::app::actor::audit_event as event;

pub(super) async fn audit(app: &App, e: AuditEvent) -> Result<(), UserError> {
    app.audit()
        .record(e)
        .await
        .map_err(|e| UserError::Infra(e.into()))
}

/// Queues a mail through the worker (the page does not wait on the mail service).
pub(super) async fn queue_mail(app: &App, mail: &Mail) {
    if let Err(e) = app
        .ports
        .events
        .publish(vec![worker::mail_event(mail)])
        .await
    {
        tracing::warn!(error = %e, "login user mail could not be queued");
    }
}

/// The tenant's users as they are now, and the write that moves their version on (it fails if
/// anyone changed the users since this read).
async fn snapshot(scope: &TenantScope) -> Result<(Vec<User>, WriteOp), UserError> {
    let key = scope.key(sk::USERS_VERSION);
    let current = scope.get(&key).await?.and_then(|i| i.i64("version"));
    let users = super::list(scope).await?;
    let next = Item::new(key).with("version", current.unwrap_or(0) + 1);
    let condition = match current {
        None => Condition::NotExists,
        Some(v) => Condition::Equals("version".into(), json!(v)),
    };
    Ok((
        users,
        WriteOp::Put {
            item: next,
            condition,
        },
    ))
}

fn lookup_item(user: &User) -> Item {
    Item::new(k::email_lookup(&user.email, &user.tenant)).with("user", user.id.as_str())
}

/// Commits tenant writes and global look-up writes as one transaction. A failed condition
/// means the address was taken in the meantime (reported on the form) or another change
/// moved the users version (try again).
async fn commit(
    app: &App,
    scope: &TenantScope,
    tenant_ops: Vec<WriteOp>,
    global_ops: Vec<WriteOp>,
    new_email: Option<&str>,
) -> Result<(), UserError> {
    scope.check_ops(&tenant_ops)?;
    let ops = tenant_ops.into_iter().chain(global_ops).collect();
    match app.ports.store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => {
            if let Some(email) = new_email {
                let taken = app
                    .ports
                    .store
                    .get(&k::email_lookup(email, scope.tenant()))
                    .await?
                    .is_some();
                if taken {
                    return Err(email_taken());
                }
            }
            Err(UserError::Conflict)
        }
        Err(e) => Err(e.into()),
    }
}

fn email_taken() -> UserError {
    UserError::Invalid(vec![("email", EMAIL_TAKEN.into())])
}

fn owners(users: &[User]) -> usize {
    users.iter().filter(|u| u.role == Role::Owner).count()
}

/// 新規登録: the user with the initial password the administrator typed. The new user is
/// mailed that they can log in (never the password): the second factor goes to their own
/// address, so whoever typed the password still cannot log in as them.
pub async fn create(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    company_name: &str,
    customer_number: &str,
    draft: UserDraft,
    password: String,
) -> Result<User, UserError> {
    let (users, version) = snapshot(scope).await?;
    if users.iter().any(|u| u.email == draft.email.as_str()) {
        return Err(email_taken());
    }
    let user = User {
        id: ulid::Ulid::new().to_string(),
        tenant: scope.tenant().clone(),
        email: draft.email.as_str().to_string(),
        family_name: draft.family_name,
        given_name: draft.given_name,
        role: draft.role,
        password_hash: passwords::hash(app.config.password_params, password).await?,
        created_at: app.now(),
        department: draft.department,
        kind: draft.kind,
        note: draft.note,
    };
    commit(
        app,
        scope,
        vec![WriteOp::put_new(user.to_item(scope)), version],
        vec![WriteOp::put_new(lookup_item(&user))],
        Some(&user.email),
    )
    .await?;
    audit(
        app,
        event(
            scope,
            actor,
            "user.create",
            &user.id,
            format!(
                "ログインユーザ「{}」の新規登録（権限: {}、属性: {}）",
                user.display_name(),
                user.role.label(),
                user.kind.label()
            ),
        ),
    )
    .await?;
    queue_mail(
        app,
        &welcome_mail(app, &user, company_name, customer_number),
    )
    .await;
    Ok(user)
}

fn welcome_mail(app: &App, user: &User, company_name: &str, customer_number: &str) -> Mail {
    let body = format!(
        "{name} 様\n\n\
         {company} のマイナクラウドに、ログインユーザとして登録されました。\n\n\
         ログインID（メールアドレス）: {email}\n\
         権限: {role}\n\
         お客様番号: {customer}\n\n\
         ログイン画面: {base}/login\n\
         パスワードは、登録した管理者からお知らせします（このメールには記載していません）。\n\
         ログイン後、画面右上の「パスワード変更」から、ご自身だけが知るパスワードに変更してください。\n\
         ログインの際は、パスワードの入力後にこのメールアドレスへ届く第二認証コードで本人確認を行います。\n\
         一つのメールアドレスで複数の会社のアカウントをお持ちの場合は、ログイン画面の\n\
         「オプション入力」にお客様番号を入力してください。\n\n\
         お心当たりのない場合は、{company} のご担当者にお問い合わせください。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        company = company_name,
        email = user.email,
        role = user.role.label(),
        customer = customer_number,
        base = app.config.base_url,
    );
    Mail::new(
        &user.email,
        "【マイナンバー管理】ログインユーザに登録されました",
        body,
    )
}

/// 編集: every field but the password. The address moves its global look-up in the same
/// transaction; a change that would leave no 最高権限 is refused.
pub async fn update(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    user_id: &str,
    draft: UserDraft,
) -> Result<User, UserError> {
    let (users, version) = snapshot(scope).await?;
    let before = users
        .iter()
        .find(|u| u.id == user_id)
        .cloned()
        .ok_or(UserError::NotFound)?;
    if users
        .iter()
        .any(|u| u.id != user_id && u.email == draft.email.as_str())
    {
        return Err(email_taken());
    }
    if before.role == Role::Owner && draft.role != Role::Owner && owners(&users) <= 1 {
        return Err(UserError::LastOwner);
    }
    let after = User {
        email: draft.email.as_str().to_string(),
        family_name: draft.family_name,
        given_name: draft.given_name,
        role: draft.role,
        department: draft.department,
        kind: draft.kind,
        note: draft.note,
        ..before.clone()
    };
    let email_changed = after.email != before.email;
    let mut global = Vec::new();
    if email_changed {
        global.push(WriteOp::Delete {
            key: k::email_lookup(&before.email, scope.tenant()),
            condition: Condition::None,
        });
        global.push(WriteOp::put_new(lookup_item(&after)));
    }
    commit(
        app,
        scope,
        vec![
            WriteOp::Put {
                item: after.to_item(scope),
                condition: Condition::Exists,
            },
            version,
        ],
        global,
        email_changed.then_some(after.email.as_str()),
    )
    .await?;
    let mut changes = Vec::new();
    if before.display_name() != after.display_name() {
        changes.push(format!(
            "氏名: {} → {}",
            before.display_name(),
            after.display_name()
        ));
    }
    if email_changed {
        changes.push("メールアドレス".to_string());
    }
    if before.role != after.role {
        changes.push(format!(
            "権限: {} → {}",
            before.role.label(),
            after.role.label()
        ));
    }
    if before.kind != after.kind {
        changes.push(format!(
            "属性: {} → {}",
            before.kind.label(),
            after.kind.label()
        ));
    }
    if before.department != after.department {
        changes.push("部署".to_string());
    }
    if before.note != after.note {
        changes.push("備考".to_string());
    }
    let what = if changes.is_empty() {
        "変更なし".to_string()
    } else {
        changes.join("、")
    };
    audit(
        app,
        event(
            scope,
            actor,
            "user.update",
            &after.id,
            format!("ログインユーザ「{}」の編集（{what}）", after.display_name()),
        ),
    )
    .await?;
    Ok(after)
}

/// 削除: not oneself, never the last 最高権限. The user item and its address look-up go; a
/// [`DeletedUser`] (name only) stays for the operation log. Sessions of the deleted user end
/// at their next request (`Authed` finds no user).
pub async fn delete(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    user_id: &str,
) -> Result<User, UserError> {
    if actor.user_id == user_id {
        return Err(UserError::DeleteSelf);
    }
    let (users, version) = snapshot(scope).await?;
    let user = users
        .iter()
        .find(|u| u.id == user_id)
        .cloned()
        .ok_or(UserError::NotFound)?;
    if user.role == Role::Owner && owners(&users) <= 1 {
        return Err(UserError::LastOwner);
    }
    let tombstone = DeletedUser {
        id: user.id.clone(),
        name: user.display_name(),
        deleted_at: app.now(),
    };
    commit(
        app,
        scope,
        vec![
            WriteOp::Delete {
                key: scope.key(&sk::user(&user.id)),
                condition: Condition::Exists,
            },
            WriteOp::put(tombstone.to_item(scope)),
            version,
        ],
        vec![WriteOp::Delete {
            key: k::email_lookup(&user.email, scope.tenant()),
            condition: Condition::None,
        }],
        None,
    )
    .await?;
    audit(
        app,
        event(
            scope,
            actor,
            "user.delete",
            &user.id,
            format!(
                "ログインユーザ「{}」の削除（権限: {}）",
                user.display_name(),
                user.role.label()
            ),
        ),
    )
    .await?;
    Ok(user)
}
