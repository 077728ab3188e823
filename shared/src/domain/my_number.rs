//! The individual number (マイナンバー / 個人番号) value type.
//!
//! Parses user input (full-width digits, spaces and hyphen-like characters are
//! tolerated), validates length and the check digit defined in
//! 平成26年総務省令第85号 第5条, and keeps the digits out of `Debug`/`Display`
//! output so they cannot leak into logs.
//!
//! Limits: this type does not encrypt, store or audit anything; it also cannot
//! tell whether a number was actually issued to a person (only that it is
//! well-formed). Memory is not zeroised on drop.

use std::fmt;
use std::str::FromStr;

use super::text::{fold_fullwidth, is_blank, is_hyphen_like};

/// Check-digit weights for the first 11 digits, left to right
/// (総務省令第85号 第5条: Pn = n + 1 for 1 <= n <= 6, n - 5 for 7 <= n <= 11,
/// where n counts from the right).
const WEIGHTS: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// A validated 12-digit individual number, stored as ASCII digits.
///
/// `Debug` and `Display` only ever print the masked form (`********0257`).
#[derive(Clone, PartialEq, Eq)]
pub struct MyNumber([u8; 12]);

/// Why an input is not a valid individual number. Messages never echo the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MyNumberError {
    #[error("マイナンバーを入力してください。")]
    Empty,
    #[error("マイナンバーは数字で入力してください。")]
    InvalidCharacter,
    #[error("マイナンバーは12桁で入力してください（入力は{0}桁）。")]
    WrongLength(usize),
    #[error("マイナンバーが正しくありません（チェックデジットが一致しません）。入力内容をご確認ください。")]
    CheckDigit,
}

/// Computes the check digit for the first 11 digits (values 0..=9).
///
/// r = Σ(digit × weight) mod 11; the check digit is 0 when r <= 1, else 11 − r.
pub fn check_digit(first11: &[u8; 11]) -> u8 {
    let sum: u32 = first11
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        // r is in 2..=10, so 11 - r is in 1..=9 and fits in u8.
        (11 - r) as u8
    }
}

impl MyNumber {
    /// Parses user input into a validated number.
    ///
    /// Normalisation: full-width digits become ASCII; ASCII spaces, tabs,
    /// U+3000 and hyphen-like characters are removed. The result must be
    /// exactly 12 ASCII digits whose last digit is the check digit.
    pub fn parse(input: &str) -> Result<MyNumber, MyNumberError> {
        let mut digits: Vec<u8> = Vec::with_capacity(12);
        let mut invalid = false;
        for c in input.chars() {
            if is_blank(c) || is_hyphen_like(c) {
                continue;
            }
            let c = fold_fullwidth(c);
            if c.is_ascii_digit() {
                // ASCII digit: the char fits in one byte.
                digits.push(c as u8);
            } else {
                invalid = true;
            }
        }
        if digits.is_empty() && !invalid {
            return Err(MyNumberError::Empty);
        }
        if invalid {
            return Err(MyNumberError::InvalidCharacter);
        }
        let bytes: [u8; 12] = digits
            .as_slice()
            .try_into()
            .map_err(|_| MyNumberError::WrongLength(digits.len()))?;

        let mut first11 = [0u8; 11];
        for (value, byte) in first11.iter_mut().zip(bytes.iter()) {
            *value = byte - b'0';
        }
        if check_digit(&first11) != bytes[11] - b'0' {
            return Err(MyNumberError::CheckDigit);
        }
        Ok(MyNumber(bytes))
    }

    /// The full 12 digits.
    ///
    /// **Sensitive.** Callers must only use this to seal (encrypt) the number
    /// or to show it to an authorised user who has declared a usage purpose
    /// (and the access must be audited by the caller). Never log it.
    pub fn expose(&self) -> &str {
        // The constructor only stores ASCII digits, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The last four digits (safe to display in lists).
    pub fn last4(&self) -> &str {
        std::str::from_utf8(&self.0[8..]).unwrap_or_default()
    }

    /// The masked form, e.g. `********0257`.
    pub fn masked(&self) -> String {
        format!("********{}", self.last4())
    }
}

impl FromStr for MyNumber {
    type Err = MyNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MyNumber::parse(s)
    }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: [&str; 4] = [
        "621498320257",
        "123456789018",
        "123456789000",
        "123456789050",
    ];

