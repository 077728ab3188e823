//! The registrant's own entry on their phone (manual ch.8): open the mailed link, set a
//! password (first visit) or log in, enter the company passcode, consent to the purposes,
//! then enter their number, photos and dependents, and finish (登録を終了 → 承認待).
//!
//! Every wrong password or passcode counts against the pair of link and client address, the
//! client address, and (with a higher ceiling and growing delays) the link from everywhere
//! (`rate_limit::ENROL_*`), so whoever else holds the link cannot lock its owner out from
//! another address; a locked registrant (approved, ログインロック) cannot log in.
//! Each step is saved as it is submitted, so a reload or a lost connection loses nothing.

use serde_json::Value;
use time::Date;

use super::collection::{self, LinkState};
use super::dependents::{self as deps, Dependent};
use super::keys::{sk, TenantId, TenantScope};
use super::rate_limit::{self, ENROL_IP, ENROL_LINK, ENROL_PAIR};
use super::registrants::{self as regs, Actor, FieldErrors, Registrant, SaveError};
use super::tenants::{self, Counters, Tenant};
use super::{passwords, sessions, App, InfraError};
use crate::domain::identity::check_password_strength;
use crate::domain::image::DocumentKind;
use crate::domain::my_number::MyNumber;
use crate::domain::person::{DependentKind, Sex};
use crate::domain::status::Status;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Item, StoreError, WriteOp};

/// A link that resolved to a registrant.
#[derive(Clone)]
pub struct Entry {
    pub scope: TenantScope,
    pub tenant: Tenant,
    pub registrant: Registrant,
    pub token_hash: String,
}

impl Entry {
    /// First visit: the registrant has no password yet and sets one.
    pub fn first_visit(&self) -> bool {
        self.registrant.password_hash.is_none()
    }
}

pub enum Opened {
    Ready(Box<Entry>),
    Expired,
    Replaced,
    Revoked,
    Unknown,
}

/// Resolves `/r/<tenant>/<token>`.
pub async fn open(app: &App, tenant: &str, token: &str) -> Result<Opened, InfraError> {
    let Some(tenant_id) = TenantId::parse(tenant) else {
        return Ok(Opened::Unknown);
    };
    let scope = TenantScope::new(tenant_id, app.ports.store.clone());
    let Some(tenant) = tenants::load(&scope).await? else {
        return Ok(Opened::Unknown);
    };
    let (registrant_id, token_hash) = match collection::resolve(app, &scope, token).await? {
        LinkState::Valid {
            registrant_id,
            token_hash,
        } => (registrant_id, token_hash),
        LinkState::Expired => return Ok(Opened::Expired),
        LinkState::Replaced => return Ok(Opened::Replaced),
        LinkState::Revoked => return Ok(Opened::Revoked),
        LinkState::Unknown => return Ok(Opened::Unknown),
    };
    let Some(registrant) = regs::get(&scope, &registrant_id).await? else {
        return Ok(Opened::Unknown);
    };
    Ok(Opened::Ready(Box::new(Entry {
        scope,
        tenant,
        registrant,
        token_hash,
    })))
}

/// Why a registrant's session ends before its time: the link it was opened with (`link`, its
/// hash) is no longer the registrant's working link (a new link was mailed or shown as a QR
/// code, the registrant was marked 拒否, or the link expired). `None` while it still is.
pub async fn link_ended(
    app: &App,
    scope: &TenantScope,
    registrant_id: &str,
    link: Option<&str>,
) -> Result<Option<Opened>, InfraError> {
    let Some(hash) = link else {
        return Ok(Some(Opened::Unknown));
    };
    Ok(match collection::resolve_hash(app, scope, hash).await? {
        LinkState::Valid {
            registrant_id: owner,
            ..
        } if owner == registrant_id => None,
        LinkState::Valid { .. } | LinkState::Unknown => Some(Opened::Unknown),
        LinkState::Expired => Some(Opened::Expired),
        LinkState::Replaced => Some(Opened::Replaced),
        LinkState::Revoked => Some(Opened::Revoked),
    })
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct LoginForm {
    pub password: String,
    pub password_confirm: String,
    pub passcode: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("入力の誤りが続いたため、しばらくログインできません。{}ほど待ってからもう一度お試しください。", rate_limit::wait_text(*.seconds))]
    Blocked { seconds: i64 },
    #[error("ログインロックが有効になっています。")]
    Locked,
    #[error("企業パスコードが正しくありません。ご不明な場合は、所属会社のマイナンバー担当者にお問い合わせください。")]
    WrongPasscode,
    #[error("パスワードが正しくありません。")]
    WrongPassword,
    #[error("パスワードとパスワード確認が一致しません。")]
    Mismatch,
    #[error("{}", .0.join(" "))]
    Weak(Vec<String>),
    #[error("他の画面で操作が行われました。もう一度お試しください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Infra(e.into())
    }
}

