//! Media resources (媒体资源, manual 3.2.5): prompts and music uploaded by
//! admins, referred to by name wherever a prompt or music is set (IVR menu
//! prompts, a queue's music on hold and announcement, after-hours prompts).
//! An upload is checked by decoding it completely, so a file that would
//! leave callers in silence is refused with the decoder's reason; the
//! decoded audio is cached at once. A file in use cannot be removed or
//! renamed: the refusal names what uses it.

use crate::base::context::Ctx;
use crate::calls::ports::SoundLibrary;
use dashmap::DashMap;
use media::audio_file::{decode_bytes_with_limit, MediaFileError};
use std::path::{Path, PathBuf};
use store::MediaFile;

/// Longest upload accepted, seconds of audio (music on hold loops).
pub const MAX_UPLOAD_SECONDS: u32 = 30 * 60;

/// Uploaded media by name, with where each file is.
#[derive(Default)]
pub struct MediaLibrary {
    by_name: DashMap<String, PathBuf>,
}

/// Why an upload, rename or removal was refused (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibraryError {
    /// The name cannot be used; the reason says why.
    BadName(String),
    /// Larger than the configured limit.
    TooLarge {
        /// Bytes sent.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Not audio we can play, with the decoder's reason.
    NotAudio(String),
    /// A media file of that name exists.
    Exists(String),
    /// No media file of that name.
    NotFound(String),
    /// Used by these settings.
    InUse {
        /// The file.
        name: String,
        /// Who uses it.
        users: Vec<String>,
    },
    /// Disk or database failure.
    Storage(String),
}

impl std::fmt::Display for LibraryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LibraryError::BadName(why) => f.write_str(why),
            LibraryError::TooLarge { bytes, limit } => write!(
                f,
                "the file has {bytes} bytes; uploads are limited to {limit} bytes"
            ),
            LibraryError::NotAudio(why) => write!(f, "not a playable wav or mp3 file: {why}"),
            LibraryError::Exists(n) => write!(f, "a media file named '{n}' already exists"),
            LibraryError::NotFound(n) => write!(f, "no media file named '{n}'"),
            LibraryError::InUse { name, users } => {
                write!(f, "'{name}' is in use by {}", users.join(", "))
            }
            LibraryError::Storage(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LibraryError {}

/// Checks a media name: 1-64 characters, letters (any script), digits,
/// `-`, `_`, `.` and spaces; not starting with a dot; no `/`.
pub fn check_name(name: &str) -> Result<&str, LibraryError> {
    let n = name.trim();
    let bad = |why: &str| Err(LibraryError::BadName(format!("name '{n}': {why}")));
    if n.is_empty() || n.chars().count() > 64 {
        return bad("1 to 64 characters");
    }
    if n.starts_with('.') {
        return bad("must not start with a dot");
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_alphanumeric() || "-_. ".contains(*c)))
    {
        return bad(&format!(
            "'{c}' is not allowed (letters, digits, - _ . and spaces)"
        ));
    }
    Ok(n)
}

/// The file type of `bytes`, by content: `wav` or `mp3`.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        return Some("wav");
    }
    if bytes.starts_with(b"ID3")
        || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
    {
        return Some("mp3");
    }
    None
}

