//! Audio files (prompts, music on hold, uploads) decoded once into mono PCM
//! at a call's rate, and a cache so a prompt played to thousands of calls is
//! decoded once.
//!
//! Decoding uses symphonia (WAV: PCM 8/16/24/32-bit integer and float, µ-law,
//! A-law; MP3). The container is recognised from the content, not the name,
//! so a `.wav` that really holds MP3 still plays; anything else is refused
//! with an error that names the file and says why.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;
use symphonia::core::audio::{SampleBuffer, SignalSpec};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// Longest audio a file may hold, in seconds. Prompts and music on hold are
/// far shorter; the cap keeps a wrong upload (an hour-long recording at
/// 48 kHz is already ~350 MB of PCM while decoding) from eating memory.
pub const MAX_SECONDS: u32 = 3600;

/// Most channels accepted. Down-mixing more is possible but such files are
/// surround-sound masters, not telephone audio, so they are refused.
pub const MAX_CHANNELS: usize = 8;

/// How many leading bytes are inspected to name unsupported formats.
const SNIFF_LEN: usize = 512;

/// Decoded audio: mono signed 16-bit samples at `rate` Hz.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcm {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Mono samples.
    pub samples: Vec<i16>,
}

impl Pcm {
    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        if self.rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.rate)
    }

    /// Duration in whole milliseconds.
    pub fn duration_ms(&self) -> u64 {
        if self.rate == 0 {
            return 0;
        }
        self.samples.len() as u64 * 1000 / u64::from(self.rate)
    }
}

/// Why a media file could not be turned into [`Pcm`]. Every message starts
/// with the file's path (or the upload's name) so an operator knows which
/// file to fix.
#[derive(Debug, thiserror::Error)]
pub enum MediaFileError {
    /// No file at that path.
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but cannot be read (permissions, a directory, I/O).
    #[error("{}: cannot read file: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// Not an audio format we play: video, an unknown container, a codec
    /// without a decoder here, too many channels, no audio track.
    #[error("{}: unsupported: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A supported format whose data is corrupt or truncated.
    #[error("{}: cannot decode: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// A well-formed file with no samples in it.
    #[error("{}: holds no audio", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Longer than the limit ([`MAX_SECONDS`] unless a caller set another).
    #[error("{}: too long: {seconds:.0} s or more of audio", path.display())]
    TooLong {
        /// The file.
        path: PathBuf,
        /// The duration found (decoding stops at the limit, so this is a
        /// lower bound when the header did not say).
        seconds: f64,
    },
    /// The decoded audio could not be converted to the call's rate.
    #[error("{}: cannot resample from {from} Hz to {to} Hz: {reason}", path.display())]
    Resample {
        /// The file.
        path: PathBuf,
        /// The file's rate.
        from: u32,
        /// The rate asked for.
        to: u32,
        /// What the resampler said.
        reason: String,
    },
}

impl MediaFileError {
    /// The file (or upload name) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotFound { path }
            | Self::Unreadable { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Decode { path, .. }
            | Self::Empty { path }
            | Self::TooLong { path, .. }
            | Self::Resample { path, .. } => path,
        }
    }
}

/// Decodes the file at `path` to mono PCM at `rate` Hz (8000 or 16000 in
/// practice), refusing more than [`MAX_SECONDS`] of audio.
pub fn decode_file(path: &Path, rate: u32) -> Result<Pcm, MediaFileError> {
    decode_file_with_limit(path, rate, MAX_SECONDS)
}

