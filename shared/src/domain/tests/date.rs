//! Era boundaries as real documents write them: the day an emperor died began the new era, and
//! the old era's name is still correct for that day (大正15年12月25日 = 昭和元年12月25日,
//! 明治45年7月30日 = 大正元年7月30日). 昭和→平成 and 平成→令和 changed at midnight instead.

use time::macros::date;
use time::Date;

use super::*;

/// (input, the day it names, or the refusal).
fn boundary_cases() -> Vec<(&'static str, Result<Date, DateError>)> {
    let outside = |era, year, month, day| {
        Err(DateError::OutsideEra {
            era,
            year,
            month,
            day,
        })
    };
    vec![
        // The shared first day, in the old era and in the new one.
        ("大正15年12月25日", Ok(date!(1926 - 12 - 25))),
        ("T15.12.25", Ok(date!(1926 - 12 - 25))),
        ("昭和元年12月25日", Ok(date!(1926 - 12 - 25))),
        ("明治45年7月30日", Ok(date!(1912 - 07 - 30))),
        ("M45/7/30", Ok(date!(1912 - 07 - 30))),
        ("大正元年7月30日", Ok(date!(1912 - 07 - 30))),
        // The day after is the new era's only.
        ("大正15年12月26日", outside(Era::Taisho, 15, 12, 26)),
        ("明治45年7月31日", outside(Era::Meiji, 45, 7, 31)),
        // The day before is still the old era's only.
        ("昭和元年12月24日", outside(Era::Showa, 1, 12, 24)),
        ("大正元年7月29日", outside(Era::Taisho, 1, 7, 29)),
        // Midnight changes have no shared day.
        ("昭和64年1月8日", outside(Era::Showa, 64, 1, 8)),
        ("平成31年5月1日", outside(Era::Heisei, 31, 5, 1)),
    ]
}

#[test]
fn parse_date_accepts_the_old_era_name_when_on_the_first_day_of_showa_or_taisho() {
    for (input, expected) in boundary_cases() {
        assert_eq!(parse_date(input), expected, "{input}");
    }
}

#[test]
fn to_wareki_names_the_new_era_when_the_day_is_shared() {
    assert_eq!(
        to_wareki(date!(1926 - 12 - 25)).as_deref(),
        Some("昭和元年12月25日")
    );
    assert_eq!(
        to_wareki(date!(1912 - 07 - 30)).as_deref(),
        Some("大正元年7月30日")
    );
}

#[test]
fn outside_era_message_names_the_shared_day_when_one_day_too_late() {
    let err = parse_date("T15.12.26").unwrap_err();
    assert_eq!(
        err.to_string(),
        "大正15年12月26日は存在しません（大正は1912年7月30日から1926年12月25日までです）。"
    );
}