/// The actor the audit log names for the registrant's own actions.
pub fn actor(r: &Registrant, ip: &str) -> Actor {
    Actor {
        user_id: format!("registrant:{}", r.id),
        name: format!("{}（本人）", r.name()),
        ip: ip.to_string(),
    }
}

async fn audit(
    app: &App,
    scope: &TenantScope,
    r: &Registrant,
    ip: &str,
    action: &str,
    detail: String,
) -> Result<(), InfraError> {
    let a = actor(r, ip);
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(a.user_id),
            actor_name: Some(a.name),
            action: action.into(),
            target: Some(r.id.clone()),
            detail,
            ip: Some(ip.to_string()),
        })
        .await?;
    Ok(())
}

/// Checks the passcode and the password (setting it on the first visit, with consent to the
/// purposes) and starts the registrant's session. Returns the session cookie's token.
pub async fn login(
    app: &App,
    entry: &Entry,
    ip: &str,
    form: &LoginForm,
) -> Result<String, LoginError> {
    let store = app.ports.sessions.as_ref();
    let now = app.now().unix_timestamp();
    let link = &entry.token_hash;
    let pair = rate_limit::pair(link, ip);
    let limits = rate_limit::check(store, &ENROL_IP, ip, now)
        .await?
        .and(rate_limit::check(store, &ENROL_PAIR, &pair, now).await?)
        .and(ENROL_LINK.check(store, link, now).await?);
    if !limits.is_open() {
        return Err(LoginError::Blocked {
            seconds: limits.retry_after(),
        });
    }
    let r = &entry.registrant;
    if r.login_lock {
        return Err(LoginError::Locked);
    }
    let fail = |e: LoginError, what: &'static str| async move {
        rate_limit::hit(store, &ENROL_IP, ip, now).await?;
        rate_limit::hit(store, &ENROL_PAIR, &rate_limit::pair(link, ip), now).await?;
        ENROL_LINK.hit(store, link, now).await?;
        audit(
            app,
            &entry.scope,
            r,
            ip,
            "enrol.login_failed",
            format!("登録者のスマホログイン失敗（{what}）"),
        )
        .await?;
        Err::<String, LoginError>(e)
    };
    if let Some(hash) = &entry.tenant.passcode_hash {
        if !passwords::verify(hash.clone(), form.passcode.trim().to_string()).await {
            return fail(LoginError::WrongPasscode, "企業パスコード誤り").await;
        }
    }
    match &r.password_hash {
        Some(hash) => {
            if !passwords::verify(hash.clone(), form.password.clone()).await {
                return fail(LoginError::WrongPassword, "パスワード誤り").await;
            }
        }
        None => {
            if form.password != form.password_confirm {
                return Err(LoginError::Mismatch);
            }
            check_password_strength(&form.password, r.email.as_deref())
                .map_err(LoginError::Weak)?;
            set_password(app, entry, &form.password).await?;
        }
    }
    rate_limit::clear(store, &ENROL_PAIR, &pair, now).await?;
    let token =
        sessions::start_registrant(app, entry.scope.tenant(), &r.id, &entry.token_hash).await?;
    let detail = if entry.first_visit() {
        "登録者のスマホログイン（パスワード設定・利用目的に同意）"
    } else {
        "登録者のスマホログイン"
    };
    audit(app, &entry.scope, r, ip, "enrol.login", detail.into()).await?;
    Ok(token)
}

