//! Contract plans (プラン) and the registrant limit they impose.
//!
//! Counting rule (manual): active registrants always count; retirees count
//! only on plans below プラン60 (「退職者は「プラン60」以上であれば登録の対応人数に
//! 含まれません」); dependents never count, so they are not parameters here.
//!
//! Also the contract's pure rules: whether a plan change is an upgrade (applies at once) or a
//! downgrade (refused while the counted registrants exceed the new limit), the month from which
//! the bill follows the new plan, the payment methods, and where the 30-day trial stands.
//!
//! Limits: no prices (the manual lists none), no invoices, no I/O.

use time::{Date, Month};

/// A contract plan, identified by its registrant limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plan(u16);

/// Registering would exceed the plan's limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ご契約のプラン（{}）の登録可能人数（{}人）を超えるため登録できません。プランを変更するか、登録者を減らしてください。", .plan.label(), .plan.limit())]
pub struct PlanLimitError {
    /// The current plan.
    pub plan: Plan,
    /// Registrants already counted against the plan.
    pub counted: u32,
    /// Registrants the caller tried to add.
    pub adding: u32,
}

impl Plan {
    /// Every plan, smallest first.
    pub const ALL: [Plan; 7] = [
        Plan(10),
        Plan(30),
        Plan(60),
        Plan(100),
        Plan(300),
        Plan(500),
        Plan(1000),
    ];

    /// The plan of that size, if it exists.
    pub fn new(size: u16) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.0 == size)
    }

    /// Plan size (10, 30, …).
    pub fn size(self) -> u16 {
        self.0
    }

    /// Label, e.g. `プラン10`.
    pub fn label(self) -> String {
        format!("プラン{}", self.0)
    }

    /// Maximum number of counted registrants.
    pub fn limit(self) -> u32 {
        u32::from(self.0)
    }

    /// Whether retirees count against the limit (plans below プラン60).
    pub fn counts_retirees(self) -> bool {
        self.0 < 60
    }

    /// Registrants counted against the limit.
    pub fn counted(self, active: u32, retired: u32) -> u32 {
        if self.counts_retirees() {
            active.saturating_add(retired)
        } else {
            active
        }
    }

    /// How many more active registrants fit (0 when already at or over).
    pub fn remaining(self, active: u32, retired: u32) -> u32 {
        self.limit().saturating_sub(self.counted(active, retired))
    }

    /// Checks that `adding` new (active) registrants still fit.
    pub fn check_add(self, active: u32, retired: u32, adding: u32) -> Result<(), PlanLimitError> {
        let counted = self.counted(active, retired);
        if counted.saturating_add(adding) > self.limit() {
            return Err(PlanLimitError {
                plan: self,
                counted,
                adding,
            });
        }
        Ok(())
    }

    /// Whether the current registrants fit in `new` (counted under `new`'s
    /// retiree rule). Direction is not checked: it answers "would the data
    /// fit", so it is also usable for upgrades.
    pub fn can_downgrade_to(self, new: Plan, active: u32, retired: u32) -> bool {
        new.counted(active, retired) <= new.limit()
    }
}

/// What a plan change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanChange {
    /// A larger plan: the new limit applies at once.
    Upgrade,
    /// A smaller plan that the counted registrants fit.
    Downgrade,
}

/// Why a plan change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanChangeError {
    #[error("現在のプランと同じプランです。変更後のプランを選択してください。")]
    Same,
    /// The counted registrants exceed the smaller plan's limit.
    #[error(
        "登録者が{counted}人のため、{}（登録可能人数{}人）には変更できません。マイナンバー管理から登録者を{}人以上減らしてから変更してください。",
        .to.label(), .to.limit(), .counted - .to.limit()
    )]
    TooMany {
        to: Plan,
        /// Registrants counted under `to`'s rule.
        counted: u32,
    },
}

impl Plan {
    /// Checks a change from `self` to `to` with the registrants now stored: an upgrade is
    /// always possible; a downgrade only while the registrants, counted under `to`'s rule
    /// (retirees are free from プラン60), fit `to`'s limit.
    pub fn change_to(
        self,
        to: Plan,
        active: u32,
        retired: u32,
    ) -> Result<PlanChange, PlanChangeError> {
        if to == self {
            return Err(PlanChangeError::Same);
        }
        if to > self {
            return Ok(PlanChange::Upgrade);
        }
        let counted = to.counted(active, retired);
        if counted > to.limit() {
            return Err(PlanChangeError::TooMany { to, counted });
        }
        Ok(PlanChange::Downgrade)
    }
}

