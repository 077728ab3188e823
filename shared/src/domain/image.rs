//! Document images (番号確認・身元確認): which files are accepted, decided by content, never by
//! name or declared type. JPEG, PNG and GIF up to 4 MB.

/// Largest accepted image, in bytes (4 MB).
pub const MAX_IMAGE_BYTES: u64 = 4 * 1024 * 1024;

/// Bytes needed to recognise every accepted format.
pub const SNIFF_BYTES: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
        }
    }

    pub fn from_content_type(ct: &str) -> Option<ImageKind> {
        match ct {
            "image/jpeg" => Some(ImageKind::Jpeg),
            "image/png" => Some(ImageKind::Png),
            "image/gif" => Some(ImageKind::Gif),
            _ => None,
        }
    }
}

/// The format the first bytes announce (magic numbers), if accepted.
pub fn sniff(head: &[u8]) -> Option<ImageKind> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(ImageKind::Png)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(ImageKind::Gif)
    } else {
        None
    }
}

/// Why an uploaded file was refused (Japanese, for the page).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("画像が見つかりません。もう一度アップロードしてください。")]
    Missing,
    #[error("画像のサイズが大きすぎます（4MBまで）。")]
    TooLarge,
    #[error("画像の形式に対応していません（JPEG・PNG・GIFのみ）。")]
    NotAnImage,
}

/// Checks a stored upload from its size and first bytes.
pub fn check(size: u64, head: &[u8]) -> Result<ImageKind, ImageError> {
    if size > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge);
    }
    sniff(head).ok_or(ImageError::NotAnImage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_recognises_only_accepted_formats_by_content() {
        let cases: &[(&[u8], Option<ImageKind>)] = &[
            (&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], Some(ImageKind::Jpeg)),
            (
                &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
                Some(ImageKind::Png),
            ),
            (b"GIF89a..", Some(ImageKind::Gif)),
            (b"GIF87a..", Some(ImageKind::Gif)),
            (b"%PDF-1.7", None),
            (b"<svg xml", None),
            (&[0x00, 0x00, 0x00, 0x18, b'f', b't', b'y', b'p'], None), // HEIC: converted in the page
            (&[], None),
        ];
        for (head, want) in cases {
            assert_eq!(sniff(head), *want, "{head:?}");
        }
    }

    #[test]
    fn check_refuses_files_over_4mb_even_when_images() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0];
        assert_eq!(check(MAX_IMAGE_BYTES, &jpeg), Ok(ImageKind::Jpeg));
        assert_eq!(check(MAX_IMAGE_BYTES + 1, &jpeg), Err(ImageError::TooLarge));
        assert_eq!(check(10, b"hello"), Err(ImageError::NotAnImage));
    }
}

/// The two document images of a person (manual ch.6, 8): 番号確認 and 身元確認.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// 番号確認 (`documents::NUMBER_PROOF`).
    NumberProof,
    /// 身元確認 (`documents::IDENTITY_PHOTO`, `IDENTITY_NO_PHOTO`).
    IdentityProof,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 2] = [DocumentKind::NumberProof, DocumentKind::IdentityProof];

    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::NumberProof => "number_proof",
            DocumentKind::IdentityProof => "identity_proof",
        }
    }

    pub fn from_code(code: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::NumberProof => "番号確認書類",
            DocumentKind::IdentityProof => "身元確認書類",
        }
    }

    /// The documents that serve, in one line (from [`super::documents`], the lists' one place).
    pub fn accepted(self) -> &'static str {
        static NUMBER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "{}のいずれか1点（個人番号通知書は使えません）",
                super::documents::names_with_conditions(super::documents::NUMBER_PROOF)
            )
        });
        static IDENTITY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "顔写真付きの{}のいずれか1点、または{}のうち2点",
                super::documents::names(super::documents::IDENTITY_PHOTO),
                super::documents::names(super::documents::IDENTITY_NO_PHOTO)
            )
        });
        match self {
            DocumentKind::NumberProof => NUMBER.as_str(),
            DocumentKind::IdentityProof => IDENTITY.as_str(),
        }
    }
}
