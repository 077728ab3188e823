//! Tenants (契約者): the company profile, its plan and trial, its keys, and the registration
//! counters HOME shows. Counters are maintained on write by the capabilities that change
//! registrants (never computed by scanning).

use time::{Date, OffsetDateTime};

use super::keys::{sk, TenantScope};
use super::vault::TenantKeys;
use super::InfraError;
use crate::domain::plan::{PaymentMethod, Plan};
use crate::ports::store::{Item, WriteOp};

#[derive(Clone, Debug)]
pub struct Tenant {
    pub customer_number: String,
    pub company_name: String,
    pub plan: Plan,
    pub trial_ends: Date,
    pub created_at: OffsetDateTime,
    pub passcode_set: bool,
    /// argon2id hash of the company passcode (企業パスコード) registrants must enter.
    pub passcode_hash: Option<String>,
    pub keys: TenantKeys,
    /// The company's own choices about security (セキュリティ, 最高権限 only).
    pub settings: TenantSettings,
    /// 本契約 and the payment method (`app::contract`).
    pub terms: Terms,
}

/// A company's security settings; each is off until a 最高権限 user turns it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantSettings {
    /// 閲覧のみ users may reveal numbers and download them (CSV); off: they see masked numbers only.
    pub view_only_may_reveal: bool,
    /// Every login user must use an authenticator app (TOTP) for the second factor.
    pub require_totp: bool,
    /// Years a retiree's number is kept (法定保存期間), for the proposed 削除予定日
    /// (`domain::retention`); the law's 7 until a 最高権限 user changes it.
    pub retention_years: u8,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            view_only_may_reveal: false,
            require_totp: false,
            retention_years: crate::domain::retention::DEFAULT_YEARS,
        }
    }
}

impl Tenant {
    pub fn to_item(&self, scope: &TenantScope) -> Item {
        let item = Item::new(scope.key(sk::PROFILE))
            .with("kind", "tenant")
            .with("customer_number", self.customer_number.as_str())
            .with("company_name", self.company_name.as_str())
            .with("plan", self.plan.size())
            .with("trial_ends", self.trial_ends.to_string())
            .with("created_at", self.created_at.unix_timestamp())
            .with("passcode_set", self.passcode_set)
            .with("master_key", self.keys.master_key.as_str())
            .with("wrapped_key", self.keys.wrapped_b64())
            .with("view_only_may_reveal", self.settings.view_only_may_reveal)
            .with("require_totp", self.settings.require_totp)
            .with("retention_years", self.settings.retention_years);
        let item = self.terms.write(item);
        match &self.passcode_hash {
            Some(h) => item.with("passcode_hash", h.as_str()),
            None => item,
        }
    }

    fn from_item(scope: &TenantScope, item: &Item) -> Option<Tenant> {
        let trial_format = time::macros::format_description!("[year]-[month]-[day]");
        Some(Tenant {
            customer_number: item.str("customer_number")?.to_string(),
            company_name: item.str("company_name")?.to_string(),
            plan: Plan::new(u16::try_from(item.i64("plan")?).ok()?)?,
            trial_ends: Date::parse(item.str("trial_ends")?, trial_format).ok()?,
            created_at: OffsetDateTime::from_unix_timestamp(item.i64("created_at")?).ok()?,
            passcode_set: item.bool("passcode_set").unwrap_or(false),
            passcode_hash: item.str("passcode_hash").map(str::to_string),
            keys: TenantKeys::from_b64(
                scope.tenant().clone(),
                item.str("master_key")?.to_string(),
                item.str("wrapped_key")?,
            )?,
            settings: TenantSettings {
                view_only_may_reveal: item.bool("view_only_may_reveal").unwrap_or(false),
                require_totp: item.bool("require_totp").unwrap_or(false),
                retention_years: read_retention_years(item),
            },
            terms: Terms::read(item),
        })
    }
}

/// The stored retention years, the law's default when unset or out of range.
pub fn read_retention_years(item: &Item) -> u8 {
    use crate::domain::retention::{DEFAULT_YEARS, MAX_YEARS, MIN_YEARS};
    item.i64("retention_years")
        .and_then(|y| u8::try_from(y).ok())
        .filter(|y| (MIN_YEARS..=MAX_YEARS).contains(y))
        .unwrap_or(DEFAULT_YEARS)
}

