//! Tone files for the phones to send, and the measurement of what they
//! recorded: the dominant frequency of a WAV segment and the level of a given
//! tone in it (Goertzel with a Hann window; the Goertzel helper of `ua.rs`
//! has no window and no level in dBFS, which is what these tests compare).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Sample rate of pjsua's tone files (its conference bridge runs at 16 kHz).
/// baresip's are at its codec's rate: its `aufile` source wants the file at
/// the source rate (`ausrc_srate`), and baresip 1.0's own resampler loses
/// 15 dB at 1400 Hz (measured), so its source runs at the codec's rate.
pub const TONE_RATE: u32 = 16_000;

/// Peak amplitude of the tones, as a fraction of full scale: -13.5 dBFS RMS,
/// loud enough to measure after G.711, quiet enough for three of them to be
/// mixed without clipping.
const TONE_AMPLITUDE: f64 = 0.3;

/// Length of a tone file. baresip 1.0's `aufile` ends the call at the end of
/// the file, so it must outlast every scenario.
const TONE_SECS: u32 = 120;

/// The RMS level of the tones sent, dBFS.
pub const SENT_DBFS: f64 = -13.5;

/// A mono WAV file read back: its rate and samples.
#[derive(Debug, Default, Clone)]
pub struct Wav {
    /// Samples per second.
    pub rate: u32,
    /// The first channel's samples.
    pub samples: Vec<i16>,
}

impl Wav {
    /// Length in seconds.
    pub fn secs(&self) -> f64 {
        if self.rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / f64::from(self.rate)
        }
    }
}

/// The path of a `hz` sine tone WAV (16-bit mono at `rate`), written once
/// under `dir` and shared by every phone (a temporary name then a rename, so
/// parallel tests never read a half-written file).
pub fn tone_file(dir: &Path, hz: u32, rate: u32) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create the tone directory");
    let path = dir.join(format!("tone-{hz}hz-{rate}.wav"));
    if path.exists() {
        return path;
    }
    let n = rate * TONE_SECS;
    let mut data = Vec::with_capacity(n as usize * 2);
    for i in 0..n {
        let t = f64::from(i) / f64::from(rate);
        let v = (2.0 * std::f64::consts::PI * f64::from(hz) * t).sin() * TONE_AMPLITUDE;
        data.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
    }
    let tmp = dir.join(format!("tone-{hz}hz-{rate}-{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).expect("create a tone file");
    f.write_all(&wav_header(rate, data.len() as u32))
        .and_then(|_| f.write_all(&data))
        .expect("write a tone file");
    drop(f);
    std::fs::rename(&tmp, &path).expect("rename the tone file");
    path
}

/// A 44-byte header of 16-bit mono PCM.
fn wav_header(rate: u32, data_len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Where the samples of a 16-bit PCM WAV start, its rate and channel count.
/// The data chunk is taken to run to the end of the file: a recorder that is
/// still writing has not filled in the sizes yet.
pub fn wav_layout(bytes: &[u8]) -> Option<(usize, u32, u16)> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let (mut pos, mut rate, mut channels) = (12usize, 0u32, 0u16);
    // Bounded: every chunk moves `pos` forward by at least 8 bytes.
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let body = pos + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            let format = u16::from_le_bytes(bytes[body..body + 2].try_into().ok()?);
            channels = u16::from_le_bytes(bytes[body + 2..body + 4].try_into().ok()?);
            rate = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().ok()?);
            let bits = u16::from_le_bytes(bytes[body + 14..body + 16].try_into().ok()?);
            // WAVE_FORMAT_EXTENSIBLE (0xFFFE) carries PCM too.
            if (format != 1 && format != 0xFFFE) || bits != 16 {
                return None;
            }
        } else if id == b"data" {
            return (rate > 0 && channels > 0).then_some((body, rate, channels));
        }
        pos = body + len + (len & 1);
    }
    None
}

/// Reads a 16-bit PCM WAV from byte `offset` on (0: the whole data chunk);
/// only the first channel is kept.
pub fn read_wav_from(path: &Path, offset: u64) -> std::io::Result<Wav> {
    let bytes = std::fs::read(path)?;
    let (start, rate, channels) = wav_layout(&bytes).ok_or_else(|| {
        std::io::Error::other(format!("{}: not a 16-bit PCM WAV", path.display()))
    })?;
    let frame = 2 * usize::from(channels);
    let mut from = start.max(offset as usize);
    from = start + (from - start) / frame * frame;
    let samples = bytes[from.min(bytes.len())..]
        .chunks_exact(frame)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(Wav { rate, samples })
}

/// Level in dBFS (RMS against a full-scale square: a full-scale sine reads -3).
fn dbfs(rms: f64) -> f64 {
    20.0 * (rms / 32768.0).max(1e-9).log10()
}

/// What a segment holds: its strongest frequency and the levels.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// The strongest frequency between 100 and 3500 Hz.
    pub dominant_hz: f64,
    /// The level of that frequency's sine component, dBFS.
    pub dominant_dbfs: f64,
    /// The level of the whole segment, dBFS.
    pub total_dbfs: f64,
    /// Seconds analysed.
    pub secs: f64,
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dominant {:.0} Hz at {:.1} dBFS, total {:.1} dBFS over {:.2} s",
            self.dominant_hz, self.dominant_dbfs, self.total_dbfs, self.secs
        )
    }
}