/// The first month whose bill follows a plan changed on `today` (manual: 「ご請求金額は次月より
/// 適用となります」), as (year, month).
pub fn billing_from(today: Date) -> (i32, Month) {
    match today.month() {
        Month::December => (today.year() + 1, Month::January),
        m => (today.year(), m.next()),
    }
}

/// How the contract is paid (manual ch.15: 口座自動振替 or クレジットカード).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    /// 口座自動振替: starts once the printed 口座振替依頼書 has reached the operator.
    BankTransfer,
    /// クレジットカード: the card itself is taken by the payment provider, never by us.
    Card,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 2] = [PaymentMethod::BankTransfer, PaymentMethod::Card];

    /// Stable storage and form code.
    pub fn code(self) -> &'static str {
        match self {
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::Card => "card",
        }
    }

    /// Inverse of [`PaymentMethod::code`].
    pub fn from_code(code: &str) -> Option<PaymentMethod> {
        PaymentMethod::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Label as the manual writes it.
    pub fn label(self) -> &'static str {
        match self {
            PaymentMethod::BankTransfer => "口座自動振替",
            PaymentMethod::Card => "クレジットカード",
        }
    }
}

/// Where the contract stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// In the free trial, which ends after `ends` (the last day of use).
    Trial { ends: Date },
    /// 本契約 made: in force.
    Contracted,
    /// The trial ended without 本契約: the tenant may read, not write, until it contracts.
    Lapsed { ended: Date },
}

impl Standing {
    /// `trial_ends` is the trial's last day (Japan time); `contracted` whether 本契約 was made.
    pub fn on(today: Date, trial_ends: Date, contracted: bool) -> Standing {
        match (contracted, today > trial_ends) {
            (true, _) => Standing::Contracted,
            (false, false) => Standing::Trial { ends: trial_ends },
            (false, true) => Standing::Lapsed { ended: trial_ends },
        }
    }

    /// Whether the company's data may only be read.
    pub fn read_only(self) -> bool {
        matches!(self, Standing::Lapsed { .. })
    }

