//! The encodings of a CSV download, shared by every download the product offers (registrants,
//! the operation log, 取扱状況): Shift_JIS (CP932) for Excel with Windows' look-alike
//! characters, or UTF-8 with a BOM. A leaf: it knows bytes and text, nothing of the records.

use std::borrow::Cow;

use crate::app::InfraError;

/// The encoding of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Cp932,
    Utf8Bom,
}

impl Encoding {
    pub fn from_code(code: &str) -> Encoding {
        if code == "utf8" {
            Encoding::Utf8Bom
        } else {
            Encoding::Cp932
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Cp932 => "text/csv; charset=Shift_JIS",
            Encoding::Utf8Bom => "text/csv; charset=UTF-8",
        }
    }
}

/// Characters CP932 has no code for, but a look-alike Windows writes in their place (what
/// Excel and Windows' own conversion do): 〜 − — ‖ ¢ £ ¬ become ～ － ― ∥ ￠ ￡ ￢.
const CP932_LOOKALIKES: [(char, char); 7] = [
    ('\u{301C}', '\u{FF5E}'),
    ('\u{2212}', '\u{FF0D}'),
    ('\u{2014}', '\u{2015}'),
    ('\u{2016}', '\u{2225}'),
    ('\u{00A2}', '\u{FFE0}'),
    ('\u{00A3}', '\u{FFE1}'),
    ('\u{00AC}', '\u{FFE2}'),
];

/// The look-alike CP932 writes for `c`, or `c` itself.
fn lookalike(c: char) -> char {
    CP932_LOOKALIKES
        .iter()
        .find(|(from, _)| *from == c)
        .map_or(c, |(_, to)| *to)
}

/// A text with the look-alikes of [`CP932_LOOKALIKES`] swapped in, ready for CP932 (copied
/// only when it holds one: a download encodes megabytes of text that almost never does).
pub fn cp932_lookalikes(text: &str) -> Cow<'_, str> {
    if text.contains(|c| CP932_LOOKALIKES.iter().any(|(from, _)| *from == c)) {
        Cow::Owned(text.chars().map(lookalike).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Text in CP932, look-alikes swapped in; `None` if a character still has no code.
pub fn encode_cp932(text: &str) -> Option<Vec<u8>> {
    let text = cp932_lookalikes(text);
    let (out, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    (!bad).then(|| out.into_owned())
}

/// Whether CP932 holds every character of a text (look-alikes swapped in), without writing
/// it: the check a download makes on every cell before its first byte.
pub fn fits_cp932(text: &str) -> bool {
    text.is_ascii() || text.chars().all(char_fits_cp932)
}

/// Whether CP932 has a code for one character (or for its look-alike).
pub fn char_fits_cp932(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    let mut utf8 = [0u8; 4];
    let mut out = [0u8; 8];
    let mut encoder = encoding_rs::SHIFT_JIS.new_encoder();
    let (result, _, _) = encoder.encode_from_utf8_without_replacement(
        lookalike(c).encode_utf8(&mut utf8),
        &mut out,
        true,
    );
    result == encoding_rs::EncoderResult::InputEmpty
}

/// UTF-8 CSV bytes in a download's `encoding`: a BOM before the `first` piece of a UTF-8
/// file, or CP932 (`InfraError::Corrupt` when a character has no CP932 form).
pub fn encode_download(
    bytes: Vec<u8>,
    encoding: Encoding,
    first: bool,
) -> Result<Vec<u8>, InfraError> {
    Ok(match encoding {
        Encoding::Utf8Bom if first => [b"\xEF\xBB\xBF".as_slice(), &bytes].concat(),
        Encoding::Utf8Bom => bytes,
        Encoding::Cp932 => {
            let text = String::from_utf8(bytes).map_err(|_| InfraError::Task)?;
            let encoded = {
                let swapped = cp932_lookalikes(&text);
                match encoding_rs::SHIFT_JIS.encode(&swapped) {
                    (_, _, true) => {
                        return Err(InfraError::Corrupt("text not representable in CP932"))
                    }
                    // ASCII only: the bytes are already CP932, no copy needed.
                    (Cow::Borrowed(_), _, _) if matches!(swapped, Cow::Borrowed(_)) => None,
                    (out, _, _) => Some(out.into_owned()),
                }
            };
            encoded.unwrap_or_else(|| text.into_bytes())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_cp932_accepts_ascii_kanji_and_look_alikes_and_refuses_what_has_no_code() {
        for ok in ["", "E0001", "山田 太郎", "ヤマダ", "〜−—‖¢£¬", "①髙"] {
            assert!(fits_cp932(ok), "{ok}");
        }
        for bad in ["𠮷田", "a\u{1F600}", "\u{00E9}"] {
            assert!(!fits_cp932(bad), "{bad}");
        }
        assert!(char_fits_cp932('〜') && !char_fits_cp932('𠮷'));
    }

    #[test]
    fn encode_download_writes_cp932_with_look_alikes_and_refuses_what_has_no_code() {
        let ascii = b"a,b\r\n1,2\r\n".to_vec();
        assert_eq!(
            encode_download(ascii.clone(), Encoding::Cp932, true).unwrap(),
            ascii
        );
        let kana = "ア〜".as_bytes().to_vec();
        assert_eq!(
            encode_download(kana, Encoding::Cp932, false).unwrap(),
            encoding_rs::SHIFT_JIS.encode("ア～").0.into_owned()
        );
        assert!(encode_download("𠮷".as_bytes().to_vec(), Encoding::Cp932, false).is_err());
        assert_eq!(
            encode_download(b"x".to_vec(), Encoding::Utf8Bom, true).unwrap(),
            b"\xEF\xBB\xBFx"
        );
    }
}
