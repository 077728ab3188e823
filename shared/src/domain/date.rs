//! Date input in Western (西暦) and Japanese-era (和暦) notation, and wareki
//! output.
//!
//! Accepted forms (after trimming; full-width digits, letters and punctuation
//! are folded to ASCII and blanks inside the input are ignored):
//! `1980/1/1`, `1980-01-01`, `1980.1.1`, `1980年1月1日`, `19800101`,
//! `S55/1/1`, `h31.4.30`, `R1-5-1` (era letter M/T/S/H/R in either case),
//! `昭和55年1月1日`, `令和元年5月1日`, `平成31/4/30`, `S55年1月1日`.
//!
//! Limits: only the five modern eras (明治 onwards); Meiji dates are treated
//! as Gregorian from 1868-10-23 (the lunisolar calendar before 1873 is not
//! modelled). Western years outside 1868..=2200 are rejected. No time of day
//! and no time zones.

use time::macros::date;
use time::{Date, Month};

use super::text::{fold_fullwidth, is_blank, is_hyphen_like};

/// Earliest accepted Western year.
pub const MIN_YEAR: i32 = 1868;
/// Latest accepted Western year.
pub const MAX_YEAR: i32 = 2200;

/// A Japanese era (元号) from Meiji onwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

impl Era {
    /// All eras, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// Kanji name, e.g. `昭和`.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// Upper-case initial letter, e.g. `S`.
    pub fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// First day of the era (Gregorian).
    pub fn start(self) -> Date {
        match self {
            Era::Meiji => date!(1868 - 10 - 23),
            Era::Taisho => date!(1912 - 07 - 30),
            Era::Showa => date!(1926 - 12 - 25),
            Era::Heisei => date!(1989 - 01 - 08),
            Era::Reiwa => date!(2019 - 05 - 01),
        }
    }

    /// Last day of the era, or `None` for the current era.
    ///
    /// 明治 and 大正 ended on the day their emperor died, which was also the first day of the
    /// next era: documents write that day in either era (明治45年7月30日 = 大正元年7月30日,
    /// 大正15年12月25日 = 昭和元年12月25日). 昭和 and 平成 ended the day before their successor.
    pub fn end(self) -> Option<Date> {
        match self {
            Era::Meiji => Some(date!(1912 - 07 - 30)),
            Era::Taisho => Some(date!(1926 - 12 - 25)),
            Era::Showa => Some(date!(1989 - 01 - 07)),
            Era::Heisei => Some(date!(2019 - 04 - 30)),
            Era::Reiwa => None,
        }
    }

    /// The era a date belongs to, or `None` before 1868-10-23.
    pub fn of(date: Date) -> Option<Era> {
        Era::ALL.into_iter().rev().find(|era| date >= era.start())
    }

    /// Whether `date` lies inside this era's span.
    pub fn contains(self, date: Date) -> bool {
        date >= self.start() && self.end().is_none_or(|end| date <= end)
    }

    /// Era from its letter (either case).
    pub fn from_letter(c: char) -> Option<Era> {
        Era::ALL
            .into_iter()
            .find(|era| era.letter() == c.to_ascii_uppercase())
    }

    /// Era from its kanji name.
    pub fn from_kanji(name: &str) -> Option<Era> {
        Era::ALL.into_iter().find(|era| era.kanji() == name)
    }

    /// Gregorian year of era year `n` (n = 1 is 元年).
    fn gregorian_year(self, n: u32) -> i64 {
        i64::from(self.start().year()) + i64::from(n) - 1
    }
}

/// Why a date input was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("日付の形式が正しくありません。例: 1980/1/1、S55/1/1、昭和55年1月1日")]
    Format,
    #[error("存在しない日付です。")]
    Impossible,
    #[error("和暦の年は1（元年）以上で入力してください。")]
    ZeroEraYear,
    #[error("{}", outside_era_message(.era, .year, .month, .day))]
    OutsideEra {
        era: Era,
        year: u32,
        month: u8,
        day: u8,
    },
    #[error("1868年から2200年までの日付を入力してください。")]
    OutOfRange,
    #[error("年月の形式が正しくありません。例: 2024/3、2024-03、2024年3月")]
    YearMonthFormat,
}

