//! Character normalisation helpers shared by the domain parsers.
//!
//! Limits: only the folds the domain needs (full-width ASCII variants to
//! ASCII, blank and hyphen detection). No general Unicode normalisation.

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

#[cfg(test)]
mod tests {
    use super::*;

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
