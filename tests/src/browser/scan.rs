//! The plaintext scan: after a journey, no number typed in it and no image bytes may be found
//! in clear in anything the product left behind — the data dir (every file, raw bytes, SQLite
//! and its journal included), the server's log, the outbox, the addresses the browser visited.
//!
//! It searches bytes, not text: a needle is found wherever it sits in a file, compressed or
//! sealed data aside (that is the point). It does not decrypt anything, and it cannot tell a
//! number split over two places; the product stores numbers only sealed, so either would be
//! a failure of the sealing that this scan is here to catch in its simplest form.

use std::path::{Path, PathBuf};

/// One thing that must not be found, and where it counts.
#[derive(Clone, Debug)]
pub struct Needle {
    pub name: String,
    pub bytes: Vec<u8>,
    /// Only at the start of a file (a 3-byte magic found anywhere in megabytes of sealed,
    /// random-looking bytes would be chance, not a leak).
    pub at_start: bool,
}

impl Needle {
    pub fn anywhere(name: &str, bytes: impl Into<Vec<u8>>) -> Needle {
        Needle {
            name: name.into(),
            bytes: bytes.into(),
            at_start: false,
        }
    }

    /// A number as typed (ASCII digits) and in full-width digits (UTF-8), as the form accepts.
    pub fn number(label: &str, number: &str) -> Vec<Needle> {
        let wide: String = number
            .chars()
            .map(|c| {
                c.to_digit(10)
                    .and_then(|d| char::from_u32(0xFF10 + d))
                    .unwrap_or(c)
            })
            .collect();
        vec![
            Needle::anywhere(&format!("{label} (ASCII)"), number.as_bytes()),
            Needle::anywhere(&format!("{label} (full-width)"), wide.as_bytes()),
        ]
    }

    /// The signatures of an image in clear: PNG's 8-byte signature anywhere, a JPEG's JFIF or
    /// Exif header anywhere and its 3-byte magic at the start of a file. Each needle found
    /// anywhere is long enough not to turn up by chance in megabytes of sealed bytes: four
    /// bytes (the Exif segment's marker) did once in a CI run (about 1 in 700 by the odds).
    pub fn image_signatures() -> Vec<Needle> {
        vec![
            Needle::anywhere(
                "PNG signature",
                [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
            ),
            Needle::anywhere("JPEG JFIF header", *b"\xFF\xD8\xFF\xE0\x00\x10JFIF"),
            Needle::anywhere("JPEG Exif header", *b"Exif\x00\x00"),
            Needle {
                name: "JPEG magic at a file's start".into(),
                bytes: vec![0xFF, 0xD8, 0xFF],
                at_start: true,
            },
        ]
    }

    /// Distinctive chunks (64 bytes from a third and from two thirds in) of a test file.
    pub fn chunks_of(label: &str, file: &[u8]) -> Vec<Needle> {
        [file.len() / 3, file.len() * 2 / 3]
            .into_iter()
            .filter(|&at| at + 64 <= file.len())
            .map(|at| Needle::anywhere(&format!("{label} bytes at {at}"), &file[at..at + 64]))
            .collect()
    }
}

/// A needle found: which, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub needle: String,
    pub place: String,
}

/// Searches `bytes` (named `place`) for every needle.
pub fn scan_bytes(place: &str, bytes: &[u8], needles: &[Needle], found: &mut Vec<Finding>) {
    for needle in needles {
        let hit = if needle.at_start {
            bytes.starts_with(&needle.bytes)
        } else {
            !needle.bytes.is_empty() && bytes.windows(needle.bytes.len()).any(|w| w == needle.bytes)
        };
        if hit {
            found.push(Finding {
                needle: needle.name.clone(),
                place: place.to_string(),
            });
        }
    }
}