fn outside_era_message(era: &Era, year: &u32, month: &u8, day: &u8) -> String {
    let span = match era.end() {
        Some(end) => format!(
            "{}は{}から{}までです",
            era.kanji(),
            kanji_date(era.start()),
            kanji_date(end)
        ),
        None => format!("{}は{}からです", era.kanji(), kanji_date(era.start())),
    };
    format!(
        "{}{}年{}月{}日は存在しません（{}）。",
        era.kanji(),
        era_year_text(*year),
        month,
        day,
        span
    )
}

fn kanji_date(date: Date) -> String {
    format!(
        "{}年{}月{}日",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn era_year_text(year: u32) -> String {
    if year == 1 {
        "元".to_owned()
    } else {
        year.to_string()
    }
}

/// Folds full-width characters, maps hyphen-likes to `-` and drops blanks.
fn normalise(input: &str) -> Vec<char> {
    input
        .chars()
        .filter(|&c| !is_blank(c))
        .map(|c| {
            if is_hyphen_like(c) {
                '-'
            } else {
                fold_fullwidth(c)
            }
        })
        .collect()
}

/// A tiny cursor over the normalised characters.
struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(chars: &'a [char]) -> Self {
        Cursor { chars, pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let wanted: Vec<char> = s.chars().collect();
        if self.chars[self.pos..].starts_with(&wanted) {
            self.pos += wanted.len();
            true
        } else {
            false
        }
    }

    /// Reads 1..=max ASCII digits; `None` if there are none or too many.
    fn digits(&mut self, max: usize) -> Option<(u32, usize)> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            if self.pos - start >= max {
                return None;
            }
            value = value * 10 + d;
            self.pos += 1;
        }
        let len = self.pos - start;
        (len > 0).then_some((value, len))
    }

    fn at_end(&self) -> bool {
        self.pos == self.chars.len()
    }
}

/// The syntactic parts of a date before any calendar check.
struct RawDate {
    era: Option<Era>,
    year: u32,
    month: u32,
    day: u32,
}

fn parse_era_prefix(cur: &mut Cursor<'_>) -> Option<Era> {
    for era in Era::ALL {
        if cur.eat_str(era.kanji()) {
            return Some(era);
        }
    }
    let era = cur.peek().and_then(Era::from_letter)?;
    cur.pos += 1;
    Some(era)
}

fn parse_raw(chars: &[char]) -> Option<RawDate> {
    let mut cur = Cursor::new(chars);
    let era = parse_era_prefix(&mut cur);

    // Compact YYYYMMDD (Western only).
    if era.is_none() && chars.len() == 8 && chars.iter().all(char::is_ascii_digit) {
        let (ymd, _) = cur.digits(8)?;
        return Some(RawDate {
            era: None,
            year: ymd / 10_000,
            month: ymd / 100 % 100,
            day: ymd % 100,
        });
    }

    let year = if era.is_some() && cur.eat('元') {
        1
    } else {
        let max = if era.is_some() { 3 } else { 4 };
        let (year, len) = cur.digits(max)?;
        if era.is_none() && len != 4 {
            return None;
        }
        year
    };

    let (month, day) = if cur.eat('年') {
        let (month, _) = cur.digits(2)?;
        if !cur.eat('月') {
            return None;
        }
        let (day, _) = cur.digits(2)?;
        if !cur.eat('日') {
            return None;
        }
        (month, day)
    } else {
        let sep = cur.peek().filter(|c| matches!(c, '/' | '-' | '.'))?;
        cur.pos += 1;
        let (month, _) = cur.digits(2)?;
        if !cur.eat(sep) {
            return None;
        }
        let (day, _) = cur.digits(2)?;
        (month, day)
    };

    cur.at_end().then_some(RawDate {
        era,
        year,
        month,
        day,
    })
}

fn calendar_date(year: i64, month: u32, day: u32) -> Result<Date, DateError> {
    if !(i64::from(MIN_YEAR)..=i64::from(MAX_YEAR)).contains(&year) {
        return Err(DateError::OutOfRange);
    }
    let year = i32::try_from(year).map_err(|_| DateError::OutOfRange)?;
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(DateError::Impossible)?;
    let day = u8::try_from(day).map_err(|_| DateError::Impossible)?;
    Date::from_calendar_date(year, month, day).map_err(|_| DateError::Impossible)
}

