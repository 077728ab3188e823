//! Account identity values: customer number (お客様番号), e-mail address and
//! password strength rules.
//!
//! Limits: syntax checks only. No DNS/MX lookups, no delivery test, no
//! breached-password service and no hashing (callers hash passwords). E-mail
//! addresses are restricted to ASCII (full-width ASCII is folded first).

use super::text::fold_fullwidth;

/// Maximum e-mail address length (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;
/// Maximum local-part length (RFC 5321).
pub const EMAIL_LOCAL_MAX_LEN: usize = 64;
/// Minimum password length in characters.
pub const PASSWORD_MIN_LEN: usize = 8;
/// Maximum password length in characters.
pub const PASSWORD_MAX_LEN: usize = 128;

/// Passwords rejected regardless of the other rules (compared case-insensitively).
const COMMON_PASSWORDS: [&str; 16] = [
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword1",
    "qwerty123",
    "qwerty12",
    "abc12345",
    "abcd1234",
    "welcome1",
    "letmein1",
    "iloveyou1",
    "admin123",
    "1qaz2wsx",
    "changeme1",
];

/// A 7-digit customer number whose first digit is not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerNumber(String);

/// Why a customer number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerNumberError {
    #[error("お客様番号を入力してください。")]
    Empty,
    #[error("お客様番号は7桁の数字で入力してください。")]
    Invalid,
}

impl CustomerNumber {
    /// Parses user input; surrounding blanks are trimmed and full-width
    /// digits folded to ASCII.
    pub fn parse(input: &str) -> Result<CustomerNumber, CustomerNumberError> {
        let s: String = input.chars().map(fold_fullwidth).collect();
        let s = s.trim();
        if s.is_empty() {
            return Err(CustomerNumberError::Empty);
        }
        let valid = s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
        if !valid {
            return Err(CustomerNumberError::Invalid);
        }
        Ok(CustomerNumber(s.to_owned()))
    }

    /// The 7 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CustomerNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid, lower-cased e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an e-mail address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("メールアドレスを入力してください。")]
    Empty,
    #[error("メールアドレスは254文字以内で入力してください。")]
    TooLong,
    #[error("メールアドレスの形式が正しくありません。")]
    Invalid,
}

impl Email {
    /// Parses user input: trims, folds full-width ASCII, lower-cases the whole
    /// address and checks the syntax (one `@`, non-empty local part of at
    /// most 64 characters, a dotted domain, no blanks, control characters or
    /// `<>()[],;:"`, ASCII only).
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let folded: String = input.chars().map(fold_fullwidth).collect();
        let address = folded.trim().to_ascii_lowercase();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.len() > EMAIL_MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let forbidden = |c: char| {
            !c.is_ascii()
                || c.is_ascii_control()
                || c.is_whitespace()
                || matches!(
                    c,
                    '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '"' | '\\'
                )
        };
        if address.chars().any(forbidden) {
            return Err(EmailError::Invalid);
        }
        let mut parts = address.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::Invalid);
        };
        let labels_ok = |s: &str| !s.is_empty() && s.split('.').all(|label| !label.is_empty());
        let local_ok = labels_ok(local) && local.len() <= EMAIL_LOCAL_MAX_LEN;
        let domain_ok = labels_ok(domain)
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.starts_with('-') && !label.ends_with('-'))
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !local_ok || !domain_ok {
            return Err(EmailError::Invalid);
        }
        Ok(Email(address))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The part of an e-mail address a password must not contain (its local part, lower-cased),
/// or `None` when it is shorter than 3 characters and the rule does not apply. Forms state
/// the rule with it before the user types.
pub fn password_forbidden_part(email: &str) -> Option<String> {
    let local = email
        .trim()
        .split('@')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    (local.chars().count() >= 3).then_some(local)
}

