//! Contract plans (プラン) and the registrant limit they impose.
//!
//! Counting rule (manual): active registrants always count; retirees count
//! only on plans below プラン60 (「退職者は「プラン60」以上であれば登録の対応人数に
//! 含まれません」); dependents never count, so they are not parameters here.
//!
//! Limits: no prices, billing periods or contract dates.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
