//! Statutory retention (法定保存期間, manual ch.12): when a retired registrant's number may be
//! disposed of, proposed as a 削除予定日 with its basis in words.
//!
//! The rule: the 扶養控除等申告書 that carries a number is kept for the company's retention years
//! (7 by law, a per-tenant setting) counted from the day after the 法定納期限 (1月10日) of the
//! year following the later of the retirement year and the last 申告書's year. The proposed
//! 削除予定日 is the first day after that period. The proposal is only a proposal: the
//! administrator may change it, and nothing is ever deleted automatically.
//!
//! Not here: storing the dates (`app::registrants`) or reminding anyone (`app::retention`).

use time::{Date, Month};

/// The statutory retention of the 扶養控除等申告書 (所得税法施行規則 第76条の3).
pub const DEFAULT_YEARS: u8 = 7;
/// The shortest and longest retention a company may set (the law's 7 years is the usual
/// minimum; a company may keep numbers longer by its own rules, never forever).
pub const MIN_YEARS: u8 = 1;
pub const MAX_YEARS: u8 = 20;

/// A proposed 削除予定日 and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub delete_on: Date,
    /// The year the period is counted from (the later of retirement and last 申告書).
    pub base_year: i32,
    /// The basis in Japanese, for the confirmation page.
    pub basis: String,
}

/// The 削除予定日 proposed for someone retired on `retired_on` whose last 申告書 was for
/// `last_declaration_year` (unknown: the retirement year), kept `years` years.
pub fn propose(retired_on: Date, last_declaration_year: Option<i32>, years: u8) -> Proposal {
    let retired_year = retired_on.year();
    let base_year = last_declaration_year.map_or(retired_year, |y| y.max(retired_year));
    // 1月10日 of the next year is the 法定納期限; the period starts the day after and the
    // number may go on the first day after it ends: 1月11日, `years` years on.
    let due = Date::from_calendar_date(base_year + 1, Month::January, 10).ok();
    let delete_on = Date::from_calendar_date(base_year + 1 + i32::from(years), Month::January, 11)
        .unwrap_or(Date::MAX);
    let which = match last_declaration_year {
        Some(y) if y > retired_year => {
            format!("最終申告書年 {y}年（退職年 {retired_year}年より後）")
        }
        Some(y) => format!("退職年 {retired_year}年（最終申告書年 {y}年以後）"),
        None => format!("退職年 {retired_year}年（最終申告書年は未入力のため退職年とみなす）"),
    };
    let due = due.map_or_else(String::new, |d| {
        format!(
            "の申告書の法定納期限 {}/{}/{} ",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    });
    Proposal {
        delete_on,
        base_year,
        basis: format!("保存期間 {years}年: {which}{due}の翌日から{years}年を経過した日"),
    }
}

/// A retention in years as typed on the settings page.
pub fn parse_years(raw: &str) -> Result<u8, String> {
    let message = || format!("保存年数は{MIN_YEARS}〜{MAX_YEARS}の数字で入力してください。");
    let years: u8 = raw.trim().parse().map_err(|_| message())?;
    if (MIN_YEARS..=MAX_YEARS).contains(&years) {
        Ok(years)
    } else {
        Err(message())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn propose_counts_from_the_later_of_retirement_and_last_declaration() {
        // (retired on, last 申告書 year, years, base year, proposed 削除予定日)
        let cases = [
            (date!(2025 - 03 - 31), None, 7, 2025, date!(2033 - 01 - 11)),
            (date!(2025 - 12 - 31), None, 7, 2025, date!(2033 - 01 - 11)),
            (date!(2026 - 01 - 01), None, 7, 2026, date!(2034 - 01 - 11)),
            (
                date!(2025 - 03 - 31),
                Some(2024),
                7,
                2025,
                date!(2033 - 01 - 11),
            ),
            (
                date!(2025 - 03 - 31),
                Some(2025),
                7,
                2025,
                date!(2033 - 01 - 11),
            ),
            (
                date!(2025 - 03 - 31),
                Some(2026),
                7,
                2026,
                date!(2034 - 01 - 11),
            ),
            (date!(2025 - 03 - 31), None, 10, 2025, date!(2036 - 01 - 11)),
            (date!(2024 - 02 - 29), None, 1, 2024, date!(2026 - 01 - 11)),
        ];
        for (retired, last, years, base, want) in cases {
            let p = propose(retired, last, years);
            assert_eq!(p.base_year, base, "{retired} {last:?} {years}");
            assert_eq!(p.delete_on, want, "{retired} {last:?} {years}");
        }
    }

    #[test]
    fn propose_states_its_basis_when_a_date_is_proposed() {
        let unknown = propose(date!(2025 - 03 - 31), None, 7);
        assert!(unknown.basis.contains("保存期間 7年"), "{}", unknown.basis);
        assert!(unknown.basis.contains("未入力のため退職年とみなす"));
        assert!(unknown.basis.contains("2026/1/10"), "{}", unknown.basis);
        let later = propose(date!(2025 - 03 - 31), Some(2026), 7);
        assert!(
            later.basis.contains("最終申告書年 2026年"),
            "{}",
            later.basis
        );
        assert!(later.basis.contains("2027/1/10"), "{}", later.basis);
    }

    #[test]
    fn parse_years_refuses_values_outside_the_allowed_range() {
        // (typed, accepted)
        let cases = [
            ("7", Some(7)),
            (" 10 ", Some(10)),
            ("1", Some(1)),
            ("20", Some(20)),
            ("0", None),
            ("21", None),
            ("", None),
            ("七", None),
            ("-3", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_years(raw).ok(), want, "{raw:?}");
        }
    }
}