/// The analysed part of a recording: the first 200 ms are skipped (a stream
/// starting, a jitter buffer filling), then at most the last second is kept,
/// which bounds the Goertzel work in a debug build.
fn segment(wav: &Wav) -> &[i16] {
    let rate = wav.rate as usize;
    let s = &wav.samples[(rate / 5).min(wav.samples.len())..];
    &s[s.len().saturating_sub(rate)..]
}

/// RMS level (dBFS) of the sine component at `hz` in `x` (Hann window).
fn component_dbfs(x: &[i16], rate: u32, hz: f64) -> f64 {
    let n = x.len();
    if n < 16 {
        return dbfs(0.0);
    }
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    let step = 2.0 * std::f64::consts::PI / (n - 1) as f64;
    for (i, &v) in x.iter().enumerate() {
        let hann = 0.5 - 0.5 * (step * i as f64).cos();
        let s0 = f64::from(v) * hann + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    // |X| = A * N / 4 for a sine of amplitude A under a Hann window.
    let amplitude = 4.0 * power.sqrt() / n as f64;
    dbfs(amplitude / std::f64::consts::SQRT_2)
}

/// The strongest sine component of `x` between 100 and 3500 Hz: a 10 Hz scan,
/// then 1 Hz around the best.
fn dominant(x: &[i16], rate: u32) -> (f64, f64) {
    let top = 3500f64.min(f64::from(rate) / 2.0 - 50.0);
    let mut best = (0.0, f64::MIN);
    let mut hz = 100.0;
    while hz <= top {
        let l = component_dbfs(x, rate, hz);
        if l > best.1 {
            best = (hz, l);
        }
        hz += 10.0;
    }
    let centre = best.0;
    for d in -10..=10 {
        let hz = centre + f64::from(d);
        let l = component_dbfs(x, rate, hz);
        if l > best.1 {
            best = (hz, l);
        }
    }
    best
}

/// Measures a recording (see [`segment`] for the part analysed).
pub fn measure(wav: &Wav) -> Measure {
    let x = segment(wav);
    let rms = if x.is_empty() {
        0.0
    } else {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    };
    let (dominant_hz, dominant_dbfs) = dominant(x, wav.rate.max(1));
    Measure {
        dominant_hz,
        dominant_dbfs,
        total_dbfs: dbfs(rms),
        secs: x.len() as f64 / f64::from(wav.rate.max(1)),
    }
}

/// The level (dBFS) of the tone at `hz` in a recording: the best of ±5 Hz
/// around it (the analysed second resolves 1 Hz).
pub fn level_at(wav: &Wav, hz: f64) -> f64 {
    let x = segment(wav);
    (-5..=5)
        .map(|d| component_dbfs(x, wav.rate.max(1), hz + f64::from(d)))
        .fold(f64::MIN, f64::max)
}

/// How far the dominant frequency may be from the tone sent.
pub const HZ_TOLERANCE: f64 = 20.0;
/// The window a tone that came through must be in (sent at -13.5 dBFS; a
/// mixer or a transcoder may lower it, nothing should raise it above 0).
pub const LEVEL_WINDOW: (f64, f64) = (-30.0, 0.0);
/// Below this, a tone is absent (30 dB under the tone sent).
pub const ABSENT_DBFS: f64 = -45.0;

/// True if `m` is the tone `hz` at a sane level.
pub fn is_tone(m: &Measure, hz: f64) -> bool {
    m.secs >= 0.3
        && (m.dominant_hz - hz).abs() <= HZ_TOLERANCE
        && m.dominant_dbfs >= LEVEL_WINDOW.0
        && m.dominant_dbfs <= LEVEL_WINDOW.1
}

#[test]
fn a_generated_tone_is_measured_at_its_frequency_and_level() {
    let dir = super::artifacts_dir().join("tones");
    let wav = read_wav_from(&tone_file(&dir, 1000, TONE_RATE), 0).expect("read the tone file");
    let short = Wav {
        rate: wav.rate,
        samples: wav.samples[..TONE_RATE as usize * 2].to_vec(),
    };
    let m = measure(&short);
    assert!((m.dominant_hz - 1000.0).abs() <= 1.0, "{m}");
    // 0.3 of full scale peak: 20*log10(0.3/sqrt(2)) = -13.5 dBFS.
    assert!((m.dominant_dbfs + 13.5).abs() < 0.5, "{m}");
    assert!((m.total_dbfs + 13.5).abs() < 0.5, "{m}");
    assert!(level_at(&short, 600.0) < ABSENT_DBFS, "{m}");
    assert!(is_tone(&m, 1000.0) && !is_tone(&m, 600.0));
    // Silence and an empty recording have no tone.
    let silent = Wav {
        rate: 8000,
        samples: vec![0; 8000],
    };
    assert!(level_at(&silent, 1000.0) < ABSENT_DBFS);
    assert!(!is_tone(&measure(&Wav::default()), 1000.0));
}

#[test]
fn a_wav_still_being_written_is_read_to_its_end() {
    // A recorder that has not closed its file yet leaves the data size at 0.
    let dir = super::artifacts_dir();
    let path = dir.join(format!("unfinished-{}.wav", std::process::id()));
    let mut bytes = wav_header(8000, 0);
    for v in [1i16, -2, 3, -4] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&path, &bytes).expect("write");
    let all = read_wav_from(&path, 0).expect("read");
    assert_eq!((all.rate, all.samples.clone()), (8000, vec![1, -2, 3, -4]));
    // From an offset inside the data (an odd one is rounded down to a sample).
    let tail = read_wav_from(&path, 44 + 5).expect("read");
    assert_eq!(tail.samples, vec![3, -4]);
    let _ = std::fs::remove_file(&path);
}