pub async fn load(scope: &TenantScope) -> Result<Option<Tenant>, InfraError> {
    match scope.get(&scope.key(sk::PROFILE)).await? {
        None => Ok(None),
        Some(item) => Tenant::from_item(scope, &item)
            .map(Some)
            .ok_or(InfraError::Corrupt("tenant")),
    }
}

/// The eight registration counts of HOME's 登録状況 block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub registrants: i64,
    pub unregistered: i64,
    pub pending: i64,
    pub retired: i64,
    pub dependents: i64,
    pub dependents_unregistered: i64,
    pub dependents_pending: i64,
    pub dependents_retired: i64,
}

impl Counters {
    const FIELDS: [&'static str; 8] = [
        "registrants",
        "unregistered",
        "pending",
        "retired",
        "dependents",
        "dependents_unregistered",
        "dependents_pending",
        "dependents_retired",
    ];

    fn values(&self) -> [i64; 8] {
        [
            self.registrants,
            self.unregistered,
            self.pending,
            self.retired,
            self.dependents,
            self.dependents_unregistered,
            self.dependents_pending,
            self.dependents_retired,
        ]
    }

    fn from_values(v: [i64; 8]) -> Counters {
        Counters {
            registrants: v[0],
            unregistered: v[1],
            pending: v[2],
            retired: v[3],
            dependents: v[4],
            dependents_unregistered: v[5],
            dependents_pending: v[6],
            dependents_retired: v[7],
        }
    }

    /// The counters item of a new tenant (all zero).
    pub fn initial_item(scope: &TenantScope) -> Item {
        let mut item = Item::new(scope.key(sk::COUNTERS));
        for f in Self::FIELDS {
            item.attrs.insert(f.into(), 0.into());
        }
        item
    }

    /// One atomic write applying `delta` (to be part of the same transaction as the change
    /// it counts), or `None` when nothing changes.
    pub fn delta_op(scope: &TenantScope, delta: &Counters) -> Option<WriteOp> {
        let deltas: Vec<(String, i64)> = Self::FIELDS
            .iter()
            .zip(delta.values())
            .filter(|(_, d)| *d != 0)
            .map(|(f, d)| (f.to_string(), d))
            .collect();
        (!deltas.is_empty()).then(|| WriteOp::Add {
            key: scope.key(sk::COUNTERS),
            deltas,
            expires_at: None,
        })
    }
}

pub async fn counters(scope: &TenantScope) -> Result<Counters, InfraError> {
    let item = scope.get(&scope.key(sk::COUNTERS)).await?;
    let mut v = [0i64; 8];
    if let Some(item) = item {
        for (slot, f) in v.iter_mut().zip(Counters::FIELDS) {
            *slot = item.i64(f).unwrap_or(0);
        }
    }
    Ok(Counters::from_values(v))
}

/// 本契約 and payment, as stored on `PROFILE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terms {
    /// The chosen payment method; `None` until one is chosen.
    pub payment: Option<PaymentMethod>,
    /// 口座自動振替 only: the operator has the signed 口座振替依頼書, so the HOME warning goes.
    pub transfer_done: bool,
    /// The day (Japan) 本契約 was made; `None` while in (or after) the trial without it.
    pub contracted_on: Option<Date>,
}

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Terms {
    /// `item` with these terms written on it.
    pub(crate) fn write(&self, mut item: Item) -> Item {
        for name in ["payment", "transfer_done", "contracted_on"] {
            item.attrs.remove(name);
        }
        if let Some(m) = self.payment {
            item = item.with("payment", m.code());
        }
        if self.transfer_done {
            item = item.with("transfer_done", true);
        }
        if let Some(d) = self.contracted_on {
            item = item.with("contracted_on", d.to_string());
        }
        item
    }

    /// The terms stored on a `PROFILE` item (a profile written before they existed has none).
    pub(crate) fn read(item: &Item) -> Terms {
        Terms {
            payment: item.str("payment").and_then(PaymentMethod::from_code),
            transfer_done: item.bool("transfer_done").unwrap_or(false),
            contracted_on: item
                .str("contracted_on")
                .and_then(|d| Date::parse(d, DATE).ok()),
        }
    }

    /// Whether HOME warns that the 口座振替 paperwork is still open (manual ch.3 注意文).
    pub fn transfer_pending(&self) -> bool {
        self.payment == Some(PaymentMethod::BankTransfer) && !self.transfer_done
    }
}
