//! Registrants (マイナンバー登録者, manual ch.6, 10, 11): staff, contractors and other payees
//! whose numbers the company keeps. One item per registrant in the tenant partition, indexed
//! by group (GSI1) and for the whole tenant (GSI2), both in 社員コード order.
//!
//! Every write is one transaction holding the registrant, its 社員コード claim, its number
//! fingerprint, the HOME counters' deltas and nothing else, so counters never drift and a
//! failed write leaves nothing behind. Numbers are sealed by `app::vault` with the registrant
//! id as associated data; only the last four digits are kept in clear, for masked display.

use std::collections::HashMap;

use serde_json::Value;
use time::{Date, OffsetDateTime};

use super::groups::Group;
use super::keys::{self, index, sk, TenantScope};
use super::person::Review;
use super::person::{self, identifier, optional_date, text, Names, Person};
use super::tenants::{Counters, Tenant};
use super::{passwords, App, InfraError};
use crate::domain::approval::after_number_change;
use crate::domain::date::format_slash;
use crate::domain::identity::Email;
use crate::domain::my_number::MyNumber;
use crate::domain::person::{Attribute, Sex};
use crate::domain::plan::PlanLimitError;
use crate::domain::search::search_key;
use crate::domain::status::Status;
use crate::ports::audit::AuditEvent;
use crate::ports::store::{Condition, Index, Item, Query, StoreError, WriteOp};

pub use super::person::{FieldErrors, SealedNumber};

#[derive(Clone, Debug, PartialEq)]
pub struct Registrant {
    pub id: String,
    pub group_id: Option<String>,
    pub code: String,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub attribute: Attribute,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub login_lock: bool,
    pub sex: Option<Sex>,
    pub birth_date: Option<Date>,
    pub hire_date: Option<Date>,
    pub note: String,
    pub number: Option<SealedNumber>,
    pub status: Status,
    /// Dependents, and how many of them are 未登録 / 承認待 (HOME counts them).
    pub dependents: i64,
    pub dependents_unregistered: i64,
    pub dependents_pending: i64,
    /// The dependents' aggregate status (lowest wins), `None` without dependents.
    pub dependents_status: Option<Status>,
    pub retired_on: Option<Date>,
    pub delete_on: Option<Date>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Document images (`image_<kind>` → object name, `image_<kind>_at` → when), kept as
    /// stored; `app::images` writes them.
    pub images: serde_json::Map<String, Value>,
    /// The approver's last 差戻し / 拒否 reasons (`app::approval` writes them).
    pub review: Review,
}

impl Registrant {
    /// A new registrant from a checked form, without dependents.
    pub fn new(
        id: String,
        valid: Valid,
        number: Option<SealedNumber>,
        password_hash: Option<String>,
        status: Status,
        now: i64,
    ) -> Registrant {
        Registrant {
            id,
            group_id: valid.group_id,
            code: valid.code,
            family_name: valid.family_name,
            given_name: valid.given_name,
            family_kana: valid.family_kana,
            given_kana: valid.given_kana,
            attribute: valid.attribute,
            email: valid.email,
            password_hash,
            login_lock: valid.login_lock,
            sex: valid.sex,
            birth_date: valid.birth_date,
            hire_date: valid.hire_date,
            note: valid.note,
            status,
            number,
            dependents: 0,
            dependents_unregistered: 0,
            dependents_pending: 0,
            dependents_status: None,
            retired_on: None,
            delete_on: None,
            created_at: now,
            updated_at: now,
            images: serde_json::Map::new(),
            review: Review::default(),
        }
    }

