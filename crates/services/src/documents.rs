//! Materials an applicant uploads: images and PDF only, recognised by their content (never
//! by the name or the type the browser claims), and size-limited.

use zhucan_core::localized;

/// The largest upload accepted, 10 MiB: a phone photo or a scanned page fits.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Jpeg,
    Png,
    Pdf,
}

impl DocumentKind {
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }

    /// The kind the leading bytes (magic numbers) say.
    pub fn sniff(bytes: &[u8]) -> Option<DocumentKind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; the most is {max} bytes (10 MB)")]
    TooLarge { size: usize, max: usize },
    #[error("the file is not a JPEG or PNG image or a PDF (by its content)")]
    UnknownType,
}

impl DocumentError {
    fn zh(&self) -> String {
        match self {
            Self::Empty => "文件是空的".to_owned(),
            Self::TooLarge { size, max } => {
                format!("文件大小为 {size} 字节，超过上限 {max} 字节（10 MB）")
            }
            Self::UnknownType => "文件内容不是 JPEG、PNG 图片或 PDF".to_owned(),
        }
    }
}

localized!(DocumentError);

/// The kind of an upload, or why it is refused.
pub fn check_document(bytes: &[u8]) -> Result<DocumentKind, DocumentError> {
    if bytes.is_empty() {
        return Err(DocumentError::Empty);
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge {
            size: bytes.len(),
            max: MAX_DOCUMENT_BYTES,
        });
    }
    DocumentKind::sniff(bytes).ok_or(DocumentError::UnknownType)
}

#[cfg(test)]
mod tests {
    use zhucan_core::Lang;

    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(check_document(b"%PDF-1.7\n..."), Ok(DocumentKind::Pdf));
        assert_eq!(
            check_document(b"\x89PNG\r\n\x1a\n\0\0"),
            Ok(DocumentKind::Png)
        );
        assert_eq!(
            check_document(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Ok(DocumentKind::Jpeg)
        );
        assert_eq!(
            check_document(b"MZ\x90\0 an executable"),
            Err(DocumentError::UnknownType)
        );
        assert_eq!(check_document(b""), Err(DocumentError::Empty));
        let big = vec![b'%'; MAX_DOCUMENT_BYTES + 1];
        assert!(matches!(
            check_document(&big),
            Err(DocumentError::TooLarge { .. })
        ));
        assert!(DocumentError::UnknownType.message(Lang::Zh).contains("PDF"));
    }
}