    /// Whether a 本契約 step is open (during or after the trial).
    pub fn may_contract(self) -> bool {
        !matches!(self, Standing::Contracted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn plan(n: u16) -> Plan {
        Plan::new(n).unwrap()
    }

    #[test]
    fn new_accepts_only_listed_sizes_when_called() {
        let cases = [
            (10, true),
            (30, true),
            (60, true),
            (100, true),
            (300, true),
            (500, true),
            (1000, true),
            (0, false),
            (20, false),
            (50, false),
            (2000, false),
        ];
        for (size, ok) in cases {
            assert_eq!(Plan::new(size).is_some(), ok, "{size}");
        }
        for p in Plan::ALL {
            assert_eq!(Plan::new(p.size()), Some(p));
            assert_eq!(p.limit(), u32::from(p.size()));
        }
        assert_eq!(plan(10).label(), "プラン10");
        assert_eq!(plan(1000).label(), "プラン1000");
    }

    #[test]
    fn counted_includes_retirees_when_plan_below_60() {
        // (plan, active, retired, counted, remaining)
        let cases = [
            (10, 5, 3, 8, 2),
            (10, 8, 5, 13, 0),
            (30, 20, 10, 30, 0),
            (60, 50, 30, 50, 10),
            (100, 100, 40, 100, 0),
            (1000, 0, 999, 0, 1000),
        ];
        for (size, active, retired, counted, remaining) in cases {
            let p = plan(size);
            assert_eq!(p.counts_retirees(), size < 60);
            assert_eq!(p.counted(active, retired), counted, "{size}");
            assert_eq!(p.remaining(active, retired), remaining, "{size}");
        }
    }

    #[test]
    fn check_add_fails_when_limit_exceeded() {
        // (plan, active, retired, adding, ok)
        let cases = [
            (10, 9, 0, 1, true),
            (10, 9, 0, 2, false),
            (10, 5, 5, 0, true),
            (10, 5, 5, 1, false),
            (30, 0, 0, 30, true),
            (30, 0, 0, 31, false),
            (60, 59, 100, 1, true),
            (60, 60, 0, 1, false),
            (1000, 0, 0, u32::MAX, false),
        ];
        for (size, active, retired, adding, ok) in cases {
            let result = plan(size).check_add(active, retired, adding);
            assert_eq!(result.is_ok(), ok, "{size} {active} {retired} {adding}");
        }
    }

    #[test]
    fn check_add_message_names_plan_when_rejected() {
        let err = plan(10).check_add(10, 0, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ご契約のプラン（プラン10）の登録可能人数（10人）を超えるため登録できません。プランを変更するか、登録者を減らしてください。"
        );
        assert_eq!((err.counted, err.adding), (10, 1));
    }

    #[test]
    fn can_downgrade_to_applies_new_plan_rule_when_retirees_exist() {
        // (from, to, active, retired, ok)
        let cases = [
            (60, 30, 25, 0, true),
            (60, 30, 25, 10, false),
            (100, 60, 60, 100, true),
            (100, 60, 61, 0, false),
            (30, 10, 10, 0, true),
            (30, 10, 5, 6, false),
            (10, 60, 50, 30, true),
        ];
        for (from, to, active, retired, ok) in cases {
            assert_eq!(
                plan(from).can_downgrade_to(plan(to), active, retired),
                ok,
                "{from}->{to} {active} {retired}"
            );
        }
    }

    #[test]
    fn change_to_upgrades_at_once_and_refuses_downgrades_over_the_new_limit() {
        // (from, to, active, retired, outcome)
        type Case = (u16, u16, u32, u32, Result<PlanChange, PlanChangeError>);
        let cases: [Case; 8] = [
            (10, 30, 10, 0, Ok(PlanChange::Upgrade)),
            (10, 1000, 10, 5, Ok(PlanChange::Upgrade)),
            (30, 10, 10, 0, Ok(PlanChange::Downgrade)),
            (
                30,
                10,
                11,
                0,
                Err(PlanChangeError::TooMany {
                    to: plan(10),
                    counted: 11,
                }),
            ),
            // Retirees count below プラン60 …
            (
                60,
                30,
                25,
                10,
                Err(PlanChangeError::TooMany {
                    to: plan(30),
                    counted: 35,
                }),
            ),
            // … and are free from プラン60.
            (100, 60, 60, 40, Ok(PlanChange::Downgrade)),
            (
                100,
                60,
                61,
                0,
                Err(PlanChangeError::TooMany {
                    to: plan(60),
                    counted: 61,
                }),
            ),
            (30, 30, 0, 0, Err(PlanChangeError::Same)),
        ];
        for (from, to, active, retired, want) in cases {
            assert_eq!(
                plan(from).change_to(plan(to), active, retired),
                want,
                "{from}->{to} {active} {retired}"
            );
        }
    }

    #[test]
    fn change_to_message_names_the_count_and_how_many_to_remove_when_refused() {
        let err = plan(30).change_to(plan(10), 12, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "登録者が13人のため、プラン10（登録可能人数10人）には変更できません。マイナンバー管理から登録者を3人以上減らしてから変更してください。"
        );
    }

    #[test]
    fn billing_from_is_the_next_month_when_changed_any_day() {
        let cases = [
            (date!(2026 - 07 - 01), (2026, Month::August)),
            (date!(2026 - 07 - 31), (2026, Month::August)),
            (date!(2026 - 12 - 15), (2027, Month::January)),
        ];
        for (today, want) in cases {
            assert_eq!(billing_from(today), want, "{today}");
        }
    }

    #[test]
    fn payment_codes_round_trip_when_stored() {
        for m in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::from_code(m.code()), Some(m));
        }
        assert_eq!(PaymentMethod::from_code("cash"), None);
        assert_eq!(PaymentMethod::BankTransfer.label(), "口座自動振替");
    }

    #[test]
    fn standing_is_read_only_only_after_the_trial_without_a_contract() {
        let ends = date!(2026 - 07 - 31);
        // (today, contracted, standing)
        let cases = [
            (date!(2026 - 07 - 01), false, Standing::Trial { ends }),
            (ends, false, Standing::Trial { ends }),
            (
                date!(2026 - 08 - 01),
                false,
                Standing::Lapsed { ended: ends },
            ),
            (date!(2026 - 07 - 01), true, Standing::Contracted),
            (date!(2027 - 01 - 01), true, Standing::Contracted),
        ];
        for (today, contracted, want) in cases {
            let got = Standing::on(today, ends, contracted);
            assert_eq!(got, want, "{today} {contracted}");
            assert_eq!(got.read_only(), matches!(want, Standing::Lapsed { .. }));
            assert_eq!(got.may_contract(), !contracted);
        }
    }
}