    /// What a registrant has in common with a dependent.
    pub fn person(&self) -> Person<'_> {
        Person {
            family_name: &self.family_name,
            given_name: &self.given_name,
            family_kana: &self.family_kana,
            given_kana: &self.given_kana,
            sex: self.sex,
            number: self.number.as_ref(),
            status: self.status,
            images: &self.images,
            review: &self.review,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn name(&self) -> String {
        self.person().name()
    }

    pub fn kana(&self) -> String {
        self.person().kana()
    }

    pub fn is_retired(&self) -> bool {
        self.retired_on.is_some()
    }

    /// This registrant's share of HOME's counters.
    pub fn counts(&self) -> Counters {
        let retired = i64::from(self.is_retired());
        Counters {
            registrants: 1,
            unregistered: i64::from(self.status == Status::Unregistered),
            pending: i64::from(self.status == Status::Pending),
            retired,
            dependents: self.dependents,
            dependents_unregistered: self.dependents_unregistered,
            dependents_pending: self.dependents_pending,
            dependents_retired: self.dependents * retired,
        }
    }

    fn index_sort_key(&self) -> String {
        format!("{}#{}", self.code, self.id)
    }

    pub fn to_item(&self, scope: &TenantScope) -> Item {
        let date = |d: &Option<Date>| d.map(|d| Value::from(d.to_string())).unwrap_or(Value::Null);
        let mut item = Item::new(scope.key(&sk::registrant(&self.id)))
            .with("kind", "registrant")
            .with(
                "gsi1pk",
                scope.partition(&index::group_members(self.group_id.as_deref())),
            )
            .with("gsi1sk", self.index_sort_key())
            .with("gsi2pk", scope.partition(index::ALL_REGISTRANTS))
            .with("gsi2sk", self.index_sort_key())
            .with("code", self.code.as_str())
            .with(
                "search",
                search_key(&format!(
                    "{}{}{}{}",
                    self.family_name, self.given_name, self.family_kana, self.given_kana
                )),
            )
            .with("attribute", self.attribute.code())
            .with("login_lock", self.login_lock)
            .with("note", self.note.as_str())
            .with("dependents", self.dependents)
            .with("dependents_unregistered", self.dependents_unregistered)
            .with("dependents_pending", self.dependents_pending)
            .with("birth_date", date(&self.birth_date))
            .with("hire_date", date(&self.hire_date))
            .with("retired_on", date(&self.retired_on))
            .with("delete_on", date(&self.delete_on));
        self.person().write(&mut item);
        let mut opt = |name: &str, v: Option<String>| {
            if let Some(v) = v {
                item.attrs.insert(name.into(), Value::from(v));
            }
        };
        opt("group_id", self.group_id.clone());
        opt("email", self.email.clone());
        opt("password_hash", self.password_hash.clone());
        opt(
            "dependents_status",
            self.dependents_status.map(|s| s.code().to_string()),
        );
        item
    }

    pub fn from_item(item: &Item) -> Option<Registrant> {
        let s = |k: &str| item.str(k).map(str::to_string);
        let date = |k: &str| {
            item.str(k).and_then(|v| {
                Date::parse(v, time::macros::format_description!("[year]-[month]-[day]")).ok()
            })
        };
        Some(Registrant {
            id: item.key.sk.strip_prefix("REG#")?.to_string(),
            group_id: s("group_id"),
            code: s("code").unwrap_or_default(),
            family_name: s("family_name")?,
            given_name: s("given_name").unwrap_or_default(),
            family_kana: s("family_kana").unwrap_or_default(),
            given_kana: s("given_kana").unwrap_or_default(),
            attribute: Attribute::from_code(item.str("attribute")?)?,
            email: s("email"),
            password_hash: s("password_hash"),
            login_lock: item.bool("login_lock").unwrap_or(false),
            sex: item.str("sex").and_then(Sex::from_code),
            birth_date: date("birth_date"),
            hire_date: date("hire_date"),
            note: s("note").unwrap_or_default(),
            number: SealedNumber::read(item),
            status: Status::from_code(item.str("status")?)?,
            dependents: item.i64("dependents").unwrap_or(0),
            dependents_unregistered: item.i64("dependents_unregistered").unwrap_or(0),
            dependents_pending: item.i64("dependents_pending").unwrap_or(0),
            dependents_status: item.str("dependents_status").and_then(Status::from_code),
            retired_on: date("retired_on"),
            delete_on: date("delete_on"),
            created_at: item.i64("created_at").unwrap_or(0),
            updated_at: item.i64("updated_at").unwrap_or(0),
            images: item
                .attrs
                .iter()
                .filter(|(k, _)| k.starts_with("image_"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            review: Review::read(item),
        })
    }
}

/// The add/edit form as typed (all text, so a refused form comes back as it was).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct RegistrantForm {
    pub group_id: String,
    pub code: String,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub attribute: String,
    pub email: String,
    pub password: String,
    pub login_lock: String,
    pub sex: String,
    pub birth_date: String,
    pub hire_date: String,
    pub note: String,
    pub number1: String,
    pub number2: String,
    pub number3: String,
}

impl RegistrantForm {
    pub fn number_input(&self) -> String {
        format!(
            "{}{}{}",
            self.number1.trim(),
            self.number2.trim(),
            self.number3.trim()
        )
    }

    /// The form filled from a stored registrant (for editing; the number boxes stay empty).
    pub fn from_registrant(r: &Registrant) -> RegistrantForm {
        let date = |d: Option<Date>| d.map(format_slash).unwrap_or_default();
        RegistrantForm {
            group_id: r.group_id.clone().unwrap_or_default(),
            code: r.code.clone(),
            family_name: r.family_name.clone(),
            given_name: r.given_name.clone(),
            family_kana: r.family_kana.clone(),
            given_kana: r.given_kana.clone(),
            attribute: r.attribute.code().to_string(),
            email: r.email.clone().unwrap_or_default(),
            password: String::new(),
            login_lock: if r.login_lock {
                "on".into()
            } else {
                String::new()
            },
            sex: r.sex.map(|s| s.code().to_string()).unwrap_or_default(),
            birth_date: date(r.birth_date),
            hire_date: date(r.hire_date),
            note: r.note.clone(),
            number1: String::new(),
            number2: String::new(),
            number3: String::new(),
        }
    }
}

/// A checked form.
#[derive(Clone, Debug)]
pub struct Valid {
    pub group_id: Option<String>,
    pub code: String,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    pub attribute: Attribute,
    pub email: Option<String>,
    pub password: Option<String>,
    pub login_lock: bool,
    pub sex: Option<Sex>,
    pub birth_date: Option<Date>,
    pub hire_date: Option<Date>,
    pub note: String,
    pub number: Option<MyNumber>,
}

/// Checks every field; all problems at once, each on its field.
pub fn validate(
    form: &RegistrantForm,
    groups: &[Group],
    today: Date,
) -> Result<Valid, FieldErrors> {
    let mut e = FieldErrors::new();
    let group_id = match form.group_id.trim() {
        "" => None,
        id if groups.iter().any(|g| g.id == id) => Some(id.to_string()),
        _ => {
            e.push(("group_id", "選択されたグループが見つかりません。".into()));
            None
        }
    };
    let code = identifier(&mut e, "code", "社員コード", &form.code, 20, false);
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        e.push((
            "code",
            "社員コードは半角英数字・ハイフン・アンダーバーで入力してください。".into(),
        ));
    }
    let Names {
        family_name,
        given_name,
        family_kana,
        given_kana,
    } = person::names(
        &mut e,
        [
            &form.family_name,
            &form.given_name,
            &form.family_kana,
            &form.given_kana,
        ],
        false,
    );
    let attribute = match Attribute::from_code(form.attribute.trim()) {
        Some(a) => Some(a),
        None => {
            e.push(("attribute", "属性を選択してください。".into()));
            None
        }
    };
    let email = match form.email.trim() {
        "" => None,
        raw => match Email::parse(raw) {
            Ok(m) => Some(m.as_str().to_string()),
            Err(err) => {
                e.push(("email", err.to_string()));
                None
            }
        },
    };
    let password = match form.password.as_str() {
        "" => None,
        pw => {
            if let Err(problems) =
                crate::domain::identity::check_password_strength(pw, email.as_deref())
            {
                e.extend(
                    problems
                        .into_iter()
                        .map(|p| ("password", format!("ログインパスワード: {p}"))),
                );
            }
            Some(pw.to_string())
        }
    };
    let sex = person::sex(&mut e, &form.sex);
    let birth_date = person::birth_date(&mut e, &form.birth_date, today);
    let hire_date = optional_date(&mut e, "hire_date", "入社日", &form.hire_date);
    if let (Some(birth), Some(hire)) = (birth_date, hire_date) {
        if hire < birth {
            e.push((
                "hire_date",
                "入社日が生年月日より前になっています。入社日と生年月日をご確認ください。".into(),
            ));
        }
    }
    let note = text(&mut e, "note", "備考", &form.note, 500, false);
    let number = person::number(&mut e, &form.number_input());
    match attribute {
        Some(attribute) if e.is_empty() => Ok(Valid {
            group_id,
            code,
            family_name,
            given_name,
            family_kana,
            given_kana,
            attribute,
            email,
            password,
            login_lock: !form.login_lock.is_empty(),
            sex,
            birth_date,
            hire_date,
            note,
            number,
        }),
        _ => Err(e),
    }
}

/// Who acts, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub name: String,
    pub ip: String,
}

