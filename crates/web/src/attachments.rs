//! Ticket attachments: what a file may be, judged from its bytes, and where
//! its bytes live (`<data dir>/attachments/`, under a name we make).
//!
//! A file is accepted when its content is one of a few harmless kinds
//! (pictures, PDF, office documents, audio, plain text), whatever its name
//! says; HTML, SVG, scripts and programs are refused with the reason. The
//! stored type is the one found in the bytes, and downloads go out as
//! attachments with `nosniff`, so no upload is ever rendered as a page.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Directory under the data dir.
pub const DIR: &str = "attachments";
/// Default largest attachment (bytes), unless `tickets.attachment_max_mb`
/// says otherwise.
pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// What an accepted file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Its MIME type, from its bytes.
    pub content_type: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// Why a file is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Nothing was sent.
    #[error("the file is empty")]
    Empty,
    /// Over the limit.
    #[error("the file is larger than {0} bytes")]
    TooLarge(usize),
    /// A kind that is never accepted (what it is).
    #[error("{0} files are not accepted as attachments")]
    Forbidden(String),
    /// A kind not on the list.
    #[error("files of this kind ({0}) are not accepted: pictures, PDF, office documents, audio and plain text are")]
    Unknown(String),
}

/// MIME types accepted, by what the bytes say.
const ACCEPTED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "audio/x-wav",
    "audio/mpeg",
    "audio/ogg",
    "audio/x-flac",
    "audio/m4a",
    "video/mp4",
];

/// Name endings refused even when the bytes look like text (a browser or
/// a mail client would run or render them).
const FORBIDDEN_NAMES: &[&str] = &[
    ".html", ".htm", ".xhtml", ".svg", ".js", ".mjs", ".xml", ".exe", ".bat", ".cmd", ".com",
    ".scr", ".ps1", ".sh", ".vbs", ".jar", ".msi", ".dll", ".php", ".hta",
];

/// Checks `bytes`, uploaded as `name`, against the rules above.
pub fn check(name: &str, bytes: &[u8], max: usize) -> Result<Checked, Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    if bytes.len() > max {
        return Err(Refused::TooLarge(max));
    }
    let lower = name.to_lowercase();
    if let Some(end) = FORBIDDEN_NAMES.iter().find(|e| lower.ends_with(**e)) {
        return Err(Refused::Forbidden(
            end.trim_start_matches('.').to_uppercase(),
        ));
    }
    let content_type = match infer::get(bytes) {
        Some(kind) if ACCEPTED.contains(&kind.mime_type()) => kind.mime_type().to_string(),
        Some(kind) => {
            let m = kind.mime_type();
            return Err(if m.contains("html") {
                Refused::Forbidden("HTML".into())
            } else if m.contains("xml") || m.contains("svg") {
                Refused::Forbidden("XML/SVG".into())
            } else if m.contains("sh") || m.contains("script") {
                Refused::Forbidden("script".into())
            } else if matches!(kind.matcher_type(), infer::MatcherType::App) {
                Refused::Forbidden(m.to_string())
            } else {
                Refused::Unknown(m.to_string())
            });
        }
        None => {
            // No magic number: plain text (UTF-8, no NUL, nothing that a
            // browser would take for markup) or nothing.
            let text = std::str::from_utf8(bytes)
                .ok()
                .filter(|t| !t.contains('\0'));
            match text {
                Some(t) if looks_like_markup(t) => return Err(Refused::Forbidden("HTML".into())),
                Some(_) => "text/plain; charset=utf-8".to_string(),
                None => return Err(Refused::Unknown("unrecognised binary".into())),
            }
        }
    };
    Ok(Checked {
        content_type,
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// Whether text starts like a web page or a script.
fn looks_like_markup(t: &str) -> bool {
    let head: String = t
        .trim_start()
        .chars()
        .take(256)
        .collect::<String>()
        .to_lowercase();
    [
        "<!doctype",
        "<html",
        "<script",
        "<svg",
        "<?xml",
        "<body",
        "<iframe",
    ]
    .iter()
    .any(|m| head.starts_with(m) || head.contains(&format!("\n{m}")))
}

/// The directory of attachments under `data_dir`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR)
}

/// A new stored name for ticket `ticket`'s file: unguessable, with no part
/// of the user's name in it (so no path or extension tricks).
pub fn stored_name(ticket: i64) -> String {
    let mut r = [0u8; 12];
    // getrandom only fails without an OS source; then time and the ticket
    // still make the name unique enough for one server.
    if getrandom::getrandom(&mut r).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        r[..12].copy_from_slice(&t.to_le_bytes()[..12]);
    }
    format!("t{ticket}-{}.bin", hex::encode(r))
}

/// A download name safe for a Content-Disposition header: the user's name
/// with quotes, slashes and control characters replaced.
pub fn download_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' | '/' | '\r' | '\n' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .take(200)
        .collect();
    if cleaned.trim().is_empty() {
        "attachment".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1024;

    #[test]
    fn pictures_pdf_and_text_are_accepted_by_their_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(check("a.png", png, MAX).unwrap().content_type, "image/png");
        // The name does not matter, the bytes do.
        assert_eq!(
            check("report.txt", b"%PDF-1.4\n...", MAX)
                .unwrap()
                .content_type,
            "application/pdf"
        );
        let t = check("note.txt", "发票号码 123\n".as_bytes(), MAX).unwrap();
        assert_eq!(t.content_type, "text/plain; charset=utf-8");
        assert_eq!(t.sha256.len(), 64);
    }

    #[test]
    fn pages_scripts_and_programs_are_refused_with_the_reason() {
        assert_eq!(
            check("x.html", b"hello", MAX),
            Err(Refused::Forbidden("HTML".into()))
        );
        assert_eq!(
            check("pic.png", b"<svg onload=alert(1)></svg>", MAX),
            Err(Refused::Forbidden("HTML".into()))
        );
        assert_eq!(
            check("notes.txt", b"\n<!DOCTYPE html><script>x</script>", MAX),
            Err(Refused::Forbidden("HTML".into()))
        );
        let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";
        assert!(matches!(
            check("setup.pdf", exe, MAX),
            Err(Refused::Forbidden(_))
        ));
        assert!(matches!(
            check("blob", &[0u8, 1, 2, 3, 0xff, 0xfe], MAX),
            Err(Refused::Unknown(_))
        ));
        assert_eq!(check("a.txt", b"", MAX), Err(Refused::Empty));
        assert_eq!(
            check("a.txt", &vec![b'a'; MAX + 1], MAX),
            Err(Refused::TooLarge(MAX))
        );
    }

    #[test]
    fn stored_and_download_names_carry_no_tricks() {
        let a = stored_name(7);
        assert!(a.starts_with("t7-") && a.ends_with(".bin"));
        assert_ne!(a, stored_name(7));
        assert_eq!(download_name("..\\a\"b/c\r\n.pdf"), ".._a_b_c__.pdf");
        assert_eq!(download_name("  "), "attachment");
        assert_eq!(download_name("发票.pdf"), "发票.pdf");
    }
}