    fn to_fullwidth(s: &str) -> String {
        s.chars()
            .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c))
            .collect()
    }

    #[test]
    fn parse_succeeds_when_valid_number() {
        for input in VALID {
            let n = MyNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.expose(), input);
        }
    }

    #[test]
    fn parse_succeeds_when_fullwidth_digits() {
        for input in VALID {
            let n = MyNumber::parse(&to_fullwidth(input)).unwrap();
            assert_eq!(n.expose(), input);
        }
    }

    #[test]
    fn parse_succeeds_when_hyphenated_or_spaced() {
        for input in VALID {
            let (a, rest) = input.split_at(4);
            let (b, c) = rest.split_at(4);
            let forms = [
                format!("{a}-{b}-{c}"),
                format!("{a} {b} {c}"),
                format!(" {a}\t{b}\u{3000}{c} "),
                format!("{a}‐{b}‑{c}"),
                format!("{a}‒{b}–{c}"),
                format!("{a}—{b}−{c}"),
                format!("{a}－{b}ー{c}"),
                format!("{a}ｰ{b}ｰ{c}"),
                format!(
                    "{}－{}－{}",
                    to_fullwidth(a),
                    to_fullwidth(b),
                    to_fullwidth(c)
                ),
            ];
            for form in forms {
                let n = MyNumber::parse(&form).unwrap_or_else(|e| panic!("{form}: {e}"));
                assert_eq!(n.expose(), input, "{form}");
            }
        }
    }

    #[test]
    fn parse_fails_with_check_digit_when_last_digit_changed() {
        for d in b'0'..=b'9' {
            if d == b'7' {
                continue;
            }
            let input = format!("62149832025{}", d as char);
            assert_eq!(
                MyNumber::parse(&input),
                Err(MyNumberError::CheckDigit),
                "{input}"
            );
        }
    }

    #[test]
    fn parse_fails_with_wrong_length_when_not_12_digits() {
        let cases = [
            ("1", 1),
            ("62149832025", 11),
            ("6214983202570", 13),
            ("1234-5678-901", 11),
            ("12345678901234567890", 20),
        ];
        for (input, len) in cases {
            assert_eq!(
                MyNumber::parse(input),
                Err(MyNumberError::WrongLength(len)),
                "{input}"
            );
        }
    }

    #[test]
    fn parse_fails_with_invalid_character_when_non_digit() {
        for input in [
            "62149832025a",
            "abcdefghijkl",
            "6214_9832_0257",
            "６２１４９８３２０２５Ａ",
            "621498320257.",
            "一二三",
        ] {
            assert_eq!(
                MyNumber::parse(input),
                Err(MyNumberError::InvalidCharacter),
                "{input}"
            );
        }
    }

    #[test]
    fn parse_fails_with_empty_when_blank() {
        for input in ["", "   ", "\u{3000}", "- -"] {
            assert_eq!(
                MyNumber::parse(input),
                Err(MyNumberError::Empty),
                "{input:?}"
            );
        }
    }

    #[test]
    fn check_digit_matches_when_known_numbers() {
        let cases: [([u8; 11], u8); 4] = [
            ([6, 2, 1, 4, 9, 8, 3, 2, 0, 2, 5], 7),
            ([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1], 8),
            ([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0], 0),
            ([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 5], 0),
        ];
        for (first11, expected) in cases {
            assert_eq!(check_digit(&first11), expected, "{first11:?}");
        }
    }

    #[test]
    fn masked_returns_stars_and_last4_when_valid() {
        let n = MyNumber::parse("621498320257").unwrap();
        assert_eq!(n.masked(), "********0257");
        assert_eq!(n.last4(), "0257");
    }

    #[test]
    fn debug_and_display_hide_digits_when_formatted() {
        for input in VALID {
            let n = MyNumber::parse(input).unwrap();
            let outputs = [
                format!("{n:?}"),
                format!("{n:#?}"),
                format!("{n}"),
                n.to_string(),
                format!("{:?}", Some(n.clone())),
                format!("{:?}", Ok::<_, ()>(vec![n.clone()])),
            ];
            for out in outputs {
                assert!(!out.contains(input), "{out}");
                assert!(!out.contains(&input[..8]), "{out}");
                assert!(out.contains(&n.masked()), "{out}");
            }
        }
    }

    #[test]
    fn error_messages_never_contain_input_when_rejected() {
        for input in ["621498320258", "62149832025", "62149832025x"] {
            let err = MyNumber::parse(input).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains(input), "{text}");
        }
    }

    #[test]
    fn eq_compares_digits_when_parsed_from_different_forms() {
        let a = MyNumber::parse("6214-9832-0257").unwrap();
        let b: MyNumber = "６２１４９８３２０２５７".parse().unwrap();
        assert_eq!(a, b);
        assert_ne!(a, MyNumber::parse("123456789018").unwrap());
    }
}
