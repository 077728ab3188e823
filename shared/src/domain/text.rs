//! Character normalisation helpers shared by the domain parsers, and the one check every
//! free-text field passes: no My Number in it.
//!
//! Limits: only the folds the domain needs (full-width ASCII variants to
//! ASCII, blank and hyphen detection). No general Unicode normalisation.

use super::my_number::check_digit;

/// Folds a full-width ASCII variant (U+FF01..=U+FF5E, e.g. `０`, `Ａ`, `／`)
/// to its ASCII counterpart and U+3000 (ideographic space) to an ASCII space.
/// Every other character is returned unchanged.
pub(super) fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// ASCII space, tab or U+3000 ideographic space.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{3000}')
}

/// Characters users type (or IMEs produce) in place of a hyphen.
pub(super) fn is_hyphen_like(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'
            | '\u{2011}'
            | '\u{2012}'
            | '\u{2013}'
            | '\u{2014}'
            | '\u{2212}'
            | '\u{FF0D}'
            | '\u{30FC}'
            | '\u{FF70}'
    )
}

/// A free-text field (備考, a message, a reason, a group name, …) that holds a My Number.
/// Free text is stored and shown in clear, and often mailed; a number must only ever go
/// into a number field, where it is sealed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}にマイナンバー（12桁の個人番号）が含まれています。マイナンバーはこの欄に書かず、マイナンバーの入力欄に入力してください。")]
pub struct HoldsMyNumber(pub String);

/// Refuses `text` if it holds a valid My Number (see [`holds_my_number`]); `label` names the
/// field in the message.
pub fn refuse_my_number(label: &str, text: &str) -> Result<(), HoldsMyNumber> {
    if holds_my_number(text) {
        Err(HoldsMyNumber(label.to_string()))
    } else {
        Ok(())
    }
}

/// Whether `text` holds a valid My Number: 12 digits (ASCII or full-width) with a right check
/// digit, written as one group or as consecutive groups split by blanks or hyphens
/// (`NNNN NNNN NNNN`, `NNNN-NNNN-NNNN`). A longer unbroken run (a 13-digit 法人番号) is not
/// one, nor are 12 digits whose check digit fails, so ordinary numbers in text still pass.
pub fn holds_my_number(text: &str) -> bool {
    // Digit groups of the current run: blanks and hyphens split groups, anything else ends
    // the run.
    let mut run: Vec<Vec<u8>> = Vec::new();
    let mut group: Vec<u8> = Vec::new();
    fn ended(run: &mut Vec<Vec<u8>>, group: &mut Vec<u8>, end_run: bool) -> bool {
        if !group.is_empty() {
            run.push(std::mem::take(group));
        }
        let found = end_run && run_holds_number(run);
        if end_run {
            run.clear();
        }
        found
    }
    for c in text.chars() {
        let c = fold_fullwidth(c);
        if c.is_ascii_digit() {
            group.push(c as u8 - b'0');
        } else if is_blank(c) || is_hyphen_like(c) {
            ended(&mut run, &mut group, false);
        } else if ended(&mut run, &mut group, true) {
            return true;
        }
    }
    ended(&mut run, &mut group, true)
}

/// Some consecutive groups of the run add up to exactly 12 digits forming a valid number.
fn run_holds_number(run: &[Vec<u8>]) -> bool {
    (0..run.len()).any(|start| {
        let mut digits: Vec<u8> = Vec::with_capacity(12);
        for g in &run[start..] {
            digits.extend_from_slice(g);
            if digits.len() >= 12 {
                break;
            }
        }
        digits.len() == 12 && {
            let mut first11 = [0u8; 11];
            first11.copy_from_slice(&digits[..11]);
            check_digit(&first11) == digits[11]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_my_number_is_true_when_a_valid_number_is_written_in_any_spelling() {
        for text in [
            "621498320257",
            "番号は621498320257です",
            "6214 9832 0257",
            "6214-9832-0257",
            "６２１４－９８３２－０２５７",
            "6214\u{3000}9832\u{3000}0257",
            "電話 03-1234-5678、番号 6214 9832 0257",
            "6214 9832 0257 6214 9832 0257",
            "621498320257\n次の行",
        ] {
            assert!(holds_my_number(text), "{text}");
        }
    }

    #[test]
    fn holds_my_number_is_false_when_digits_are_not_a_valid_number() {
        for text in [
            "",
            "2026年4月1日入社",
            "電話 03-1234-5678",
            "621498320258",
            "6214983202",
            "1621498320257",
            "T6214983202571",
            "62149832025",
        ] {
            assert!(!holds_my_number(text), "{text}");
        }
    }

    #[test]
    fn refuse_my_number_names_the_field_when_it_holds_a_number() {
        assert_eq!(
            refuse_my_number("備考", "6214 9832 0257").unwrap_err().to_string(),
            "備考にマイナンバー（12桁の個人番号）が含まれています。マイナンバーはこの欄に書かず、マイナンバーの入力欄に入力してください。"
        );
        assert_eq!(refuse_my_number("備考", "扶養家族あり"), Ok(()));
    }

    #[test]
    fn fold_fullwidth_returns_ascii_when_fullwidth_variant() {
        let cases = [
            ('０', '0'),
            ('９', '9'),
            ('Ａ', 'A'),
            ('ｚ', 'z'),
            ('／', '/'),
            ('\u{3000}', ' '),
        ];
        for (input, expected) in cases {
            assert_eq!(fold_fullwidth(input), expected, "{input}");
        }
    }

    #[test]
    fn fold_fullwidth_returns_same_char_when_not_fullwidth() {
        for c in ['1', 'a', '年', 'ー', '-'] {
            assert_eq!(fold_fullwidth(c), c);
        }
    }

    #[test]
    fn is_hyphen_like_returns_true_when_dash_variant() {
        for c in ['-', '‐', '‑', '‒', '–', '—', '−', '－', 'ー', 'ｰ'] {
            assert!(is_hyphen_like(c), "{c:?}");
        }
        assert!(!is_hyphen_like('_'));
    }
}