/// [`decode_file`] with another duration cap (e.g. a shorter one for
/// prompts uploaded through the web interface).
pub fn decode_file_with_limit(
    path: &Path,
    rate: u32,
    max_seconds: u32,
) -> Result<Pcm, MediaFileError> {
    let io_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => MediaFileError::NotFound {
            path: path.to_path_buf(),
        },
        _ => MediaFileError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        return Err(MediaFileError::Unreadable {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(MediaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut file = File::open(path).map_err(io_err)?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut file)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_source(path, Box::new(file), ext, &head, rate, max_seconds)
}

/// Decodes an upload held in memory (before it is saved), with the same
/// checks as [`decode_file`]; `name` is the upload's file name, used in
/// errors and as a format hint.
pub fn decode_bytes(name: &str, bytes: Vec<u8>, rate: u32) -> Result<Pcm, MediaFileError> {
    decode_bytes_with_limit(name, bytes, rate, MAX_SECONDS)
}

/// [`decode_bytes`] with another duration cap.
pub fn decode_bytes_with_limit(
    name: &str,
    bytes: Vec<u8>,
    rate: u32,
    max_seconds: u32,
) -> Result<Pcm, MediaFileError> {
    let path = Path::new(name);
    if bytes.is_empty() {
        return Err(MediaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    let head = bytes[..bytes.len().min(SNIFF_LEN)].to_vec();
    let ext = path.extension().and_then(|e| e.to_str());
    let source = std::io::Cursor::new(bytes);
    decode_source(path, Box::new(source), ext, &head, rate, max_seconds)
}

/// Shared tail of the two entry points: sniff, decode (panic-proof), then
/// resample.
fn decode_source(
    path: &Path,
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    head: &[u8],
    rate: u32,
    max_seconds: u32,
) -> Result<Pcm, MediaFileError> {
    if let Some(reason) = sniff_unsupported(head) {
        return Err(MediaFileError::Unsupported {
            path: path.to_path_buf(),
            reason,
        });
    }
    // symphonia has had panics on malformed input (index arithmetic in
    // demuxers); a bad upload must not take a media thread down with it.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        decode_mono(path, source, ext, max_seconds)
    }))
    .map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        MediaFileError::Decode {
            path: path.to_path_buf(),
            reason: format!("decoder failed on malformed data ({what})"),
        }
    })??;
    let (from, mono) = decoded;
    if mono.is_empty() {
        return Err(MediaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    let resample_err = |reason: String| MediaFileError::Resample {
        path: path.to_path_buf(),
        from,
        to: rate,
        reason,
    };
    if rate == 0 {
        return Err(resample_err("target rate is 0".into()));
    }
    if from == rate {
        return Ok(Pcm {
            rate,
            samples: mono,
        });
    }
    let samples = crate::resample::resample_all(&mono, from, rate)
        .map_err(|e| resample_err(e.to_string()))?;
    Ok(Pcm { rate, samples })
}

/// Names formats that symphonia (as built here) cannot play, before it
/// scans the data for something that looks like an MP3 frame header: an
/// MP4 or Matroska file is full of bytes that can pass for one, and the
/// operator deserves "video" rather than "corrupt MP3".
fn sniff_unsupported(head: &[u8]) -> Option<String> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let convert = "; convert it to WAV or MP3";
    let what = if head.len() >= 12 && &head[4..8] == b"ftyp" {
        "an MP4/QuickTime file (video, AAC or ALAC)"
    } else if starts(&[0x1a, 0x45, 0xdf, 0xa3]) {
        "a Matroska/WebM file"
    } else if starts(b"OggS") {
        "an Ogg file (Vorbis/Opus)"
    } else if starts(b"fLaC") {
        "a FLAC file"
    } else if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"AVI " {
        "an AVI video"
    } else if starts(b"FORM") {
        "an AIFF file"
    } else if starts(b"#!AMR") {
        "an AMR file"
    } else if starts(&[0x30, 0x26, 0xb2, 0x75]) {
        "a Windows Media (ASF/WMA/WMV) file"
    } else if starts(b"\x00\x00\x01\xba") || starts(b"\x00\x00\x01\xb3") {
        "an MPEG video"
    } else if looks_like_text(head) {
        return Some("this is a text file, not audio".into());
    } else if let Some(why) = bad_wav_format(head) {
        return Some(why);
    } else {
        return None;
    };
    Some(format!("{what}{convert}"))
}

/// A WAV `fmt ` chunk with a sample rate or channel count of 0, which
/// symphonia 0.5 would panic on (found by fuzzing: "TimeBase cannot have 0
/// numerator or denominator"); caught either way, but refused here first.
fn bad_wav_format(head: &[u8]) -> Option<String> {
    if head.len() < 12 || &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let len = u32::from_le_bytes([head[at + 4], head[at + 5], head[at + 6], head[at + 7]]);
        if id == b"fmt " {
            let body = head.get(at + 8..at + 8 + 8)?;
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            return match (channels, rate) {
                (0, _) => Some("a WAV file declaring 0 channels".into()),
                (_, 0) => Some("a WAV file declaring a sample rate of 0".into()),
                _ => None,
            };
        }
        // Chunks are padded to an even length.
        at = at
            .checked_add(8)?
            .checked_add(len as usize + (len as usize & 1))?;
    }
    None
}