async fn set_password(app: &App, entry: &Entry, password: &str) -> Result<(), LoginError> {
    let before = &entry.registrant;
    let mut r = before.clone();
    r.password_hash =
        Some(passwords::hash(app.config.password_params, password.to_string()).await?);
    r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
    let consent = WriteOp::put(
        Item::new(entry.scope.key(&sk::enrolment(&r.id)))
            .with("consented_at", app.now().unix_timestamp()),
    );
    match regs::commit_with(&entry.scope, Some(before), Some(&r), vec![consent]).await {
        Ok(()) => Ok(()),
        Err(SaveError::Infra(e)) => Err(e.into()),
        Err(_) => Err(LoginError::Conflict),
    }
}

// ---------------------------------------------------------------- step 1: own number

/// ステップ1 as typed (birth date from three selects; the number in three boxes).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct OwnForm {
    pub sex: String,
    pub birth_year: String,
    pub birth_month: String,
    pub birth_day: String,
    pub number1: String,
    pub number2: String,
    pub number3: String,
}

/// A birth date from the three selects, or the field error.
pub fn birth_date(year: &str, month: &str, day: &str, today: Date) -> Result<Date, String> {
    let parse = |s: &str| s.trim().parse::<i32>().ok();
    let (Some(y), Some(m), Some(d)) = (parse(year), parse(month), parse(day)) else {
        return Err("生年月日を選択してください。".into());
    };
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or("生年月日が正しくありません。")?;
    let date = u8::try_from(d)
        .ok()
        .and_then(|d| Date::from_calendar_date(y, month, d).ok())
        .ok_or("存在しない日付です。生年月日を確認してください。")?;
    if date > today {
        return Err("生年月日に未来の日付は入力できません。".into());
    }
    if y < 1900 {
        return Err("生年月日が正しくありません。".into());
    }
    Ok(date)
}

/// The number typed in three boxes; `None` when left empty (keep the stored one).
pub fn number_boxes(a: &str, b: &str, c: &str) -> Result<Option<MyNumber>, String> {
    let raw = format!("{}{}{}", a.trim(), b.trim(), c.trim());
    if raw.is_empty() {
        return Ok(None);
    }
    MyNumber::parse(&raw).map(Some).map_err(|e| e.to_string())
}

pub struct Own {
    pub sex: Sex,
    pub birth_date: Date,
    pub number: Option<MyNumber>,
}

/// Checks ステップ1; the number may stay empty only when one is already stored.
pub fn validate_own(form: &OwnForm, today: Date, has_number: bool) -> Result<Own, FieldErrors> {
    let mut e = FieldErrors::new();
    let sex = Sex::from_code(form.sex.trim());
    if sex.is_none() {
        e.push(("sex", "性別を選択してください。".into()));
    }
    let birth = birth_date(&form.birth_year, &form.birth_month, &form.birth_day, today)
        .map_err(|m| e.push(("birth_date", m)))
        .ok();
    let number = match number_boxes(&form.number1, &form.number2, &form.number3) {
        Ok(None) if !has_number => {
            e.push(("number", "マイナンバーを入力してください。".into()));
            None
        }
        Ok(n) => n,
        Err(m) => {
            e.push(("number", m));
            None
        }
    };
    match (sex, birth) {
        (Some(sex), Some(birth_date)) if e.is_empty() => Ok(Own {
            sex,
            birth_date,
            number,
        }),
        _ => Err(e),
    }
}

/// Saves ステップ1. The status stays as it is until 登録を終了, except 拒否: a registrant who
/// was marked 拒否 and, given a new link, now saves a number has provided it after all, so the
/// record goes to 承認待 at once rather than showing 拒否 over a stored number.
pub async fn save_own(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    before: &Registrant,
    own: Own,
) -> Result<Registrant, SaveError> {
    let mut r = before.clone();
    r.person.sex = Some(own.sex);
    r.person.birth_date = Some(own.birth_date);
    if let Some(n) =
        regs::seal_unique(app, scope, tenant, &r.id, own.number.as_ref(), false).await?
    {
        r.person.number = Some(n);
        if r.person.status == Status::Refused {
            r.person.status = Status::Pending;
        }
    }
    r.person.updated_at = app.now().unix_timestamp().max(before.person.updated_at + 1);
    regs::commit_with(scope, Some(before), Some(&r), Vec::new()).await?;
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "enrol.update".into(),
            target: Some(r.id.clone()),
            detail: if own.number.is_some() {
                "本人のマイナンバー登録情報の入力（マイナンバーあり）".into()
            } else {
                "本人のマイナンバー登録情報の入力".into()
            },
            ip: Some(actor.ip.clone()),
        })
        .await
        .map_err(InfraError::from)?;
    Ok(r)
}

