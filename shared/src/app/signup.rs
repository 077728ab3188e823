//! Sign-up (お申し込み): creates a tenant with a unique 7-digit customer number (お客様番号),
//! the applicant as its 最高権限 login user, plan 10 and a 30-day trial, its own master key
//! and data key, and mails the 本人確認 message carrying the customer number. A few sign-ups
//! per client address and hour ([`rate_limit::SIGNUP_IP`]).

use time::Duration;

use super::keys::{self as k, TenantId, TenantScope};
use super::person::required;
use super::tenants::{Counters, Tenant};
use super::users::{User, UserKind};
use super::{passwords, rate_limit, App, InfraError};
use crate::crypto;
use crate::domain::identity::Email;
use crate::domain::plan::Plan;
use crate::domain::role::Role;
use crate::ports::audit::AuditEvent;
use crate::ports::mailer::Mail;
use crate::ports::store::{Item, StoreError, WriteOp};

#[derive(Clone, Debug, Default)]
pub struct SignupInput {
    pub company_name: String,
    pub family_name: String,
    pub given_name: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
}

/// Errors per form field (`field`, Japanese message), in form order.
pub use super::person::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("sign-up is closed")]
    Closed,
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("同じ接続元からのお申し込みが続いたため、お申し込みの受付を一時的に制限しています。{}ほど時間をおいてから再度お試しください。", rate_limit::wait_text(*.seconds))]
    TooMany { seconds: i64 },
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Clone, Debug)]
pub struct SignupOutcome {
    pub tenant: TenantId,
    pub customer_number: String,
    pub email: String,
}

/// Checks the form; returns the cleaned values or every problem at once.
pub fn validate(input: &SignupInput) -> Result<(String, String, String, Email), FieldErrors> {
    let mut errors = FieldErrors::new();
    let company = required(
        &mut errors,
        "company_name",
        "会社名/組織名",
        &input.company_name,
    );
    let family = required(
        &mut errors,
        "family_name",
        "申請者氏名（姓）",
        &input.family_name,
    );
    let given = required(
        &mut errors,
        "given_name",
        "申請者氏名（名）",
        &input.given_name,
    );
    let email = match Email::parse(&input.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(("email", e.to_string()));
            None
        }
    };
    passwords::check_new(
        &mut errors,
        &input.password,
        &input.password_confirm,
        email.as_ref(),
    );
    match email {
        Some(email) if errors.is_empty() => Ok((company, family, given, email)),
        _ => Err(errors),
    }
}

fn welcome_mail(app: &App, user: &User, tenant: &Tenant) -> Mail {
    let body = format!(
        "{name} 様\n\n\
         マイナクラウドへのお申し込みありがとうございます。\n\
         以下の内容でアカウントを作成しました。\n\n\
         会社名/組織名: {company}\n\
         お客様番号: {customer}\n\
         ログインID（メールアドレス）: {email}\n\
         ご契約プラン: {plan}（無料お試し期間: {trial} まで）\n\n\
         お客様番号は、一つのメールアドレスで複数のアカウントをお持ちの場合のログイン\n\
         （オプションログイン）に必要です。大切に保管してください。\n\n\
         ログイン画面: {base}/login\n\
         ログインの際は、パスワードの入力後にこのメールアドレスへ届く第二認証コードで\n\
         本人確認を行います。\n\n\
         お心当たりのない場合は、このメールを破棄してください。\n\n\
         マイナクラウド\n",
        name = user.display_name(),
        company = tenant.company_name,
        customer = tenant.customer_number,
        email = user.email,
        plan = tenant.plan.label(),
        trial = tenant.trial_ends.to_string().replace('-', "/"),
        base = app.config.base_url,
    );
    Mail::new(
        &user.email,
        "【マイナンバー管理】本人確認を行ってください",
        body,
    )
}