/// Another record of the tenant holding the same number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub record_id: String,
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    PlanLimit(#[from] PlanLimitError),
    #[error("duplicate number")]
    Duplicate(Vec<Duplicate>),
    #[error("この社員コードはすでに使われています。")]
    CodeTaken,
    #[error("not found")]
    NotFound,
    #[error("他の操作で内容が変わりました。画面を開き直してください。")]
    Conflict,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Records of this tenant (other than `except`) whose number has this fingerprint.
pub async fn duplicates(
    scope: &TenantScope,
    fingerprint: &str,
    except: Option<&str>,
) -> Result<Vec<Duplicate>, InfraError> {
    let page = scope
        .query(
            &Query::partition(scope.pk())
                .prefix(sk::fingerprint_prefix(fingerprint))
                .limit(20),
        )
        .await?;
    let mut out = Vec::new();
    for item in page.items {
        let id = item
            .key
            .sk
            .rsplit('#')
            .next()
            .unwrap_or_default()
            .to_string();
        if Some(id.as_str()) == except {
            continue;
        }
        out.push(Duplicate {
            label: item.str("label").unwrap_or("登録者").to_string(),
            record_id: id,
        });
    }
    Ok(out)
}

pub(super) fn audit_event(
    scope: &TenantScope,
    actor: &Actor,
    action: &str,
    r: &Registrant,
    detail: String,
) -> AuditEvent {
    AuditEvent {
        tenant_id: Some(scope.tenant().to_string()),
        actor_id: Some(actor.user_id.clone()),
        actor_name: Some(actor.name.clone()),
        action: action.into(),
        target: Some(r.id.clone()),
        detail,
        ip: Some(actor.ip.clone()),
    }
}

pub(super) fn counted_people(counters: &Counters) -> (u32, u32) {
    let retired = u32::try_from(counters.retired.max(0)).unwrap_or(0);
    let active = u32::try_from((counters.registrants - counters.retired).max(0)).unwrap_or(0);
    (active, retired)
}

/// What a save would write besides the registrant: claims and fingerprint changes.
pub(super) fn claim_ops(
    scope: &TenantScope,
    before: Option<&Registrant>,
    after: Option<&Registrant>,
) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    let code = |r: Option<&Registrant>| r.map(|r| r.code.clone()).filter(|c| !c.is_empty());
    let fp =
        |r: Option<&Registrant>| r.and_then(|r| r.number.as_ref().map(|n| n.fingerprint.clone()));
    let (old_code, new_code) = (code(before), code(after));
    if old_code != new_code {
        if let Some(c) = old_code {
            ops.push(WriteOp::Delete {
                key: scope.key(&sk::code(&c)),
                condition: Condition::None,
            });
        }
        if let (Some(c), Some(r)) = (new_code, after) {
            ops.push(WriteOp::put_new(
                Item::new(scope.key(&sk::code(&c))).with("registrant", r.id.as_str()),
            ));
        }
    }
    let (old_fp, new_fp) = (fp(before), fp(after));
    let id = before.or(after).map(|r| r.id.clone()).unwrap_or_default();
    if old_fp != new_fp {
        if let Some(f) = old_fp {
            ops.push(WriteOp::Delete {
                key: scope.key(&sk::fingerprint(&f, &id)),
                condition: Condition::None,
            });
        }
    }
    if let (Some(f), Some(r)) = (new_fp, after) {
        // Re-written on every save so its label follows renames.
        let label = if r.code.is_empty() {
            r.name()
        } else {
            format!("{}（社員コード {}）", r.name(), r.code)
        };
        ops.push(WriteOp::put(
            Item::new(scope.key(&sk::fingerprint(&f, &id))).with("label", label),
        ));
    }
    ops
}