/// Checks a new password against the policy. On failure returns one Japanese
/// message per failing rule, in a fixed order (length, character classes,
/// e-mail local part, common password).
///
/// Rules: 8..=128 characters; at least one ASCII upper-case letter, one
/// ASCII lower-case letter and one digit; must not contain the e-mail
/// address's local part when it has 3 or more characters (case-insensitive);
/// must not be a well-known password (case-insensitive).
pub fn check_password_strength(password: &str, email: Option<&str>) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let len = password.chars().count();
    if len < PASSWORD_MIN_LEN {
        errors.push(format!(
            "パスワードは{PASSWORD_MIN_LEN}文字以上で入力してください。"
        ));
    }
    if len > PASSWORD_MAX_LEN {
        errors.push(format!(
            "パスワードは{PASSWORD_MAX_LEN}文字以内で入力してください。"
        ));
    }
    let has_upper = password.chars().any(|c| c.is_ascii_uppercase());
    let has_lower = password.chars().any(|c| c.is_ascii_lowercase());
    let has_digit = password.chars().any(|c| c.is_ascii_digit());
    if !(has_upper && has_lower && has_digit) {
        errors.push(
            "パスワードには英大文字・英小文字・数字をそれぞれ1文字以上含めてください。".to_owned(),
        );
    }
    let lowered = password.to_lowercase();
    if let Some(local) = email.and_then(password_forbidden_part) {
        if lowered.contains(&local) {
            errors.push("パスワードにメールアドレスの一部を含めないでください。".to_owned());
        }
    }
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        errors.push(
            "推測されやすいパスワードは使用できません。別のパスワードを設定してください。"
                .to_owned(),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_number_parse_succeeds_when_seven_digits() {
        let cases = [
            ("1234567", "1234567"),
            (" 9000001 ", "9000001"),
            ("１２３４５６７", "1234567"),
            ("\u{3000}1234567", "1234567"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                CustomerNumber::parse(input).unwrap().as_str(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn customer_number_parse_fails_when_invalid() {
        let cases = [
            ("", CustomerNumberError::Empty),
            ("   ", CustomerNumberError::Empty),
            ("0123456", CustomerNumberError::Invalid),
            ("123456", CustomerNumberError::Invalid),
            ("12345678", CustomerNumberError::Invalid),
            ("12345a7", CustomerNumberError::Invalid),
            ("123-4567", CustomerNumberError::Invalid),
            ("123 4567", CustomerNumberError::Invalid),
        ];
        for (input, expected) in cases {
            assert_eq!(CustomerNumber::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn email_parse_normalises_when_valid() {
        let cases = [
            ("taro@example.com", "taro@example.com"),
            ("  Taro.Yamada@Example.CO.JP ", "taro.yamada@example.co.jp"),
            ("a+tag@sub.example.jp", "a+tag@sub.example.jp"),
            ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "taro@example.com"),
            ("o'neil_1@my-host.example", "o'neil_1@my-host.example"),
        ];
        for (input, expected) in cases {
            assert_eq!(Email::parse(input).unwrap().as_str(), expected, "{input}");
        }
    }

    #[test]
    fn email_parse_fails_when_invalid() {
        let long_local = "a".repeat(65);
        let too_long = format!("{}@example.com", "a".repeat(250));
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            (too_long.as_str(), EmailError::TooLong),
            ("taro", EmailError::Invalid),
            ("@example.com", EmailError::Invalid),
            ("taro@", EmailError::Invalid),
            ("taro@localhost", EmailError::Invalid),
            ("taro@@example.com", EmailError::Invalid),
            ("ta@ro@example.com", EmailError::Invalid),
            ("ta ro@example.com", EmailError::Invalid),
            ("taro@exa mple.com", EmailError::Invalid),
            ("taro@example..com", EmailError::Invalid),
            ("taro@.example.com", EmailError::Invalid),
            ("taro@example.com.", EmailError::Invalid),
            (".taro@example.com", EmailError::Invalid),
            ("taro@-example.com", EmailError::Invalid),
            ("taro@exa_mple.com", EmailError::Invalid),
            ("<taro@example.com>", EmailError::Invalid),
            ("taro(x)@example.com", EmailError::Invalid),
            ("taro@[127.0.0.1]", EmailError::Invalid),
            ("a,b@example.com", EmailError::Invalid),
            ("a;b@example.com", EmailError::Invalid),
            ("a:b@example.com", EmailError::Invalid),
            ("\"a\"@example.com", EmailError::Invalid),
            ("ta\u{7}ro@example.com", EmailError::Invalid),
            ("たろう@example.com", EmailError::Invalid),
            ("taro@例え.jp", EmailError::Invalid),
        ];
        for (input, expected) in cases {
            assert_eq!(Email::parse(input), Err(expected), "{input:?}");
        }
        assert_eq!(
            Email::parse(&format!("{long_local}@example.com")),
            Err(EmailError::Invalid)
        );
    }

    #[test]
    fn email_local_part_returns_before_at_when_parsed() {
        assert_eq!(
            Email::parse("Taro@Example.com").unwrap().local_part(),
            "taro"
        );
    }

    #[test]
    fn check_password_strength_succeeds_when_strong() {
        for (password, email) in [
            ("Tokyo2024Spring", None),
            ("aB3aB3aB3", Some("taro@example.com")),
            ("Xy7!Xy7!", Some("ab@example.com")),
        ] {
            assert_eq!(
                check_password_strength(password, email),
                Ok(()),
                "{password}"
            );
        }
    }

    #[test]
    fn check_password_strength_fails_when_rule_broken() {
        const LEN: &str = "パスワードは8文字以上で入力してください。";
        const MAX: &str = "パスワードは128文字以内で入力してください。";
        const CLASSES: &str =
            "パスワードには英大文字・英小文字・数字をそれぞれ1文字以上含めてください。";
        const EMAIL: &str = "パスワードにメールアドレスの一部を含めないでください。";
        const COMMON: &str =
            "推測されやすいパスワードは使用できません。別のパスワードを設定してください。";
        let too_long = format!("Aa1{}", "x".repeat(126));
        let cases: Vec<(&str, Option<&str>, Vec<&str>)> = vec![
            ("Ab1", None, vec![LEN]),
            ("", None, vec![LEN, CLASSES]),
            ("abcdefgh1", None, vec![CLASSES]),
            ("ABCDEFGH1", None, vec![CLASSES]),
            ("Abcdefghi", None, vec![CLASSES]),
            ("ＡＢＣｄｅｆ１２", None, vec![CLASSES]),
            (too_long.as_str(), None, vec![MAX]),
            ("Yamada2024x", Some("YAMADA@example.com"), vec![EMAIL]),
            ("xTaro1234", Some("taro@example.com"), vec![EMAIL]),
            ("Password1", None, vec![COMMON]),
            ("PASSWORD1", None, vec![CLASSES, COMMON]),
            ("Passw0rd", None, vec![COMMON]),
            ("Qwerty123", None, vec![COMMON]),
            ("Abc12345", None, vec![COMMON]),
            ("P@ssw0rd", None, vec![COMMON]),
            ("Password123", None, vec![COMMON]),
            (
                "Password1",
                Some("password@example.com"),
                vec![EMAIL, COMMON],
            ),
        ];
        for (password, email, expected) in cases {
            let expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
            assert_eq!(
                check_password_strength(password, email),
                Err(expected),
                "{password}"
            );
        }
    }

    #[test]
    fn check_password_strength_ignores_local_part_when_shorter_than_3() {
        assert_eq!(
            check_password_strength("Xab12345y", Some("ab@example.com")),
            Ok(())
        );
    }
}