/// True when the bytes are UTF-8 text without control characters other than
/// whitespace. Real WAV and MP3 files have binary header fields in their
/// first bytes, so they never pass.
fn looks_like_text(head: &[u8]) -> bool {
    // A multi-byte character may be cut at the end of the sniffed prefix.
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(t) => t,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

/// Demuxes and decodes the first audio track, down-mixing to mono at the
/// file's own rate. Returns that rate and the samples.
fn decode_mono(
    path: &Path,
    source: Box<dyn MediaSource>,
    ext: Option<&str>,
    max_seconds: u32,
) -> Result<(u32, Vec<i16>), MediaFileError> {
    let unsupported = |reason: String| MediaFileError::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    let decode = |reason: String| MediaFileError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let too_long = |seconds: f64| MediaFileError::TooLong {
        path: path.to_path_buf(),
        seconds,
    };

    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = ext {
        hint.with_extension(ext);
    }
    // Gapless: MP3 encoder delay and padding are cut, so a 1 s tone decodes
    // to 1 s, and playlists of MP3 prompts join without extra silence.
    let format_opts = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &format_opts, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(_) => {
                unsupported("unrecognised format (WAV and MP3 are supported)".into())
            }
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                decode("no complete audio header found (truncated, or not an audio file)".into())
            }
            SymError::IoError(io) => MediaFileError::Unreadable {
                path: path.to_path_buf(),
                reason: io.to_string(),
            },
            SymError::LimitError(what) => unsupported(what.into()),
            other => decode(other.to_string()),
        })?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    if let Some(channels) = params.channels {
        if channels.count() > MAX_CHANNELS {
            return Err(unsupported(format!(
                "{} channels (at most {MAX_CHANNELS})",
                channels.count()
            )));
        }
    }
    let mut rate = params.sample_rate.filter(|&r| r > 0);
    if let (Some(frames), Some(rate)) = (params.n_frames, rate) {
        let seconds = frames as f64 / f64::from(rate);
        if seconds > f64::from(max_seconds) {
            return Err(too_long(seconds));
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(what) => {
                unsupported(format!("no decoder for this codec ({what})"))
            }
            other => decode(other.to_string()),
        })?;

    let mut mono: Vec<i16> = Vec::new();
    let mut buf: Option<(SampleBuffer<i32>, SignalSpec, usize)> = None;
    let mut packets = 0u64;
    let mut bad_packets = 0u64;
    let mut first_error: Option<String> = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(p) => p,
            // symphonia 0.5 reports the normal end of a stream this way.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            // A new chained stream begins; the first one is the file's audio.
            Err(SymError::ResetRequired) => break,
            Err(SymError::IoError(e)) => {
                return Err(MediaFileError::Unreadable {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
            // A demuxer that lost its way may not advance, so stop rather
            // than retry; what was decoded so far is kept.
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
                bad_packets += 1;
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        packets += 1;
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // One bad MP3 frame is skipped, as players do.
            Err(SymError::DecodeError(what)) => {
                first_error.get_or_insert_with(|| what.to_string());
                bad_packets += 1;
                continue;
            }
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(SymError::Unsupported(what)) => return Err(unsupported(what.into())),
            Err(e) => return Err(decode(e.to_string())),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        if channels == 0 || decoded.frames() == 0 {
            continue;
        }
        if channels > MAX_CHANNELS {
            return Err(unsupported(format!(
                "{channels} channels (at most {MAX_CHANNELS})"
            )));
        }
        match rate {
            None if spec.rate > 0 => rate = Some(spec.rate),
            Some(r) if r == spec.rate => {}
            _ => {
                return Err(decode(format!(
                    "sample rate changes mid-stream ({:?} to {} Hz)",
                    rate, spec.rate
                )))
            }
        }
        let capacity = decoded.capacity();
        let reuse = matches!(&buf, Some((_, s, c)) if *s == spec && *c >= capacity);
        if !reuse {
            buf = Some((SampleBuffer::new(capacity as u64, spec), spec, capacity));
        }
        let Some((sample_buf, _, _)) = buf.as_mut() else {
            continue;
        };
        sample_buf.copy_interleaved_ref(decoded);
        downmix_into(sample_buf.samples(), channels, &mut mono);
        if let Some(r) = rate {
            if mono.len() as u64 > u64::from(max_seconds) * u64::from(r) {
                return Err(too_long(mono.len() as f64 / f64::from(r)));
            }
        }
    }
    if bad_packets > 0 {
        let reason = first_error.unwrap_or_else(|| "corrupt data".into());
        if mono.is_empty() {
            return Err(decode(reason));
        }
        if bad_packets * 2 > packets {
            return Err(decode(format!(
                "{bad_packets} of {packets} packets are corrupt ({reason})"
            )));
        }
        tracing::warn!(
            file = %path.display(),
            bad_packets,
            packets,
            "audio file partly corrupt: {reason}; the bad parts are skipped"
        );
    }
    match rate {
        Some(r) => Ok((r, mono)),
        None if mono.is_empty() => Ok((0, mono)),
        None => Err(decode("no sample rate".into())),
    }
}

/// Averages interleaved `channels`-channel samples (i32 full scale) into
/// 16-bit mono, rounding to nearest. A 16-bit source comes back bit-exact.
fn downmix_into(interleaved: &[i32], channels: usize, out: &mut Vec<i16>) {
    out.reserve(interleaved.len() / channels);
    for frame in interleaved.chunks_exact(channels) {
        let sum: i64 = frame.iter().map(|&s| i64::from(s)).sum();
        let mean = sum / channels as i64;
        let s = (mean + 0x8000) >> 16;
        out.push(s.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16);
    }
}

/// What a cached decode was made from: if either changes, the file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            modified: meta.modified().ok(),
            len: meta.len(),
        }
    }
}