pub(super) fn counter_delta(before: Option<&Registrant>, after: Option<&Registrant>) -> Counters {
    let a = after.map(Registrant::counts).unwrap_or_default();
    let b = before.map(Registrant::counts).unwrap_or_default();
    Counters {
        registrants: a.registrants - b.registrants,
        unregistered: a.unregistered - b.unregistered,
        pending: a.pending - b.pending,
        retired: a.retired - b.retired,
        dependents: a.dependents - b.dependents,
        dependents_unregistered: a.dependents_unregistered - b.dependents_unregistered,
        dependents_pending: a.dependents_pending - b.dependents_pending,
        dependents_retired: a.dependents_retired - b.dependents_retired,
    }
}

/// Writes `after` (replacing `before`) with its claims and counters in one transaction,
/// conditional on `before` being what is stored (its `updated_at`).
pub(super) async fn commit(
    scope: &TenantScope,
    before: Option<&Registrant>,
    after: Option<&Registrant>,
) -> Result<(), SaveError> {
    commit_with(scope, before, after, Vec::new()).await
}

/// [`commit`] plus `extra` writes in the same transaction.
pub(super) async fn commit_with(
    scope: &TenantScope,
    before: Option<&Registrant>,
    after: Option<&Registrant>,
    extra: Vec<WriteOp>,
) -> Result<(), SaveError> {
    let mut ops = extra;
    match (before, after) {
        (None, Some(r)) => ops.push(WriteOp::put_new(r.to_item(scope))),
        (Some(b), Some(r)) => ops.push(WriteOp::Put {
            item: r.to_item(scope),
            condition: Condition::Equals("updated_at".into(), Value::from(b.updated_at)),
        }),
        (Some(b), None) => ops.push(WriteOp::Delete {
            key: scope.key(&sk::registrant(&b.id)),
            condition: Condition::Equals("updated_at".into(), Value::from(b.updated_at)),
        }),
        (None, None) => return Ok(()),
    }
    let claims = claim_ops(scope, before, after);
    let claims_code = claims.iter().any(|op| {
        matches!(
            op,
            WriteOp::Put {
                condition: Condition::NotExists,
                ..
            }
        )
    });
    ops.extend(claims);
    if let Some(op) = Counters::delta_op(scope, &counter_delta(before, after)) {
        ops.push(op);
    }
    match scope.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed) => {
            // Either the code is taken or someone else saved first; tell which.
            if claims_code {
                if let Some(code) = after.map(|r| r.code.as_str()).filter(|c| !c.is_empty()) {
                    if scope
                        .get(&scope.key(&sk::code(code)))
                        .await
                        .map_err(InfraError::from)?
                        .is_some()
                    {
                        return Err(SaveError::CodeTaken);
                    }
                }
            }
            Err(if before.is_some() {
                SaveError::Conflict
            } else {
                SaveError::CodeTaken
            })
        }
        Err(e) => Err(InfraError::from(e).into()),
    }
}