pub async fn signup(app: &App, input: SignupInput, ip: &str) -> Result<SignupOutcome, SignupError> {
    if !app.config.signup_open {
        return Err(SignupError::Closed);
    }
    let (company, family, given, email) = validate(&input).map_err(SignupError::Invalid)?;
    // Each sign-up costs a master key and a mail: a few per address and hour (a correct form
    // counts; a form with mistakes is corrected and sent again freely).
    let store = app.ports.sessions.as_ref();
    let now_ts = app.now().unix_timestamp();
    let limit = rate_limit::check(store, &rate_limit::SIGNUP_IP, ip, now_ts)
        .await
        .map_err(InfraError::from)?;
    if !limit.is_open() {
        return Err(SignupError::TooMany {
            seconds: limit.retry_after(),
        });
    }
    rate_limit::hit(store, &rate_limit::SIGNUP_IP, ip, now_ts)
        .await
        .map_err(InfraError::from)?;
    let password_hash = passwords::hash(app.config.password_params, input.password).await?;

    let tenant_id = TenantId::new();
    let scope = TenantScope::new(tenant_id.clone(), app.ports.store.clone());
    let now = app.now();
    let keys = app.vault.create_tenant_keys(&tenant_id).await?;
    let user = User {
        id: ulid::Ulid::new().to_string(),
        tenant: tenant_id.clone(),
        email: email.as_str().to_string(),
        family_name: family,
        given_name: given,
        role: Role::Owner,
        password_hash,
        created_at: now,
        department: String::new(),
        kind: UserKind::Employee,
        note: String::new(),
    };
    let mut tenant = Tenant {
        customer_number: String::new(),
        company_name: company,
        plan: Plan::new(10).ok_or(InfraError::Corrupt("plan table"))?,
        trial_ends: (now + Duration::days(app.config.trial_days))
            .to_offset(time::macros::offset!(+9))
            .date(),
        created_at: now,
        passcode_set: false,
        passcode_hash: None,
        keys,
        settings: Default::default(),
        terms: Default::default(),
    };

    // The customer number is claimed in the same transaction as the tenant; on a collision
    // another number is drawn.
    let mut committed = false;
    for _ in 0..10 {
        tenant.customer_number = draw_customer_number();
        let ops = vec![
            WriteOp::put_new(
                Item::new(k::customer_lookup(&tenant.customer_number))
                    .with("tenant", tenant_id.as_str()),
            ),
            WriteOp::put_new(tenant.to_item(&scope)),
            WriteOp::put_new(Counters::initial_item(&scope)),
            // A new tenant's registrant directory is complete (empty) from the start.
            WriteOp::put_new(super::directory::built_item(&scope.pk())),
            WriteOp::put_new(user.to_item(&scope)),
            WriteOp::put_new(super::contractor::initial_item(
                &scope,
                &tenant.company_name,
                (&user.family_name, &user.given_name),
                &user.email,
                now,
            )),
            WriteOp::put_new(
                Item::new(k::email_lookup(&user.email, &tenant_id)).with("user", user.id.as_str()),
            ),
            WriteOp::Add {
                key: k::install_marker(),
                deltas: vec![("tenants".into(), 1)],
                expires_at: None,
            },
        ];
        match app.ports.store.transact(ops).await {
            Ok(()) => {
                committed = true;
                break;
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(InfraError::from(e).into()),
        }
    }
    if !committed {
        return Err(InfraError::Corrupt("no free customer number").into());
    }

    app.audit()
        .record(AuditEvent {
            tenant_id: Some(tenant_id.to_string()),
            actor_id: Some(user.id.clone()),
            actor_name: Some(user.display_name()),
            action: "signup".into(),
            target: Some(user.id.clone()),
            detail: "アカウント作成（お申し込み）".into(),
            ip: Some(ip.to_string()),
        })
        .await
        .map_err(InfraError::from)?;
    // Sent by the worker: the page does not wait on the mail service. The done page says the
    // mail is coming, and the reminder can resend the customer number.
    let event = super::worker::mail_event(&welcome_mail(app, &user, &tenant));
    if let Err(e) = app.ports.events.publish(vec![event]).await {
        tracing::warn!(error = %e, "welcome mail could not be queued");
    }
    Ok(SignupOutcome {
        tenant: tenant_id,
        customer_number: tenant.customer_number,
        email: user.email,
    })
}

/// A random customer number: 7 digits, the first not 0.
fn draw_customer_number() -> String {
    loop {
        let n = crypto::random_digits(7);
        if !n.starts_with('0') {
            return n;
        }
    }
}

/// Whether any tenant exists (an empty install leads to sign-up).
pub async fn install_is_empty(app: &App) -> Result<bool, InfraError> {
    let marker = app.ports.store.get(&k::install_marker()).await?;
    Ok(marker.and_then(|m| m.i64("tenants")).unwrap_or(0) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SignupInput {
        SignupInput {
            company_name: "株式会社テスト".into(),
            family_name: "山田".into(),
            given_name: "太郎".into(),
            email: "taro@example.jp".into(),
            password: "Sakura-2026x".into(),
            password_confirm: "Sakura-2026x".into(),
        }
    }

    #[test]
    fn validate_reports_every_field_when_all_are_wrong() {
        let bad = SignupInput {
            password_confirm: String::new(),
            ..SignupInput::default()
        };
        let fields: Vec<_> = validate(&bad)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        for f in [
            "company_name",
            "family_name",
            "given_name",
            "email",
            "password",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn validate_rejects_mismatched_confirmation() {
        let bad = SignupInput {
            password_confirm: "Sakura-2026y".into(),
            ..input()
        };
        assert_eq!(validate(&bad).unwrap_err()[0].0, "password_confirm");
    }

    #[test]
    fn draw_customer_number_gives_seven_digits_not_starting_with_zero() {
        for _ in 0..100 {
            let n = draw_customer_number();
            assert_eq!(n.len(), 7);
            assert!(!n.starts_with('0'));
        }
    }
}