/// Every file under `dir`, recursively (symbolic links not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Searches every file under `dir` for every needle.
pub fn scan_dir(dir: &Path, needles: &[Needle], found: &mut Vec<Finding>) -> usize {
    let files = files_under(dir);
    for file in &files {
        if let Ok(bytes) = std::fs::read(file) {
            scan_bytes(&file.display().to_string(), &bytes, needles, found);
        }
    }
    files.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBER: &str = "621498320257";

    fn needles() -> Vec<Needle> {
        let mut n = Needle::number("number", NUMBER);
        n.extend(Needle::image_signatures());
        n
    }

    #[test]
    fn scan_finds_a_number_when_a_nested_file_holds_it_in_clear() {
        // Given a data dir whose SQLite-like file holds the number among other bytes
        let dir = crate::TempDir::new("scan");
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(
            dir.path().join("a/b/myna.sqlite"),
            [&[0u8, 1, 2][..], NUMBER.as_bytes(), &[9]].concat(),
        )
        .unwrap();
        std::fs::write(dir.path().join("clean"), b"nothing here 62149832025").unwrap();
        // When it is scanned
        let mut found = Vec::new();
        let files = scan_dir(dir.path(), &needles(), &mut found);
        // Then the planted number is named with its file, and the clean file is not
        assert_eq!(files, 2);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].needle, "number (ASCII)");
        assert!(found[0].place.ends_with("a/b/myna.sqlite"));
    }

    #[test]
    fn scan_finds_the_full_width_form_when_a_log_holds_it() {
        let mut found = Vec::new();
        scan_bytes(
            "log",
            "登録 ６２１４９８３２０２５７ 完了".as_bytes(),
            &needles(),
            &mut found,
        );
        assert_eq!(
            found,
            vec![Finding {
                needle: "number (full-width)".into(),
                place: "log".into()
            }]
        );
    }

    #[test]
    fn scan_finds_image_bytes_when_a_file_holds_an_image_in_clear() {
        // Given a PNG inside a file, a JPEG as a file, and a test file's chunk in a third
        let png = [
            &b"xx"[..],
            &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
            &[0u8; 10],
        ]
        .concat();
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xDB][..], &[1u8; 100]].concat();
        let original: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut needles = needles();
        needles.extend(Needle::chunks_of("photo", &original));
        let copy = [&[5u8; 50][..], &original[150..450]].concat();
        // When each is scanned
        let mut found = Vec::new();
        scan_bytes("png", &png, &needles, &mut found);
        scan_bytes("jpeg", &jpeg, &needles, &mut found);
        scan_bytes("copy", &copy, &needles, &mut found);
        // Then each is found
        let names: Vec<&str> = found.iter().map(|f| f.needle.as_str()).collect();
        assert_eq!(
            names,
            [
                "PNG signature",
                "JPEG magic at a file's start",
                "photo bytes at 200"
            ]
        );
    }

    #[test]
    fn scan_finds_nothing_when_a_jpeg_magic_sits_inside_sealed_bytes() {
        // A 3-byte magic inside random-looking bytes is chance, not an image in clear.
        let sealed = [&[7u8; 20][..], &[0xFF, 0xD8, 0xFF, 0xE1], &[8u8; 20]].concat();
        let mut found = Vec::new();
        scan_bytes("blob", &sealed, &needles(), &mut found);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn scan_finds_an_exif_header_when_a_file_holds_a_camera_jpeg_in_clear() {
        // A phone camera's JPEG: SOI, then the APP1 segment with its length and "Exif\0\0".
        let photo = [
            &[1u8; 10][..],
            &[0xFF, 0xD8, 0xFF, 0xE1, 0x12, 0x34],
            b"Exif\x00\x00",
            &[2u8; 10],
        ]
        .concat();
        let mut found = Vec::new();
        scan_bytes("blob", &photo, &needles(), &mut found);
        assert!(
            found.iter().any(|f| f.needle == "JPEG Exif header"),
            "{found:?}"
        );
    }
}
