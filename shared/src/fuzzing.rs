//! Property checks over the parsers that read what users and attackers send: the My Number
//! normaliser, the era-date parser, the image type check, the CSV importer's reader and the
//! form decoders (serde_urlencoded into the form types, then the forms' own checks).
//!
//! Each check takes any bytes, runs one parser on them and panics when a property breaks, so
//! the same code serves the cargo-fuzz targets (`fuzz/fuzz_targets/`, feature `fuzzing`) and
//! the proptests and regression tests of this crate (`cfg(test)`). A panic is a finding:
//! either the parser itself panicked, or it accepted or produced something it must not.
//!
//! Not here: anything with I/O (the store, blobs, mail). What a refused CSV file leaves in the
//! store is proven over HTTP in `tests/api/fuzz_csv.rs`.

use time::macros::date;
use time::Date;

use crate::app::csv_io::{self, LineError};
use crate::app::dependents;
use crate::app::enrol::{self as steps, OwnForm, PhoneDependentForm};
use crate::app::registrants::{self, RegistrantForm};
use crate::domain::date::{format_slash, parse_date, parse_year_month, to_wareki, Era};
use crate::domain::image::{self, ImageError, ImageKind, MAX_IMAGE_BYTES};
use crate::domain::my_number::{check_digit, MyNumber, MyNumberError};
use crate::domain::text::holds_my_number;

/// The day the form checks take as today (a fixed one, so a finding replays the same).
const TODAY: Date = date!(2026 - 04 - 01);

/// The digits of `text` in order, full-width ones folded to ASCII (an oracle written apart
/// from the normaliser).
fn typed_digits(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
            _ => None,
        })
        .collect()
}

/// Whether `digits` (ASCII) are 12 with a right check digit, computed here from the rule.
fn is_valid_number(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 12 || digits.len() != 12 {
        return false;
    }
    // Weights from the right: n + 1 for n = 1..=6, n - 5 for n = 7..=11.
    let sum: u32 = (1..=11u32)
        .map(|n| {
            let weight = if n <= 6 { n + 1 } else { n - 5 };
            d[11 - n as usize] * weight
        })
        .sum();
    let r = sum % 11;
    let check = if r <= 1 { 0 } else { 11 - r };
    d[11] == check
}

