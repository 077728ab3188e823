//! Search keys for names: what an administrator types should find a registrant whatever the
//! width or kana script. `ヤマダ`, `ﾔﾏﾀﾞ`, `やまだ` and `ｙａｍａｄａ`/`YAMADA` fold to one key;
//! spaces are ignored. Kanji are left as they are (no reading lookup).

use super::text::{fold_fullwidth, is_blank};

/// Half-width katakana (U+FF66..U+FF9D) to full-width, without voicing marks.
const HALF_KANA: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";

fn half_to_full(c: char) -> Option<char> {
    let offset = u32::from(c).checked_sub(0xFF66)?;
    HALF_KANA.chars().nth(offset as usize)
}

/// The voiced (゛) or semi-voiced (゜) form of a full-width katakana, if it has one.
fn voiced(c: char, semi: bool) -> Option<char> {
    let code = u32::from(c);
    let voiceable = |c: char| "カキクケコサシスセソタチツテトハヒフヘホ".contains(c);
    match (semi, c) {
        (false, 'ウ') => Some('ヴ'),
        (false, c) if voiceable(c) => char::from_u32(code + 1),
        (true, c) if "ハヒフヘホ".contains(c) => char::from_u32(code + 2),
        _ => None,
    }
}

/// The folded form used both for stored names and for queries.
pub fn search_key(input: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(input.len());
    for c in input.chars() {
        if is_blank(c) {
            continue;
        }
        let c = fold_fullwidth(c);
        // Half-width voicing marks combine with the previous kana.
        if c == '\u{FF9E}' || c == '\u{FF9F}' || c == '\u{309B}' || c == '\u{309C}' {
            let semi = c == '\u{FF9F}' || c == '\u{309C}';
            if let Some(prev) = out.last_mut() {
                if let Some(v) = voiced(*prev, semi) {
                    *prev = v;
                }
            }
            continue;
        }
        let c = half_to_full(c).unwrap_or(c);
        // Hiragana to katakana (same layout, 0x60 apart).
        let c = match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
            _ => c,
        };
        out.extend(c.to_lowercase());
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_key_folds_width_and_kana_script_when_names_differ_only_in_form() {
        let same = [
            ("ヤマダ タロウ", "やまだたろう"),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
            ("ｶﾞｸ", "ガク"),
            ("ﾊﾟﾝ", "ぱん"),
            ("ｳﾞｨ", "ヴィ"),
            ("ＹＡＭＡＤＡ", "yamada"),
            ("山田　太郎", "山田太郎"),
        ];
        for (a, b) in same {
            assert_eq!(search_key(a), search_key(b), "{a} vs {b}");
        }
        assert_ne!(search_key("ヤマダ"), search_key("ヤマタ"));
    }

    #[test]
    fn search_key_supports_partial_matches() {
        assert!(search_key("ﾔﾏﾀﾞﾀﾛｳ").contains(&search_key("だた")));
    }
}