/// One cached decode.
#[derive(Debug)]
struct CacheEntry {
    stamp: FileStamp,
    pcm: Arc<Pcm>,
}

/// State shared by clones of an [`AudioCache`].
#[derive(Debug, Default)]
struct CacheInner {
    entries: DashMap<(PathBuf, u32), CacheEntry>,
    decodes: AtomicU64,
}

/// Decoded files shared by every call: keyed by (canonical path, rate), so
/// `./sounds/x.wav` and `sounds/x.wav` share one entry, and 8 kHz and
/// 16 kHz calls each get audio at their own rate.
///
/// A changed file (different modification time or length) is decoded
/// again on its next load. Two calls loading the same file for the first
/// time at the same moment may both decode it; the results are identical
/// and the last one stays cached. That costs one extra decode, once, and
/// keeps decoding outside any lock, so a slow file never stalls loads of
/// other files.
#[derive(Debug, Clone, Default)]
pub struct AudioCache {
    inner: Arc<CacheInner>,
}

impl AudioCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file at `path` as PCM at `rate` Hz, decoded now unless a decode
    /// of the same unchanged file at that rate is cached.
    pub fn load(&self, path: &Path, rate: u32) -> Result<Arc<Pcm>, MediaFileError> {
        let io_err = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => MediaFileError::NotFound {
                path: path.to_path_buf(),
            },
            _ => MediaFileError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            },
        };
        let canonical = std::fs::canonicalize(path).map_err(io_err)?;
        // The stamp is taken before decoding: if the file changes during the
        // decode, the stored stamp is already stale and the next load decodes
        // again, never the other way round.
        let stamp = FileStamp::of(&std::fs::metadata(&canonical).map_err(io_err)?);
        let key = (canonical, rate);
        if let Some(entry) = self.inner.entries.get(&key) {
            if entry.stamp == stamp {
                return Ok(Arc::clone(&entry.pcm));
            }
        }
        self.inner.decodes.fetch_add(1, Ordering::Relaxed);
        let pcm = Arc::new(decode_file(&key.0, rate)?);
        self.inner.entries.insert(
            key,
            CacheEntry {
                stamp,
                pcm: Arc::clone(&pcm),
            },
        );
        Ok(pcm)
    }

    /// Forgets every cached decode of `path` (at any rate), e.g. after an
    /// upload replaced it.
    pub fn invalidate(&self, path: &Path) {
        let canonical = std::fs::canonicalize(path).ok();
        self.inner
            .entries
            .retain(|(p, _), _| p != path && Some(p) != canonical.as_ref());
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.inner.entries.clear();
    }

    /// Number of cached (file, rate) decodes.
    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    /// How many decodes this cache has started since it was created (for
    /// statistics and tests).
    pub fn decodes(&self) -> u64 {
        self.inner.decodes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::audio::level_dbov;
    use std::sync::atomic::AtomicUsize;

    /// A directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "switchboard-{tag}-{}-{n}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        pub(crate) fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sine(rate: u32, freq: f64, seconds: f64, amplitude: f64) -> Vec<f64> {
        let n = (f64::from(rate) * seconds).round() as usize;
        (0..n)
            .map(|i| {
                amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()
            })
            .collect()
    }

    /// Writes `channels` (same length each, full scale ±1.0) with hound.
    fn write_wav(path: &Path, rate: u32, bits: u16, float: bool, channels: &[Vec<f64>]) {
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..channels[0].len() {
            for ch in channels {
                let x = ch[i];
                match (float, bits) {
                    (true, _) => w.write_sample(x as f32).unwrap(),
                    (false, 8) => w.write_sample((x * 127.0).round() as i8).unwrap(),
                    (false, 16) => w.write_sample((x * 32767.0).round() as i16).unwrap(),
                    (false, 24) => w.write_sample((x * 8_388_607.0).round() as i32).unwrap(),
                    (false, 32) => w
                        .write_sample((x * 2_147_483_647.0).round() as i32)
                        .unwrap(),
                    _ => unreachable!(),
                }
            }
        }
        w.finalize().unwrap();
    }

    /// Share of the signal's energy at `freq` (Goertzel): 1.0 for a pure
    /// tone spanning a whole number of periods.
    pub(crate) fn tone_ratio(x: &[i16], rate: u32, freq: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        let mut energy = 0.0;
        for &v in x {
            let v = f64::from(v);
            let s = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
            energy += v * v;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        2.0 * power / (x.len() as f64 * energy)
    }

    /// The middle half second of a decode (a whole number of periods of
    /// 440 Hz and 1 kHz at 8 and 16 kHz).
    fn middle(pcm: &Pcm) -> &[i16] {
        let start = pcm.rate as usize / 4;
        &pcm.samples[start..start + pcm.rate as usize / 2]
    }

    fn mulaw_encode(pcm: i16) -> u8 {
        let mut s = i32::from(pcm);
        let sign = if s < 0 {
            s = -s;
            0x80
        } else {
            0
        };
        let s = s.min(32_635) + 0x84;
        let top_bit = 31 - s.leading_zeros() as i32;
        let exponent = (top_bit - 7).clamp(0, 7);
        let mantissa = (s >> (exponent + 3)) & 0x0f;
        !(sign | (exponent << 4) as u8 | mantissa as u8)
    }

    /// A µ-law WAV (format tag 7) written by hand: hound only writes PCM.
    fn mulaw_wav(rate: u32, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().map(|&s| mulaw_encode(s)).collect();
        let pad = data.len() % 2;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&((4 + 26 + 12 + 8 + data.len() + pad) as u32).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&18u32.to_le_bytes());
        v.extend_from_slice(&7u16.to_le_bytes()); // WAVE_FORMAT_MULAW
        v.extend_from_slice(&1u16.to_le_bytes()); // channels
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes()); // bytes per second
        v.extend_from_slice(&1u16.to_le_bytes()); // block align
        v.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
        v.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        v.extend_from_slice(b"fact");
        v.extend_from_slice(&4u32.to_le_bytes());
        v.extend_from_slice(&(samples.len() as u32).to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&data);
        v.extend(std::iter::repeat_n(0u8, pad));
        v
    }

    const MP3_FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tone_440hz_1s_stereo_44k1.mp3"
    );

    #[test]
    fn pcm_wavs_of_every_rate_depth_and_layout_decode_to_the_right_tone() {
        let dir = TempDir::new("wav-matrix");
        for rate in [8000, 16000, 44100, 48000] {
            for (bits, float) in [
                (8, false),
                (16, false),
                (24, false),
                (32, false),
                (32, true),
            ] {
                for channels in [1usize, 2] {
                    let tone = sine(rate, 440.0, 1.0, 0.5);
                    let path = dir.path(&format!("t{rate}_{bits}{float}_{channels}.wav"));
                    write_wav(&path, rate, bits, float, &vec![tone; channels]);
                    for target in [8000u32, 16000] {
                        let pcm = decode_file(&path, target).unwrap();
                        let what =
                            format!("{rate} Hz {bits}-bit float={float} x{channels} -> {target}");
                        assert_eq!(pcm.rate, target);
                        let len = pcm.samples.len() as i64;
                        assert!(
                            (len - i64::from(target)).abs() <= 2,
                            "{what}: {len} samples"
                        );
                        let ratio = tone_ratio(middle(&pcm), target, 440.0);
                        assert!(ratio > 0.95, "{what}: 440 Hz holds {ratio} of the energy");
                        // 0.5 full scale sine: -9.03 dBov.
                        let level = level_dbov(middle(&pcm));
                        assert!((level + 9.03).abs() < 0.5, "{what}: level {level}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_wav_declaring_rate_or_channels_zero_is_refused_by_name() {
        // The 52-byte input the fuzzer found: 16-bit mono PCM, rate 0.
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\x2c\0\0\0WAVEfmt \x10\0\0\0");
        wav.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 16, 0]);
        wav.extend_from_slice(b"data\x08\0\0\0");
        wav.extend_from_slice(&[0; 8]);
        let e = decode_bytes("zero-rate.wav", wav.clone(), 8000).unwrap_err();
        assert!(matches!(e, MediaFileError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("zero-rate.wav"), "{e}");
        assert!(e.to_string().contains("sample rate of 0"), "{e}");
        wav[22] = 0; // channels
        wav[24] = 0x40; // a rate again
        let e = decode_bytes("no-channels.wav", wav, 8000).unwrap_err();
        assert!(e.to_string().contains("0 channels"), "{e}");
    }

    #[test]
    fn sixteen_bit_at_the_same_rate_is_bit_exact() {
        let dir = TempDir::new("exact");
        let mut rng = fastrand::Rng::with_seed(7);
        let samples: Vec<i16> = (0..4000).map(|_| rng.i16(..)).collect();
        let path = dir.path("noise.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for &s in &samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        assert_eq!(decode_file(&path, 8000).unwrap().samples, samples);
    }

    #[test]
    fn stereo_is_averaged_to_mono() {
        let dir = TempDir::new("downmix");
        let path = dir.path("left_only.wav");
        let left = sine(8000, 440.0, 1.0, 0.8);
        write_wav(
            &path,
            8000,
            16,
            false,
            &[left.clone(), vec![0.0; left.len()]],
        );
        let pcm = decode_file(&path, 8000).unwrap();
        for (got, x) in pcm.samples.iter().zip(&left) {
            let want = ((x * 32767.0).round() / 2.0).round();
            assert!((f64::from(*got) - want).abs() <= 1.0, "{got} vs {want}");
        }
        // Opposite channels cancel.
        let path = dir.path("opposite.wav");
        let minus: Vec<f64> = left.iter().map(|x| -x).collect();
        write_wav(&path, 8000, 16, false, &[left, minus]);
        let pcm = decode_file(&path, 8000).unwrap();
        assert!(pcm.samples.iter().all(|s| s.abs() <= 1));
    }

    #[test]
    fn mulaw_wav_decodes() {
        let tone: Vec<i16> = sine(8000, 1000.0, 1.0, 0.5)
            .iter()
            .map(|x| (x * 32767.0).round() as i16)
            .collect();
        let bytes = mulaw_wav(8000, &tone);
        for target in [8000, 16000] {
            let pcm = decode_bytes("ulaw.wav", bytes.clone(), target).unwrap();
            assert_eq!(pcm.samples.len(), target as usize);
            let ratio = tone_ratio(middle(&pcm), target, 1000.0);
            assert!(ratio > 0.95, "1 kHz holds {ratio}");
            let level = level_dbov(middle(&pcm));
            assert!((level + 9.03).abs() < 0.5, "level {level}");
        }
        // At the file's own rate, each sample is within µ-law's step size.
        let pcm = decode_bytes("ulaw.wav", bytes, 8000).unwrap();
        for (got, want) in pcm.samples.iter().zip(&tone) {
            let step = (i32::from(want.abs()) / 16).max(8);
            assert!(
                (i32::from(*got) - i32::from(*want)).abs() <= step,
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn mp3_fixture_decodes_and_is_found_by_content_under_a_wav_name() {
        let bytes = std::fs::read(MP3_FIXTURE).unwrap();
        assert!(bytes.len() < 20 * 1024);
        let pcm = decode_file(Path::new(MP3_FIXTURE), 8000).unwrap();
        let len = pcm.samples.len() as i64;
        assert!(
            (len - 8000).abs() <= 80,
            "1 s of MP3 gave {len} samples at 8 kHz"
        );
        let ratio = tone_ratio(middle(&pcm), 8000, 440.0);
        assert!(ratio > 0.95, "440 Hz holds {ratio}");
        let level = level_dbov(middle(&pcm));
        assert!((level + 9.03).abs() < 1.0, "level {level}");

        let renamed = decode_bytes("really_an_mp3.wav", bytes, 16000).unwrap();
        assert!((renamed.samples.len() as i64 - 16000).abs() <= 160);
        assert!(tone_ratio(middle(&renamed), 16000, 440.0) > 0.95);
    }

    #[test]
    fn bad_files_give_the_right_error_naming_the_file() {
        let dir = TempDir::new("bad");
        let check = |err: MediaFileError, name: &str| {
            let msg = err.to_string();
            assert!(msg.contains(name), "{msg:?} does not name {name}");
            assert!(err.path().to_string_lossy().contains(name));
            err
        };

        let missing = dir.path("missing.wav");
        let e = check(decode_file(&missing, 8000).unwrap_err(), "missing.wav");
        assert!(matches!(e, MediaFileError::NotFound { .. }), "{e}");

        let empty = dir.path("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        let e = check(decode_file(&empty, 8000).unwrap_err(), "empty.wav");
        assert!(matches!(e, MediaFileError::Empty { .. }), "{e}");

        let text = dir.path("notes.wav");
        std::fs::write(&text, "These are not the sounds you are looking for.\n").unwrap();
        let e = check(decode_file(&text, 8000).unwrap_err(), "notes.wav");
        assert!(matches!(e, MediaFileError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("text"), "{e}");

        let e = check(
            decode_file(&dir.0, 8000).unwrap_err(),
            dir.0.file_name().unwrap().to_str().unwrap(),
        );
        assert!(matches!(e, MediaFileError::Unreadable { .. }), "{e}");

        let mut mp4 = vec![0, 0, 0, 0x20];
        mp4.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2avc1mp41");
        let e = check(decode_bytes("clip.mp4", mp4, 8000).unwrap_err(), "clip.mp4");
        assert!(matches!(e, MediaFileError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("MP4"), "{e}");

        // Garbage: whatever symphonia makes of it, a clean refusal.
        for seed in 0..20 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let junk: Vec<u8> = (0..8192).map(|_| rng.u8(..)).collect();
            let e = check(
                decode_bytes("junk.mp3", junk, 8000).unwrap_err(),
                "junk.mp3",
            );
            assert!(
                matches!(
                    e,
                    MediaFileError::Unsupported { .. } | MediaFileError::Decode { .. }
                ),
                "seed {seed}: {e}"
            );
        }

        // A real WAV, cut in various places.
        let good = dir.path("good.wav");
        write_wav(&good, 8000, 16, false, &[sine(8000, 440.0, 1.0, 0.5)]);
        let full = std::fs::read(&good).unwrap();
        let e = check(
            decode_bytes("cut_header.wav", full[..30].to_vec(), 8000).unwrap_err(),
            "cut_header.wav",
        );
        assert!(matches!(e, MediaFileError::Decode { .. }), "{e}");
        let e = check(
            decode_bytes("header_only.wav", full[..44].to_vec(), 8000).unwrap_err(),
            "header_only.wav",
        );
        assert!(matches!(e, MediaFileError::Empty { .. }), "{e}");
        // Cut inside the data (e.g. a recording whose writer died): the
        // samples that are there play.
        let half = decode_bytes("cut_data.wav", full[..44 + 8000].to_vec(), 8000).unwrap();
        assert_eq!(half.samples.len(), 4000);

        // Too many channels.
        let wide = dir.path("ten_channels.wav");
        write_wav(
            &wide,
            8000,
            16,
            false,
            &vec![sine(8000, 440.0, 0.1, 0.5); 10],
        );
        let e = check(decode_file(&wide, 8000).unwrap_err(), "ten_channels.wav");
        assert!(matches!(e, MediaFileError::Unsupported { .. }), "{e}");

        // Too long.
        let long = dir.path("long.wav");
        write_wav(&long, 8000, 16, false, &[sine(8000, 440.0, 3.0, 0.5)]);
        let e = check(
            decode_file_with_limit(&long, 8000, 2).unwrap_err(),
            "long.wav",
        );
        assert!(
            matches!(e, MediaFileError::TooLong { seconds, .. } if (seconds - 3.0).abs() < 0.01),
            "{e}"
        );
        assert!(decode_file_with_limit(&long, 8000, 3).is_ok());
        // MP3 without a length in its header is stopped while decoding.
        let mp3 = std::fs::read(MP3_FIXTURE).unwrap();
        let e = decode_bytes_with_limit("tone.mp3", mp3, 8000, 0).unwrap_err();
        assert!(matches!(e, MediaFileError::TooLong { .. }), "{e}");
    }

    #[test]
    fn cache_decodes_once_per_file_and_rate_and_again_after_a_change() {
        let dir = TempDir::new("cache");
        let path = dir.path("prompt.wav");
        write_wav(&path, 8000, 16, false, &[sine(8000, 440.0, 0.5, 0.5)]);
        let cache = AudioCache::new();
        assert!(cache.is_empty());
        let a = cache.load(&path, 8000).unwrap();
        let b = cache.clone().load(&path, 8000).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.decodes(), 1);
        // The same file by another spelling of its path.
        let dotted = dir.0.join(".").join("prompt.wav");
        assert!(Arc::ptr_eq(&a, &cache.load(&dotted, 8000).unwrap()));
        assert_eq!(cache.decodes(), 1);

        let wide = cache.load(&path, 16000).unwrap();
        assert_eq!(wide.samples.len(), 8000);
        assert_eq!((cache.len(), cache.decodes()), (2, 2));

        // The file is replaced with a longer one.
        write_wav(&path, 8000, 16, false, &[sine(8000, 440.0, 1.0, 0.5)]);
        let c = cache.load(&path, 8000).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.samples.len(), 8000);
        assert_eq!((cache.len(), cache.decodes()), (2, 3));
        assert!(Arc::ptr_eq(&c, &cache.load(&path, 8000).unwrap()));

        cache.invalidate(&path);
        assert!(cache.is_empty());
        cache.load(&path, 8000).unwrap();
        assert_eq!(cache.decodes(), 4);

        let e = cache.load(&dir.path("nope.wav"), 8000).unwrap_err();
        assert!(matches!(e, MediaFileError::NotFound { .. }));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn every_shipped_sound_decodes_and_has_audio() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sounds"));
        let mut stack = vec![root.to_path_buf()];
        let mut count = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "wav" | "mp3") {
                    continue;
                }
                let pcm = decode_file(&path, 8000).unwrap();
                let seconds = pcm.seconds();
                assert!(
                    (0.2..=90.0).contains(&seconds),
                    "{}: {seconds} s",
                    path.display()
                );
                let loudest = pcm
                    .samples
                    .chunks(160)
                    .map(level_dbov)
                    .fold(-96.0f32, f32::max);
                assert!(
                    loudest > -50.0,
                    "{}: loudest frame {loudest} dBov",
                    path.display()
                );
                count += 1;
            }
        }
        assert!(
            count > 2 * 36, // 36 prompts in two languages, and music on hold
            "only {count} sounds found under {}",
            root.display()
        );
    }
}