/// Parses a Western or Japanese-era date (see the module docs for forms).
///
/// Era dates must fall inside the era's span: `H31.5.1` and `S64.1.8` are
/// rejected with [`DateError::OutsideEra`].
pub fn parse_date(input: &str) -> Result<Date, DateError> {
    let chars = normalise(input);
    let raw = parse_raw(&chars).ok_or(DateError::Format)?;
    match raw.era {
        None => calendar_date(i64::from(raw.year), raw.month, raw.day),
        Some(era) => {
            if raw.year == 0 {
                return Err(DateError::ZeroEraYear);
            }
            let date = calendar_date(era.gregorian_year(raw.year), raw.month, raw.day)?;
            if !era.contains(date) {
                return Err(DateError::OutsideEra {
                    era,
                    year: raw.year,
                    // Month and day are valid calendar values at this point.
                    month: u8::from(date.month()),
                    day: date.day(),
                });
            }
            Ok(date)
        }
    }
}

/// Wareki form, e.g. `令和元年5月1日`, or `None` before 1868-10-23.
pub fn to_wareki(date: Date) -> Option<String> {
    let era = Era::of(date)?;
    let year = u32::try_from(date.year() - era.start().year() + 1).ok()?;
    Some(format!(
        "{}{}年{}月{}日",
        era.kanji(),
        era_year_text(year),
        u8::from(date.month()),
        date.day()
    ))
}

