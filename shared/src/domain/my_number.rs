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
#[path = "tests/my_number.rs"]
mod tests;
