//! The encodings of a CSV download, shared by every download the product offers (registrants,
//! the operation log, 取扱状況): Shift_JIS (CP932) for Excel with Windows' look-alike
//! characters, or UTF-8 with a BOM. A leaf: it knows bytes and text, nothing of the records.

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

/// A text with the look-alikes of [`CP932_LOOKALIKES`] swapped in, ready for CP932.
pub fn cp932_lookalikes(text: &str) -> String {
    text.chars()
        .map(|c| {
            CP932_LOOKALIKES
                .iter()
                .find(|(from, _)| *from == c)
                .map_or(c, |(_, to)| *to)
        })
        .collect()
}

/// Text in CP932, look-alikes swapped in; `None` if a character still has no code.
pub fn encode_cp932(text: &str) -> Option<Vec<u8>> {
    let text = cp932_lookalikes(text);
    let (out, _, bad) = encoding_rs::SHIFT_JIS.encode(&text);
    (!bad).then(|| out.into_owned())
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
            encode_cp932(&text).ok_or(InfraError::Corrupt("text not representable in CP932"))?
        }
    })
}