/// My Number: a parsed number is always 12 ASCII digits with a valid check digit, exactly the
/// digits typed; it parses again to itself; it never shows in `Debug`/`Display`; free text
/// holding it is refused; the phone's three boxes agree with the one field.
pub fn my_number(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let digits = typed_digits(&text);
    let parsed = MyNumber::parse(&text);
    match &parsed {
        Ok(n) => {
            let exposed = n.expose();
            assert!(exposed.len() == 12 && exposed.bytes().all(|b| b.is_ascii_digit()));
            assert!(is_valid_number(exposed), "accepted a wrong check digit");
            assert_eq!(exposed, digits, "the number is not the digits typed");
            let mut first11 = [0u8; 11];
            for (v, b) in first11.iter_mut().zip(exposed.bytes()) {
                *v = b - b'0';
            }
            assert_eq!(check_digit(&first11), exposed.as_bytes()[11] - b'0');
            assert_eq!(MyNumber::parse(exposed).as_ref(), Ok(n));
            for shown in [format!("{n:?}"), format!("{n}"), n.masked()] {
                assert!(!shown.contains(&exposed[..8]), "a shown form leaks digits");
                assert!(shown.ends_with(n.last4()));
            }
            assert!(holds_my_number(exposed));
        }
        Err(MyNumberError::WrongLength(len)) => assert_ne!(*len, 12),
        Err(MyNumberError::CheckDigit) => {
            assert!(digits.len() == 12 && !is_valid_number(&digits));
        }
        Err(MyNumberError::Empty) => assert!(digits.is_empty()),
        Err(MyNumberError::InvalidCharacter) => {}
    }
    if let Err(e) = &parsed {
        assert!(
            digits.len() < 4 || !e.to_string().contains(&digits),
            "an error echoes the input"
        );
    }
    // Free text (備考, a message, a reason) never hides a valid number, whatever surrounds
    // it with a blank between.
    let half = text.chars().count() / 2;
    let before: String = text.chars().take(half).collect();
    let after: String = text.chars().skip(half).collect();
    let number = parsed.as_ref().map_or("621498320257", MyNumber::expose);
    assert!(
        holds_my_number(&format!("{before} {number} {after}")),
        "a number hidden in free text"
    );
    // The three boxes of the phone and admin forms: the same verdict as one field when the
    // text is split into three (each box trimmed, as the forms do).
    let chars: Vec<char> = text.chars().collect();
    let (a, rest) = chars.split_at(chars.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let [a, b, c]: [String; 3] = [a, b, c].map(|s| s.iter().collect());
    let joined = format!("{}{}{}", a.trim(), b.trim(), c.trim());
    match steps::number_boxes(&a, &b, &c) {
        Ok(Some(n)) => assert_eq!(Ok(&n), MyNumber::parse(&joined).as_ref()),
        Ok(None) => assert!(joined.is_empty()),
        Err(_) => assert!(MyNumber::parse(&joined).is_err()),
    }
}

/// The date written in the era-letter form, e.g. `S55.1.1` (`元年` has no letter form: `1`).
fn letter_form(date: Date) -> Option<String> {
    let era = Era::of(date)?;
    let year = date.year() - era.start().year() + 1;
    Some(format!(
        "{}{}.{}.{}",
        era.letter(),
        year,
        u8::from(date.month()),
        date.day()
    ))
}

/// Checks one date the parser produced or a formatter wrote: in range, and every written form
/// (wareki, era letters, slashes) reads back as the same day.
fn date_round_trips(d: Date) {
    assert!(
        (1868..=2200).contains(&d.year()),
        "accepted {d} out of range"
    );
    assert_eq!(parse_date(&format_slash(d)), Ok(d), "slash form of {d}");
    match to_wareki(d) {
        Some(wareki) => {
            assert_eq!(parse_date(&wareki), Ok(d), "{wareki} is not {d}");
            let letters = letter_form(d).unwrap_or_default();
            assert_eq!(parse_date(&letters), Ok(d), "{letters} is not {d}");
        }
        None => assert!(d < Era::Meiji.start()),
    }
}

/// Era dates: whatever parses is a real day in 1868..=2200 inside its era, and reads back from
/// its written forms; any day, chosen from the first bytes, round-trips through the formatters;
/// a year-month filter reads back from its slash form; the phone's date selects agree with
/// the calendar.
pub fn era_date(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = parse_date(&text) {
        date_round_trips(d);
    }
    if let [a, b, c, d, ..] = data {
        let first =
            Date::from_calendar_date(1868, time::Month::January, 1).map_or(0, Date::to_julian_day);
        let span = 2200_i64 * 366 - 1868 * 366; // more than the days from 1868 to 2200
        let offset = i64::from(u32::from_le_bytes([*a, *b, *c, *d])) % span;
        if let Some(day) = i32::try_from(i64::from(first) + offset)
            .ok()
            .and_then(|j| Date::from_julian_day(j).ok())
            .filter(|day| day.year() <= 2200)
        {
            date_round_trips(day);
        }
    }
    if let Ok((year, month)) = parse_year_month(&text) {
        assert!((1868..=2200).contains(&year) && (1..=12).contains(&month));
        assert_eq!(
            parse_year_month(&format!("{year}/{month}")),
            Ok((year, month))
        );
    }
    let parts: Vec<&str> = text.splitn(3, ',').collect();
    if let [y, m, d] = parts[..] {
        if let Ok(day) = steps::birth_date(y, m, d, TODAY) {
            assert!(day <= TODAY && day.year() >= 1900);
            assert_eq!(
                m.trim().parse::<i32>(),
                Ok(i32::from(u8::from(day.month())))
            );
        }
    }
}

/// The image type check: a file is accepted only when its first bytes are the magic number of
/// the type it is accepted as, never over 4 MB, and every accepted type maps to its content
/// type and back.
pub fn image(data: &[u8]) {
    const MAGIC: [(ImageKind, &[u8]); 4] = [
        (ImageKind::Jpeg, &[0xFF, 0xD8, 0xFF]),
        (ImageKind::Png, b"\x89PNG\r\n\x1a\n"),
        (ImageKind::Gif, b"GIF87a"),
        (ImageKind::Gif, b"GIF89a"),
    ];
    let claimed = MAGIC
        .iter()
        .find(|(_, magic)| data.starts_with(magic))
        .map(|(kind, _)| *kind);
    assert_eq!(image::sniff(data), claimed);
    let size = claimed_size(data);
    match image::check(size, data) {
        Ok(kind) => {
            assert!(size <= MAX_IMAGE_BYTES);
            assert_eq!(Some(kind), claimed);
            assert_eq!(
                ImageKind::from_content_type(kind.content_type()),
                Some(kind)
            );
        }
        Err(ImageError::TooLarge) => assert!(size > MAX_IMAGE_BYTES),
        Err(ImageError::NotAnImage) => assert!(size <= MAX_IMAGE_BYTES && claimed.is_none()),
        Err(ImageError::Missing) => panic!("a file read is never missing"),
    }
}

/// The stored size the image check is told: from the 8 bytes after the head when there are
/// that many (so the fuzzer reaches the 4 MB edge), else the length.
fn claimed_size(data: &[u8]) -> u64 {
    data.get(8..16)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(data.len() as u64, |b| {
            u64::from_le_bytes(b) % (2 * MAX_IMAGE_BYTES + 2)
        })
}

/// Lines of `text` as an editor numbers them (CRLF, LF or a lone CR end one).
fn line_count(text: &str) -> usize {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .count()
}

/// The CSV reader: any bytes decode as UTF-8 (BOM or not) exactly when they are UTF-8, else
/// as CP932 or not at all; reading never panics; every problem names a line of the file (or
/// the file); rows over the limit are refused; a file with no problem has rows, and every row
/// passes through the field rules without a panic.
pub fn csv(data: &[u8]) {
    let empty = csv_io::is_empty_file(data);
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    assert_eq!(empty, body.iter().all(u8::is_ascii_whitespace));
    let text = match csv_io::decode(data) {
        Ok((text, encoding)) => {
            match std::str::from_utf8(body) {
                Ok(utf8) => assert_eq!((utf8, encoding), (text.as_str(), "UTF-8")),
                Err(_) => assert_ne!(encoding, "UTF-8"),
            }
            text
        }
        Err(LineError { line, .. }) => {
            assert_eq!(line, 0);
            assert!(std::str::from_utf8(body).is_err(), "UTF-8 refused");
            return;
        }
    };
    let (people, errors) = csv_io::parse(&text, &[]);
    let lines = line_count(&text);
    for e in &errors {
        assert!(e.at.row <= lines, "error on line {} of {lines}", e.at.row);
    }
    let rows: usize = people.iter().map(|p| 1 + p.dependents.len()).sum();
    assert!(rows <= csv_io::MAX_ROWS);
    if errors.is_empty() {
        assert!(!people.is_empty(), "a file without rows and without errors");
    }
    for p in &people {
        assert!((2..=lines).contains(&p.at.row), "row on line {}", p.at.row);
        registrant_checks(&p.form);
        for (at, dependent) in &p.dependents {
            assert!(at.row > p.at.row && at.row <= lines);
            dependent_checks(dependent);
        }
    }
}

/// A registrant form checked: valid means its number (if any) is a checked one and no free
/// text holds a number; a refused number never echoes the digits typed.
fn registrant_checks(form: &RegistrantForm) {
    match registrants::validate(form, &[], TODAY, 7) {
        Ok(valid) => {
            if let Some(n) = &valid.number {
                assert!(is_valid_number(n.expose()));
            }
            assert!(!holds_my_number(&valid.note), "備考 holds a number");
            assert!(
                !holds_my_number(&valid.names.name()),
                "a name holds a number"
            );
            if let Some(d) = valid.birth_date {
                date_round_trips(d);
            }
        }
        Err(errors) => no_number_echoed(&errors, &form.number_input()),
    }
}

fn dependent_checks(form: &dependents::DependentForm) {
    match dependents::validate(form, TODAY) {
        Ok(valid) => {
            if let Some(n) = &valid.number {
                assert!(is_valid_number(n.expose()));
            }
        }
        Err(errors) => no_number_echoed(
            &errors,
            &format!("{}{}{}", form.number1, form.number2, form.number3),
        ),
    }
}

fn no_number_echoed(errors: &[(&'static str, String)], typed: &str) {
    let digits = typed_digits(typed);
    if digits.len() >= 4 {
        for (field, message) in errors {
            assert!(
                *field != "number" || !message.contains(&digits),
                "the number's error echoes it"
            );
        }
    }
}

/// The form decoders: the first byte picks a form, the rest is its urlencoded body, decoded
/// as axum's `Form` decodes it (serde_urlencoded) and then checked by the form's own rules.
/// Decoding may refuse a body (axum answers 4xx) but never panics; what the rules accept
/// holds only checked numbers.
pub fn forms(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
        serde_urlencoded::from_bytes(body).ok()
    }
    match which % 8 {
        0 => {
            if let Some(f) = decode::<RegistrantForm>(body) {
                registrant_checks(&f);
            }
        }
        1 => {
            // As the 入力確認 flow posts it: the form flattened into the flow's own fields.
            if let Some(p) = decode::<crate::web::confirm::Posted<RegistrantForm>>(body) {
                registrant_checks(&p.form);
            }
        }
        2 => {
            if let Some(f) = decode::<dependents::DependentForm>(body) {
                dependent_checks(&f);
            }
        }
        3 => {
            if let Some(p) = decode::<crate::web::confirm::Posted<dependents::DependentForm>>(body)
            {
                dependent_checks(&p.form);
            }
        }
        4 => {
            if let Some(f) = decode::<OwnForm>(body) {
                if let Ok(own) = steps::validate_own(&f, TODAY, false) {
                    assert!(own.number.is_some_and(|n| is_valid_number(n.expose())));
                    assert!(own.birth_date <= TODAY);
                }
            }
        }
        5 => {
            if let Some(f) = decode::<PhoneDependentForm>(body) {
                if let Ok(valid) = steps::validate_dependent(&f, TODAY, false) {
                    assert!(valid.number.is_some_and(|n| is_valid_number(n.expose())));
                }
            }
        }
        6 => {
            let _ = decode::<steps::LoginForm>(body);
            let _ = decode::<crate::web::auth::SignupForm>(body);
        }
        _ => {
            let _ = decode::<crate::web::audit_log::Search>(body);
        }
    }
}

#[cfg(test)]
#[path = "fuzzing_tests.rs"]
mod tests;