impl MediaLibrary {
    /// Where the uploaded file `name` is, if there is one.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.by_name.get(name).map(|p| p.clone())
    }

    /// Reads the library from the database at start.
    pub async fn load(&self, ctx_dir: &Path, store: &store::Store) -> anyhow::Result<()> {
        for m in store.list_media_files().await? {
            self.by_name.insert(m.name, ctx_dir.join(m.file));
        }
        Ok(())
    }

    /// Checks, stores and records an upload of `bytes` as `name`.
    pub async fn upload(
        &self,
        ctx: &Ctx,
        name: &str,
        bytes: Vec<u8>,
        uploaded_by: &str,
    ) -> Result<MediaFile, LibraryError> {
        let name = check_name(name)?.to_string();
        let limit = ctx.cfg.media.max_upload_bytes;
        if bytes.len() > limit {
            return Err(LibraryError::TooLarge {
                bytes: bytes.len(),
                limit,
            });
        }
        if self.by_name.contains_key(&name) {
            return Err(LibraryError::Exists(name));
        }
        let kind = sniff(&bytes).ok_or_else(|| {
            LibraryError::NotAudio("the content is neither WAV (RIFF/WAVE) nor MP3".into())
        })?;
        let size = bytes.len();
        let label = name.clone();
        // Decoding is CPU work: off the async threads.
        let (bytes, pcm) = tokio::task::spawn_blocking(move || {
            let pcm = decode_bytes_with_limit(&label, bytes.clone(), 8000, MAX_UPLOAD_SECONDS);
            (bytes, pcm)
        })
        .await
        .map_err(|e| LibraryError::Storage(format!("decoding stopped: {e}")))?;
        let pcm = pcm.map_err(|e: MediaFileError| LibraryError::NotAudio(e.to_string()))?;
        let dir = ctx.cfg.media.uploads_dir.clone();
        // A fresh file name: names change, files stay; never overwrite.
        let file = format!("{}.{kind}", message_id());
        let path = dir.join(&file);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| LibraryError::Storage(format!("{}: {e}", dir.display())))?;
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|e| LibraryError::Storage(format!("{}: {e}", path.display())))?;
        let record = MediaFile {
            name: name.clone(),
            file,
            bytes: i64::try_from(size).unwrap_or(i64::MAX),
            duration_ms: i64::try_from(pcm.duration_ms()).unwrap_or(i64::MAX),
            uploaded_by: uploaded_by.to_string(),
            created_at: 0,
            updated_at: 0,
        };
        if let Err(e) = ctx.store.add_media_file(&record).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(match e {
                store::StoreError::MediaExists(n) => LibraryError::Exists(n),
                other => LibraryError::Storage(other.to_string()),
            });
        }
        // Cached now, so the first caller does not wait for the decode.
        if let Err(e) = ctx.audio_cache.load(&path, 8000) {
            tracing::warn!("media '{name}' not cached: {e}");
        }
        self.by_name.insert(name, path);
        Ok(record)
    }

    /// Renames `from` to `to`; refused while settings use `from`.
    pub async fn rename(&self, ctx: &Ctx, from: &str, to: &str) -> Result<(), LibraryError> {
        let to = check_name(to)?.to_string();
        let Some(path) = self.path(from) else {
            return Err(LibraryError::NotFound(from.to_string()));
        };
        self.refuse_in_use(ctx, from)?;
        ctx.store
            .rename_media_file(from, &to)
            .await
            .map_err(|e| match e {
                store::StoreError::MediaExists(n) => LibraryError::Exists(n),
                store::StoreError::MediaNotFound(n) => LibraryError::NotFound(n),
                other => LibraryError::Storage(other.to_string()),
            })?;
        self.by_name.remove(from);
        self.by_name.insert(to, path);
        Ok(())
    }

    /// Removes `name` and its file; refused while settings use it.
    pub async fn remove(&self, ctx: &Ctx, name: &str) -> Result<(), LibraryError> {
        let Some(path) = self.path(name) else {
            return Err(LibraryError::NotFound(name.to_string()));
        };
        self.refuse_in_use(ctx, name)?;
        ctx.store
            .remove_media_file(name)
            .await
            .map_err(|e| LibraryError::Storage(e.to_string()))?;
        self.by_name.remove(name);
        ctx.audio_cache.invalidate(&path);
        if let Err(e) = tokio::fs::remove_file(&path).await {
            tracing::warn!("media file {} not removed: {e}", path.display());
        }
        Ok(())
    }

    fn refuse_in_use(&self, ctx: &Ctx, name: &str) -> Result<(), LibraryError> {
        let users = ctx.callcenter.get().sound_users(name);
        if users.is_empty() {
            Ok(())
        } else {
            Err(LibraryError::InUse {
                name: name.to_string(),
                users,
            })
        }
    }
}

impl SoundLibrary for MediaLibrary {
    fn path(&self, name: &str) -> Option<PathBuf> {
        MediaLibrary::path(self, name)
    }
}

/// A unique file stem for an upload.
fn message_id() -> String {
    format!(
        "{}-{:08x}",
        crate::base::context::now_ms(),
        fastrand::u32(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_content_types_are_checked() {
        assert_eq!(check_name(" 欢迎 welcome-1.v2 "), Ok("欢迎 welcome-1.v2"));
        assert!(check_name("").is_err());
        assert!(check_name(".hidden").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff(b"ID3\x04\0"), Some("mp3"));
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90]), Some("mp3"));
        assert_eq!(sniff(b"<html>"), None);
    }
}