/// Zero-padded slash form, e.g. `1980/01/01`.
pub fn format_slash(date: Date) -> String {
    format!(
        "{:04}/{:02}/{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Parses a Western year and month for search filters: `2024/3`, `2024-03`,
/// `2024.3`, `2024年3月`. Returns `(year, month)` with month in 1..=12.
pub fn parse_year_month(input: &str) -> Result<(i32, u8), DateError> {
    let chars = normalise(input);
    let mut cur = Cursor::new(&chars);
    let (year, len) = cur.digits(4).ok_or(DateError::YearMonthFormat)?;
    if len != 4 {
        return Err(DateError::YearMonthFormat);
    }
    let kanji = cur.eat('年');
    let separated = kanji || cur.eat('/') || cur.eat('-') || cur.eat('.');
    if !separated {
        return Err(DateError::YearMonthFormat);
    }
    let (month, _) = cur.digits(2).ok_or(DateError::YearMonthFormat)?;
    if kanji && !cur.eat('月') {
        return Err(DateError::YearMonthFormat);
    }
    if !cur.at_end() {
        return Err(DateError::YearMonthFormat);
    }
    let year = i32::try_from(year).map_err(|_| DateError::OutOfRange)?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(DateError::OutOfRange);
    }
    let month = u8::try_from(month)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or(DateError::Impossible)?;
    Ok((year, month))
}

#[cfg(test)]
#[path = "tests/date.rs"]
mod era_boundary_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_date_succeeds_when_supported_form() {
        let cases = [
            ("1980/1/1", date!(1980 - 01 - 01)),
            ("1980-01-01", date!(1980 - 01 - 01)),
            ("1980.1.1", date!(1980 - 01 - 01)),
            ("1980年1月1日", date!(1980 - 01 - 01)),
            ("19800101", date!(1980 - 01 - 01)),
            ("  1980/12/31 ", date!(1980 - 12 - 31)),
            ("１９８０／１／１", date!(1980 - 01 - 01)),
            ("１９８０年１月１日", date!(1980 - 01 - 01)),
            ("1980－01－01", date!(1980 - 01 - 01)),
            ("1980 / 1 / 1", date!(1980 - 01 - 01)),
            ("s55/1/1", date!(1980 - 01 - 01)),
            ("S55/1/1", date!(1980 - 01 - 01)),
            ("Ｓ５５／１／１", date!(1980 - 01 - 01)),
            ("S55-1-1", date!(1980 - 01 - 01)),
            ("S55.01.01", date!(1980 - 01 - 01)),
            ("S55年1月1日", date!(1980 - 01 - 01)),
            ("H31.4.30", date!(2019 - 04 - 30)),
            ("h31.4.30", date!(2019 - 04 - 30)),
            ("R1.5.1", date!(2019 - 05 - 01)),
            ("r6/2/29", date!(2024 - 02 - 29)),
            ("M45.7.29", date!(1912 - 07 - 29)),
            ("t1.7.30", date!(1912 - 07 - 30)),
            ("昭和55年1月1日", date!(1980 - 01 - 01)),
            ("令和元年5月1日", date!(2019 - 05 - 01)),
            ("令和1年5月1日", date!(2019 - 05 - 01)),
            ("平成31/4/30", date!(2019 - 04 - 30)),
            ("平成元年1月8日", date!(1989 - 01 - 08)),
            ("昭和 55年 1月 1日", date!(1980 - 01 - 01)),
            ("1868/1/1", date!(1868 - 01 - 01)),
            ("2200/12/31", date!(2200 - 12 - 31)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_date(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn parse_date_fails_with_format_when_unparseable() {
        let cases = [
            "",
            "abc",
            "1980",
            "1980/1",
            "80/1/1",
            "1980/1-1",
            "1980/1/1/1",
            "1980年1月1",
            "1980年1月",
            "1980/001/1",
            "S/1/1",
            "X55/1/1",
            "元/1/1",
            "S55",
            "昭和55年",
            "S5555/1/1",
            "1980/1/1x",
            "S55/1/1 12:00",
            "1980101",
        ];
        for input in cases {
            assert_eq!(parse_date(input), Err(DateError::Format), "{input:?}");
        }
    }

    #[test]
    fn parse_date_fails_with_impossible_when_no_such_calendar_day() {
        let cases = [
            "2023/2/29",
            "1980/13/1",
            "1980/0/1",
            "1980/1/0",
            "2024/4/31",
            "1980/1/32",
            "R5/2/29",
            "H31.2.29",
            "令和2年4月31日",
            "19801301",
        ];
        for input in cases {
            assert_eq!(parse_date(input), Err(DateError::Impossible), "{input}");
        }
    }

    #[test]
    fn parse_date_fails_with_zero_era_year_when_year_is_0() {
        for input in ["R0/5/1", "平成0年1月8日", "s00.1.1"] {
            assert_eq!(parse_date(input), Err(DateError::ZeroEraYear), "{input}");
        }
    }

    #[test]
    fn parse_date_fails_with_out_of_range_when_year_outside_1868_2200() {
        for input in [
            "1867/12/31",
            "2201/1/1",
            "0001/1/1",
            "9999/12/31",
            "R183/1/1",
        ] {
            assert_eq!(parse_date(input), Err(DateError::OutOfRange), "{input}");
        }
    }

    /// (last day of old era, day after under the old era,
    ///  first day of new era, day before under the new era). 明治→大正 and 大正→昭和 share
    /// their first day (see `Era::end` and tests/date.rs).
    #[test]
    fn parse_date_respects_era_boundaries_when_around_transition() {
        let cases = [
            (
                "M45.7.30",
                "M45.7.31",
                "T1.7.30",
                "T1.7.29",
                date!(1912 - 07 - 30),
                date!(1912 - 07 - 30),
            ),
            (
                "T15.12.25",
                "T15.12.26",
                "S1.12.25",
                "S1.12.24",
                date!(1926 - 12 - 25),
                date!(1926 - 12 - 25),
            ),
            (
                "S64.1.7",
                "S64.1.8",
                "H1.1.8",
                "H1.1.7",
                date!(1989 - 01 - 07),
                date!(1989 - 01 - 08),
            ),
            (
                "H31.4.30",
                "H31.5.1",
                "R1.5.1",
                "R1.4.30",
                date!(2019 - 04 - 30),
                date!(2019 - 05 - 01),
            ),
        ];
        for (last, after, first, before, last_date, first_date) in cases {
            assert_eq!(parse_date(last), Ok(last_date), "{last}");
            assert_eq!(parse_date(first), Ok(first_date), "{first}");
            assert!(
                matches!(parse_date(after), Err(DateError::OutsideEra { .. })),
                "{after}"
            );
            assert!(
                matches!(parse_date(before), Err(DateError::OutsideEra { .. })),
                "{before}"
            );
        }
        assert_eq!(parse_date("M1.10.23"), Ok(date!(1868 - 10 - 23)));
        assert!(matches!(
            parse_date("M1.10.22"),
            Err(DateError::OutsideEra { .. })
        ));
    }

    #[test]
    fn outside_era_message_names_span_when_rejected() {
        let cases = [
            (
                "H31.5.1",
                "平成31年5月1日は存在しません（平成は1989年1月8日から2019年4月30日までです）。",
            ),
            (
                "S64.1.8",
                "昭和64年1月8日は存在しません（昭和は1926年12月25日から1989年1月7日までです）。",
            ),
            (
                "H1.1.7",
                "平成元年1月7日は存在しません（平成は1989年1月8日から2019年4月30日までです）。",
            ),
            (
                "R1.4.30",
                "令和元年4月30日は存在しません（令和は2019年5月1日からです）。",
            ),
            (
                "平成32年1月1日",
                "平成32年1月1日は存在しません（平成は1989年1月8日から2019年4月30日までです）。",
            ),
        ];
        for (input, message) in cases {
            let err = parse_date(input).unwrap_err();
            assert_eq!(err.to_string(), message, "{input}");
        }
    }

    #[test]
    fn parse_date_equals_western_when_era_form() {
        assert_eq!(parse_date("S55/1/1"), parse_date("1980-01-01"));
        assert_eq!(parse_date("令和元年5月1日"), parse_date("2019/5/1"));
    }

    #[test]
    fn to_wareki_formats_when_in_era() {
        let cases = [
            (date!(2019 - 05 - 01), Some("令和元年5月1日")),
            (date!(1980 - 01 - 01), Some("昭和55年1月1日")),
            (date!(2019 - 04 - 30), Some("平成31年4月30日")),
            (date!(1989 - 01 - 07), Some("昭和64年1月7日")),
            (date!(1989 - 01 - 08), Some("平成元年1月8日")),
            (date!(1912 - 07 - 30), Some("大正元年7月30日")),
            (date!(1868 - 10 - 23), Some("明治元年10月23日")),
            (date!(1868 - 10 - 22), None),
            (date!(2024 - 12 - 31), Some("令和6年12月31日")),
        ];
        for (input, expected) in cases {
            assert_eq!(to_wareki(input).as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn to_wareki_round_trips_when_parsed_back() {
        for input in [
            "1912/7/29",
            "1926/12/25",
            "1989/1/7",
            "2019/5/1",
            "2000/2/29",
        ] {
            let d = parse_date(input).unwrap();
            let w = to_wareki(d).unwrap();
            assert_eq!(parse_date(&w), Ok(d), "{w}");
        }
    }

    #[test]
    fn era_of_returns_era_when_date_in_span() {
        let cases = [
            (date!(1868 - 10 - 22), None),
            (date!(1868 - 10 - 23), Some(Era::Meiji)),
            (date!(1912 - 07 - 29), Some(Era::Meiji)),
            (date!(1912 - 07 - 30), Some(Era::Taisho)),
            (date!(1926 - 12 - 25), Some(Era::Showa)),
            (date!(1989 - 01 - 07), Some(Era::Showa)),
            (date!(1989 - 01 - 08), Some(Era::Heisei)),
            (date!(2019 - 05 - 01), Some(Era::Reiwa)),
        ];
        for (input, expected) in cases {
            assert_eq!(Era::of(input), expected, "{input}");
        }
    }

    #[test]
    fn era_accessors_are_consistent_when_iterated() {
        for pair in Era::ALL.windows(2) {
            let (old, new) = (pair[0], pair[1]);
            // Either the new era began on the old one's last day, or the day after.
            let end = old.end();
            assert!(
                end == Some(new.start()) || end.and_then(Date::next_day) == Some(new.start()),
                "{old:?} → {new:?}"
            );
        }
        assert_eq!(Era::Reiwa.end(), None);
        for era in Era::ALL {
            assert_eq!(Era::from_letter(era.letter()), Some(era));
            assert_eq!(
                Era::from_letter(era.letter().to_ascii_lowercase()),
                Some(era)
            );
            assert_eq!(Era::from_kanji(era.kanji()), Some(era));
        }
    }

    #[test]
    fn format_slash_pads_when_single_digits() {
        assert_eq!(format_slash(date!(1980 - 01 - 01)), "1980/01/01");
        assert_eq!(format_slash(date!(2024 - 12 - 31)), "2024/12/31");
    }

    #[test]
    fn parse_year_month_succeeds_when_supported_form() {
        let cases = [
            ("2024/3", (2024, 3)),
            ("2024-03", (2024, 3)),
            ("2024.12", (2024, 12)),
            ("2024年3月", (2024, 3)),
            ("２０２４／３", (2024, 3)),
            (" 2024 年 3 月 ", (2024, 3)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_year_month(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn parse_year_month_fails_when_invalid() {
        let cases = [
            ("", DateError::YearMonthFormat),
            ("2024", DateError::YearMonthFormat),
            ("24/3", DateError::YearMonthFormat),
            ("2024年3", DateError::YearMonthFormat),
            ("2024/3/1", DateError::YearMonthFormat),
            ("2024/", DateError::YearMonthFormat),
            ("2024/13", DateError::Impossible),
            ("2024/0", DateError::Impossible),
            ("1800/1", DateError::OutOfRange),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_year_month(input), Err(expected), "{input:?}");
        }
    }
}