// ---------------------------------------------------------------- finish

fn has_image(images: &serde_json::Map<String, Value>, kind: DocumentKind) -> bool {
    images.contains_key(&super::images::attr(kind))
}

/// What is still missing before 登録を終了 (Japanese, one line each); empty when complete.
pub fn missing(r: &Registrant, dependents: &[Dependent]) -> Vec<String> {
    let mut out = Vec::new();
    if r.person.number.is_none() || r.person.sex.is_none() || r.person.birth_date.is_none() {
        out.push("ご本人のステップ1（性別・生年月日・マイナンバー）が未入力です。".into());
    }
    if !has_image(&r.person.images, DocumentKind::NumberProof) {
        out.push(
            "ご本人の個人番号確認書類の画像（ステップ2）がアップロードされていません。".into(),
        );
    }
    if !has_image(&r.person.images, DocumentKind::IdentityProof) {
        out.push("ご本人の本人確認書類の画像（ステップ3）がアップロードされていません。".into());
    }
    for d in dependents {
        if d.person.number.is_none() {
            out.push(format!(
                "扶養家族「{}」のマイナンバーが未入力です。",
                d.name()
            ));
        }
        if d.kind == DependentKind::NationalPensionCategory3 {
            for kind in DocumentKind::ALL {
                if !has_image(&d.person.images, kind) {
                    out.push(format!(
                        "扶養家族「{}」（国民年金の第3号被保険者）の{}の画像がアップロードされていません。",
                        d.name(),
                        kind.label()
                    ));
                }
            }
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum FinishError {
    #[error("incomplete")]
    Incomplete(Vec<String>),
    #[error("他の画面で操作が行われました。もう一度お試しください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// 登録を終了: the registrant and every dependent with a number not yet approved go to 承認待,
/// in one transaction with the counters.
pub async fn finish(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    registrant_id: &str,
) -> Result<(), FinishError> {
    let before = regs::get(scope, registrant_id)
        .await?
        .ok_or(FinishError::Conflict)?;
    let dependents = deps::list(scope, registrant_id).await?;
    let missing = missing(&before, &dependents);
    if !missing.is_empty() {
        return Err(FinishError::Incomplete(missing));
    }
    let now = app.now().unix_timestamp();
    let mut ops = Vec::new();
    let mut after_deps = Vec::new();
    for d in dependents {
        if d.person.number.is_some()
            && d.person.status != Status::Completed
            && d.person.status != Status::Pending
        {
            let mut d = d;
            d.person.status = Status::Pending;
            d.person.updated_at = now;
            ops.push(WriteOp::put(d.to_item(scope)));
            after_deps.push(d);
        } else {
            after_deps.push(d);
        }
    }
    let mut after = deps::summarised(&before, &after_deps, now);
    after.person.status = Status::Pending;
    ops.push(WriteOp::Put {
        item: after.to_item(scope),
        condition: Condition::Equals("updated_at".into(), Value::from(before.person.updated_at)),
    });
    if let Some(op) = Counters::delta_op(scope, &regs::counter_delta(Some(&before), Some(&after))) {
        ops.push(op);
    }
    ops.push(WriteOp::put(
        Item::new(scope.key(&sk::enrolment(registrant_id)))
            .with("finished_at", now)
            .with(
                "consented_at",
                scope
                    .get(&scope.key(&sk::enrolment(registrant_id)))
                    .await
                    .map_err(InfraError::from)?
                    .and_then(|i| i.i64("consented_at"))
                    .unwrap_or(now),
            ),
    ));
    match scope.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => return Err(FinishError::Conflict),
        Err(e) => return Err(InfraError::from(e).into()),
    }
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "enrol.finish".into(),
            target: Some(registrant_id.to_string()),
            detail: format!("登録者「{}」のスマホ登録終了（承認待）", before.name()),
            ip: Some(actor.ip.clone()),
        })
        .await
        .map_err(InfraError::from)?;
    Ok(())
}
