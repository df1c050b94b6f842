//! The built-in sounds (`media.sounds_dir`): every file is decoded at start
//! into the audio cache, so a broken or unsupported file is reported once,
//! by name, when the server starts (and by `switchboard check-config`),
//! rather than as silence in the middle of a call.

use media::audio_file::{AudioCache, MediaFileError};
use std::path::{Path, PathBuf};

/// Every `.wav` and `.mp3` under `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("wav") || x.eq_ignore_ascii_case("mp3"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Decodes every sound under `dir` at `rate` into `cache`: how many loaded,
/// and the error of every file that did not.
pub fn preload(dir: &Path, rate: u32, cache: &AudioCache) -> (usize, Vec<MediaFileError>) {
    let mut ok = 0;
    let mut errors = Vec::new();
    for f in files(dir) {
        match cache.load(&f, rate) {
            Ok(_) => ok += 1,
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sounds_all_load_and_a_bad_file_is_named() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
        let cache = AudioCache::new();
        let (ok, errors) = preload(&shipped, 8000, &cache);
        assert!(errors.is_empty(), "{errors:?}");
        // en and zh prompts (36 each), music on hold, the test tone.
        assert!(ok >= 74, "{ok} sounds");

        let dir = std::env::temp_dir().join(format!("sb-sounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("broken.wav"), b"this is not audio").unwrap();
        let (ok, errors) = preload(&dir, 8000, &AudioCache::new());
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(ok, 0);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("broken.wav"),
            "{}",
            errors[0]
        );
    }
}
