//! Unit tests of `my_number`, with the official example numbers (test vectors only).

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
