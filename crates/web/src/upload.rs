//! Uploads streamed to a temporary file under a byte limit, so that an
//! oversized or endless body costs neither memory nor more than `limit`
//! bytes of disk: reading stops at the first byte past the limit (the
//! handler answers 413 and the connection closes without reading the
//! rest).

use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

/// Directory (under the data dir) of uploads being received.
pub const TEMP_DIR: &str = "tmp";

/// Prefix and suffix of a temporary upload's file name.
const PREFIX: &str = "upload-";
const SUFFIX: &str = ".part";

/// Why an upload was not received.
#[derive(Debug, PartialEq, Eq)]
pub enum SpoolError {
    /// More than `limit` bytes were sent (reading stopped there).
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read (the client went away, bad framing).
    Body(String),
    /// The temporary file could not be written.
    Storage(String),
}

/// A received upload on disk; the file is removed when this is dropped.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    len: usize,
}

impl Spooled {
    /// Bytes received.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes (at most the limit it was received under).
    pub async fn read(&self) -> Result<Vec<u8>, SpoolError> {
        tokio::fs::read(&self.path)
            .await
            .map_err(|e| SpoolError::Storage(format!("{}: {e}", self.path.display())))
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("removing {}: {e}", self.path.display());
            }
        }
    }
}

/// Writes the chunks of `body` to a new file in `dir`, stopping with
/// [`SpoolError::TooLarge`] as soon as more than `limit` bytes came. The
/// file is removed on any error.
pub async fn spool<S, B, E>(dir: &Path, body: S, limit: usize) -> Result<Spooled, SpoolError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let storage =
        |what: &Path, e: std::io::Error| SpoolError::Storage(format!("{}: {e}", what.display()));
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| storage(dir, e))?;
    let name = format!(
        "{PREFIX}{}{SUFFIX}",
        crate::auth::token::random_hex().map_err(|e| SpoolError::Storage(e.to_string()))?
    );
    // From here the file exists: `spooled` removes it on every early return.
    let mut spooled = Spooled {
        path: dir.join(name),
        len: 0,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&spooled.path)
        .await
        .map_err(|e| storage(dir, e))?;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| SpoolError::Body(e.to_string()))?;
        let bytes = chunk.as_ref();
        spooled.len = spooled.len.saturating_add(bytes.len());
        if spooled.len > limit {
            return Err(SpoolError::TooLarge { limit });
        }
        file.write_all(bytes)
            .await
            .map_err(|e| storage(&spooled.path, e))?;
    }
    file.flush().await.map_err(|e| storage(&spooled.path, e))?;
    Ok(spooled)
}

/// Removes temporary uploads left in `dir` by a crash (at start).
pub fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!("removing {}: {e}", entry.path().display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sb-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn files_in(dir: &Path) -> usize {
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    }

    /// `n` chunks of 64 KiB, made as they are read (nothing held in memory).
    fn chunks(n: usize) -> impl Stream<Item = Result<Vec<u8>, String>> {
        futures_util::stream::iter((0..n).map(|i| Ok(vec![(i % 251) as u8; 64 * 1024])))
    }

    #[tokio::test]
    async fn an_upload_within_the_limit_is_kept_until_dropped() {
        let dir = temp_dir("ok");
        let up = spool(&dir, chunks(3), 3 * 64 * 1024).await.unwrap();
        assert_eq!(up.len(), 3 * 64 * 1024);
        let bytes = up.read().await.unwrap();
        assert_eq!(bytes.len(), up.len());
        assert_eq!(
            (bytes[0], bytes[64 * 1024], bytes[2 * 64 * 1024]),
            (0, 1, 2)
        );
        assert_eq!(files_in(&dir), 1);
        drop(up);
        assert_eq!(files_in(&dir), 0, "the temporary file is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_oversized_upload_stops_at_the_limit_and_leaves_nothing() {
        let dir = temp_dir("big");
        let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = pulled.clone();
        // An endless body: only stopping at the limit ends this test.
        let endless = futures_util::stream::iter(0..).map(move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, String>(vec![7u8; 64 * 1024])
        });
        let r = spool(&dir, endless, 1024 * 1024).await;
        assert_eq!(r.unwrap_err(), SpoolError::TooLarge { limit: 1024 * 1024 });
        // 16 chunks fill the limit; the 17th passes it; nothing more is read.
        assert_eq!(pulled.load(std::sync::atomic::Ordering::Relaxed), 17);
        assert_eq!(files_in(&dir), 0, "the partial file is removed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_broken_body_leaves_nothing() {
        let dir = temp_dir("broken");
        let body = futures_util::stream::iter(vec![Ok(vec![1u8; 10]), Err("reset".to_string())]);
        let r = spool(&dir, body, 1024).await;
        assert_eq!(r.unwrap_err(), SpoolError::Body("reset".into()));
        assert_eq!(files_in(&dir), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn leftovers_of_a_crash_are_removed() {
        let dir = temp_dir("left");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("upload-abc.part"), b"x").unwrap();
        std::fs::write(dir.join("keep.txt"), b"x").unwrap();
        remove_leftovers(&dir);
        assert!(!dir.join("upload-abc.part").exists());
        assert!(dir.join("keep.txt").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