/// Adds a registrant. Refuses over the plan limit; refuses a number already held by another
/// record of the tenant unless `allow_duplicate` (the administrator saw the warning).
pub async fn create(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    valid: Valid,
    allow_duplicate: bool,
) -> Result<Registrant, SaveError> {
    let (active, retired) = counted_people(&super::tenants::counters(scope).await?);
    tenant.plan.check_add(active, retired, 1)?;
    let now = app.now().unix_timestamp();
    let id = ulid::Ulid::new().to_string();
    let number = seal_unique(
        app,
        scope,
        tenant,
        &id,
        valid.number.as_ref(),
        allow_duplicate,
    )
    .await?;
    let password_hash = match valid.password.clone() {
        Some(pw) => Some(passwords::hash(app.config.password_params, pw).await?),
        None => None,
    };
    let status = if number.is_some() {
        Status::Pending
    } else {
        Status::Unregistered
    };
    let r = Registrant::new(id, valid, number, password_hash, status, now);
    commit(scope, None, Some(&r)).await?;
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "registrant.create",
            &r,
            format!("登録者「{}」の追加", r.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(r)
}

pub(super) async fn seal(
    app: &App,
    tenant: &Tenant,
    record_id: &str,
    number: Option<&MyNumber>,
) -> Result<Option<SealedNumber>, InfraError> {
    let Some(n) = number else { return Ok(None) };
    Ok(Some(SealedNumber {
        sealed: app.vault.seal_number(&tenant.keys, record_id, n).await?,
        fingerprint: app.vault.fingerprint(&tenant.keys, n).await?,
        last4: n.last4().to_string(),
    }))
}

/// [`seal`], refusing a number another record of the tenant already holds unless
/// `allow_duplicate` (the administrator saw the warning). The one duplicate rule of every flow
/// that stores a number (add, edit, dependents, マイナンバー編集).
pub(super) async fn seal_unique(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    record_id: &str,
    number: Option<&MyNumber>,
    allow_duplicate: bool,
) -> Result<Option<SealedNumber>, SaveError> {
    let sealed = seal(app, tenant, record_id, number).await?;
    if let (Some(n), false) = (&sealed, allow_duplicate) {
        let dups = duplicates(scope, &n.fingerprint, Some(record_id)).await?;
        if !dups.is_empty() {
            return Err(SaveError::Duplicate(dups));
        }
    }
    Ok(sealed)
}

/// Stores a new sealed number on a record; a changed number goes back to 承認待
/// (`domain::approval::after_number_change`). Returns whether it changed.
pub(super) fn set_number(
    number: &mut Option<SealedNumber>,
    status: &mut Status,
    new: SealedNumber,
) -> bool {
    let changed = number.as_ref().map(|o| &o.fingerprint) != Some(&new.fingerprint);
    *status = after_number_change(*status, changed);
    *number = Some(new);
    changed
}

/// Edits a registrant. An empty number keeps the stored one; a new number goes back to 承認待.
pub async fn update(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    id: &str,
    valid: Valid,
    allow_duplicate: bool,
) -> Result<Registrant, SaveError> {
    let before = get(scope, id).await?.ok_or(SaveError::NotFound)?;
    let mut r = before.clone();
    let new_number = seal_unique(
        app,
        scope,
        tenant,
        id,
        valid.number.as_ref(),
        allow_duplicate,
    )
    .await?;
    if let Some(n) = &new_number {
        set_number(&mut r.number, &mut r.status, n.clone());
    }
    if let Some(pw) = valid.password {
        r.password_hash = Some(passwords::hash(app.config.password_params, pw).await?);
    }
    r.group_id = valid.group_id;
    r.code = valid.code;
    r.family_name = valid.family_name;
    r.given_name = valid.given_name;
    r.family_kana = valid.family_kana;
    r.given_kana = valid.given_kana;
    r.attribute = valid.attribute;
    r.email = valid.email;
    r.login_lock = valid.login_lock;
    r.sex = valid.sex;
    r.birth_date = valid.birth_date;
    r.hire_date = valid.hire_date;
    r.note = valid.note;
    r.updated_at = app.now().unix_timestamp().max(before.updated_at + 1);
    commit(scope, Some(&before), Some(&r)).await?;
    let what = if new_number.is_some() {
        "の編集（マイナンバー変更あり）"
    } else {
        "の編集"
    };
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "registrant.update",
            &r,
            format!("登録者「{}」{what}", r.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(r)
}

/// Deletes a registrant with its claims and its dependents, in one transaction.
pub async fn delete(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    actor: &Actor,
    id: &str,
) -> Result<(), SaveError> {
    let before = get(scope, id).await?.ok_or(SaveError::NotFound)?;
    let dependents = super::dependents::list(scope, id).await?;
    let mut ops = super::dependents::delete_ops(scope, id).await?;
    ops.extend(super::collection::forget_ops(scope, id));
    commit_with(scope, Some(&before), None, ops).await?;
    super::images::remove_objects(app, scope, tenant, &before.images).await;
    for d in &dependents {
        super::images::remove_objects(app, scope, tenant, &d.images).await;
    }
    app.audit()
        .record(audit_event(
            scope,
            actor,
            "registrant.delete",
            &before,
            format!("登録者「{}」の削除", before.name()),
        ))
        .await
        .map_err(InfraError::from)?;
    Ok(())
}

/// Refuses adding `n` people when the plan cannot take them (before writing anything).
pub async fn check_plan(scope: &TenantScope, tenant: &Tenant, n: u32) -> Result<(), SaveError> {
    let (active, retired) = counted_people(&super::tenants::counters(scope).await?);
    tenant.plan.check_add(active, retired, n)?;
    Ok(())
}

/// How many more registrants the plan takes (登録可能人数).
pub async fn room_left(scope: &TenantScope, tenant: &Tenant) -> Result<u32, InfraError> {
    let (active, retired) = counted_people(&super::tenants::counters(scope).await?);
    Ok(tenant.plan.remaining(active, retired))
}

/// Registrants by id (missing ones left out), in the order asked.
pub async fn get_many(scope: &TenantScope, ids: &[String]) -> Result<Vec<Registrant>, InfraError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(100) {
        let keys: Vec<_> = chunk
            .iter()
            .filter(|id| keys::is_record_id(id))
            .map(|id| scope.key(&sk::registrant(id)))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let items = super::staging::visible(scope, scope.batch_get(&keys).await?).await?;
        for item in items {
            if let Some(r) = Registrant::from_item(&item) {
                found.insert(r.id.clone(), r);
            }
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub async fn get(scope: &TenantScope, id: &str) -> Result<Option<Registrant>, InfraError> {
    if !keys::is_record_id(id) {
        return Ok(None);
    }
    let Some(item) = scope.get(&scope.key(&sk::registrant(id))).await? else {
        return Ok(None);
    };
    // A row of a CSV import still being committed is not there yet.
    if !super::staging::visible(scope, vec![item.clone()])
        .await?
        .is_empty()
    {
        return Ok(Registrant::from_item(&item));
    }
    Ok(None)
}

/// Moves registrants into a group (only those currently ungrouped), one transaction each.
pub async fn join_group(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    group: &Group,
    ids: &[String],
) -> Result<usize, SaveError> {
    let mut moved = 0;
    for id in ids {
        let Some(before) = get(scope, id).await? else {
            continue;
        };
        if before.group_id.is_some() {
            continue;
        }
        let mut r = before.clone();
        r.group_id = Some(group.id.clone());
        r.updated_at = app.now().unix_timestamp().max(before.updated_at + 1);
        commit(scope, Some(&before), Some(&r)).await?;
        moved += 1;
    }
    if moved > 0 {
        app.audit()
            .record(AuditEvent {
                tenant_id: Some(scope.tenant().to_string()),
                actor_id: Some(actor.user_id.clone()),
                actor_name: Some(actor.name.clone()),
                action: "group.members".into(),
                target: Some(group.id.clone()),
                detail: format!("グループ「{}」へ{moved}人をメンバー登録", group.name),
                ip: Some(actor.ip.clone()),
            })
            .await
            .map_err(InfraError::from)?;
    }
    Ok(moved)
}

/// Every registrant of a group (or all), in 社員コード order, reading the index page by page.
pub async fn load_all(
    scope: &TenantScope,
    group: Option<GroupFilter<'_>>,
) -> Result<(Vec<Registrant>, usize), InfraError> {
    let (index, pk) = match group {
        Some(GroupFilter::Group(id)) => (
            Index::Gsi1,
            scope.partition(&index::group_members(Some(id))),
        ),
        Some(GroupFilter::Ungrouped) => (Index::Gsi1, scope.partition(&index::group_members(None))),
        None => (Index::Gsi2, scope.partition(index::ALL_REGISTRANTS)),
    };
    let mut out = Vec::new();
    let mut cursor = None;
    let mut queries = 0;
    loop {
        let page = scope
            .query(&Query::partition(&pk).on(index).limit(1000).after(cursor))
            .await?;
        queries += 1;
        let items = super::staging::visible(scope, page.items).await?;
        out.extend(items.iter().filter_map(Registrant::from_item));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((out, queries)),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum GroupFilter<'a> {
    Group(&'a str),
    Ungrouped,
}

/// The search form of the list (manual ch.10 検索).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Filter {
    pub code: String,
    pub name: String,
    pub attribute: String,
    pub email: String,
    pub status: String,
    /// "" all, "exclude" 在籍者のみ, "only" 退職者のみ
    pub retired: String,
    /// "" all, "none" ungrouped, or a group id
    pub group: String,
    pub retired_month: String,
    pub delete_month: String,
    /// "code" (default) or "name"
    pub sort: String,
    /// 1-based page number as typed in the URL (anything else means page 1).
    pub page: String,
}

impl Filter {
    pub fn page_number(&self) -> usize {
        self.page.trim().parse().unwrap_or(1)
    }
}

pub const PAGE_SIZE: usize = 50;

pub struct ListPage {
    pub rows: Vec<Registrant>,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub groups: HashMap<String, String>,
    /// Store calls made (a figure for the benchmark).
    pub store_calls: usize,
    pub errors: Vec<String>,
}

fn month_of(d: Option<Date>) -> Option<(i32, u8)> {
    d.map(|d| (d.year(), u8::from(d.month())))
}

/// One page of the registrant list for a filter.
pub async fn list(scope: &TenantScope, filter: &Filter) -> Result<ListPage, InfraError> {
    let (group, retired_month, delete_month, errors) = parse_filter(filter);
    // The list as first opened (no filter, code order, page 1): one index page, not a walk.
    let plain = filter.code.trim().is_empty()
        && filter.name.trim().is_empty()
        && filter.attribute.is_empty()
        && filter.email.trim().is_empty()
        && filter.status.is_empty()
        && filter.retired.is_empty()
        && filter.retired_month.trim().is_empty()
        && filter.delete_month.trim().is_empty()
        && group.is_none()
        && filter.sort != "name";
    if plain && filter.page_number() <= 1 && errors.is_empty() {
        let total =
            usize::try_from(super::tenants::counters(scope).await?.registrants.max(0)).unwrap_or(0);
        let page = scope
            .query(
                &Query::partition(scope.partition(index::ALL_REGISTRANTS))
                    .on(Index::Gsi2)
                    .limit(PAGE_SIZE),
            )
            .await?;
        let read = page.items.len();
        let items = super::staging::visible(scope, page.items).await?;
        // While a CSV import commits, its rows are in the index but not yet visible: then the
        // page is made the long way, so it still holds 50 rows.
        if items.len() == read {
            let rows: Vec<Registrant> = items.iter().filter_map(Registrant::from_item).collect();
            let (groups, batch) = group_names(scope, &rows).await?;
            return Ok(ListPage {
                total,
                page: 1,
                pages: total.div_ceil(PAGE_SIZE).max(1),
                rows,
                groups,
                store_calls: 2 + batch,
                errors,
            });
        }
    }
    let (rows, queries) = select_with(scope, filter, group, retired_month, delete_month).await?;
    let total = rows.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page_number().clamp(1, pages);
    let rows: Vec<Registrant> = rows
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();

    let (groups, batch) = group_names(scope, &rows).await?;
    let store_calls = queries + batch;
    Ok(ListPage {
        rows,
        total,
        page,
        pages,
        groups,
        store_calls,
        errors,
    })
}

/// Every registrant a filter selects (all pages, in list order), e.g. for the CSV download,
/// with the filter's input errors (a field in error does not filter).
pub async fn select(
    scope: &TenantScope,
    filter: &Filter,
) -> Result<(Vec<Registrant>, Vec<String>), InfraError> {
    let (group, retired_month, delete_month, errors) = parse_filter(filter);
    let (rows, _) = select_with(scope, filter, group, retired_month, delete_month).await?;
    Ok((rows, errors))
}

type Month = Option<(i32, u8)>;

/// The filter's group and month fields, parsed, with the errors of those typed wrong.
fn parse_filter(filter: &Filter) -> (Option<GroupFilter<'_>>, Month, Month, Vec<String>) {
    let mut errors = Vec::new();
    let month = |raw: &str, label: &str, errors: &mut Vec<String>| match raw.trim() {
        "" => None,
        m => match crate::domain::date::parse_year_month(m) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(format!("{label}: {e}"));
                None
            }
        },
    };
    let retired_month = month(&filter.retired_month, "退職日（年月）", &mut errors);
    let delete_month = month(&filter.delete_month, "削除予定日（年月）", &mut errors);
    let group = match filter.group.as_str() {
        "" => None,
        "none" => Some(GroupFilter::Ungrouped),
        id => Some(GroupFilter::Group(id)),
    };
    (group, retired_month, delete_month, errors)
}

/// The rows of [`select`], and the index queries it took.
async fn select_with(
    scope: &TenantScope,
    filter: &Filter,
    group: Option<GroupFilter<'_>>,
    retired_month: Month,
    delete_month: Month,
) -> Result<(Vec<Registrant>, usize), InfraError> {
    let (all, queries) = if matches!(group, Some(GroupFilter::Group(id)) if !keys::is_record_id(id))
    {
        (Vec::new(), 0)
    } else {
        load_all(scope, group).await?
    };
    let name = search_key(&filter.name);
    let code = filter.code.trim().to_lowercase();
    let email = filter.email.trim().to_lowercase();
    let status = Status::from_code(filter.status.trim());
    let attribute = Attribute::from_code(filter.attribute.trim());
    let mut rows: Vec<Registrant> = all
        .into_iter()
        .filter(|r| code.is_empty() || r.code.to_lowercase().contains(&code))
        .filter(|r| {
            name.is_empty()
                || search_key(&format!(
                    "{}{}{}{}",
                    r.family_name, r.given_name, r.family_kana, r.given_kana
                ))
                .contains(&name)
                || search_key(&format!("{}{}", r.family_kana, r.given_kana)).contains(&name)
        })
        .filter(|r| attribute.is_none_or(|a| r.attribute == a))
        .filter(|r| email.is_empty() || r.email.as_deref().is_some_and(|m| m.contains(&email)))
        .filter(|r| status.is_none_or(|s| r.status == s || r.dependents_status == Some(s)))
        .filter(|r| match filter.retired.as_str() {
            "only" => r.is_retired(),
            "exclude" => !r.is_retired(),
            _ => true,
        })
        .filter(|r| retired_month.is_none_or(|m| month_of(r.retired_on) == Some(m)))
        .filter(|r| delete_month.is_none_or(|m| month_of(r.delete_on) == Some(m)))
        .collect();
    if filter.sort == "name" {
        rows.sort_by_cached_key(|r| (search_key(&r.kana()), search_key(&r.name()), r.id.clone()));
    }
    Ok((rows, queries))
}

/// Removes a group; its members become ungrouped (each moved in its own transaction first,
/// so a crash half-way leaves a group with fewer members, never members of a missing group).
pub async fn delete_group(
    app: &App,
    scope: &TenantScope,
    actor: &Actor,
    group: &Group,
) -> Result<usize, SaveError> {
    let (members, _) = load_all(scope, Some(GroupFilter::Group(&group.id))).await?;
    for before in &members {
        let mut r = before.clone();
        r.group_id = None;
        r.updated_at = app.now().unix_timestamp().max(before.updated_at + 1);
        commit(scope, Some(before), Some(&r)).await?;
    }
    scope
        .delete(&scope.key(&sk::group(&group.id)), Condition::None)
        .await
        .map_err(InfraError::from)?;
    app.audit()
        .record(AuditEvent {
            tenant_id: Some(scope.tenant().to_string()),
            actor_id: Some(actor.user_id.clone()),
            actor_name: Some(actor.name.clone()),
            action: "group.delete".into(),
            target: Some(group.id.clone()),
            detail: format!(
                "グループ「{}」の削除（メンバー{}人はグループなしに）",
                group.name,
                members.len()
            ),
            ip: Some(actor.ip.clone()),
        })
        .await
        .map_err(InfraError::from)?;
    Ok(members.len())
}

pub fn today(now: OffsetDateTime) -> Date {
    now.to_offset(time::macros::offset!(+9)).date()
}

/// Names of the groups the rows belong to: one batch read (none if no row has a group).
async fn group_names(
    scope: &TenantScope,
    rows: &[Registrant],
) -> Result<(HashMap<String, String>, usize), InfraError> {
    let mut ids: Vec<String> = rows.iter().filter_map(|r| r.group_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut groups = HashMap::new();
    if ids.is_empty() {
        return Ok((groups, 0));
    }
    let keys: Vec<_> = ids.iter().map(|id| scope.key(&sk::group(id))).collect();
    for item in scope.batch_get(&keys).await? {
        if let (Some(id), Some(name)) = (item.key.sk.strip_prefix("GROUP#"), item.str("name")) {
            groups.insert(id.to_string(), name.to_string());
        }
    }
    Ok((groups, 1))
}
