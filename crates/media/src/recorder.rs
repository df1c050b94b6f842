//! Call recording to WAV files (16-bit PCM), either both parties mixed into
//! one channel or caller and callee on separate channels, plus the rule
//! that turns a call's details into a safe file path.
//!
//! A recording must survive the server being killed mid-call: every second
//! of audio the WAV header's sizes are rewritten and the data flushed to the
//! file, so a reader sees everything up to the last flush. (This protects
//! against a process crash, not a power loss: the data is handed to the
//! operating system, not synced to disk.)

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::audio::{RATE_16K, RATE_8K};

/// How the two parties are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordLayout {
    /// One channel: caller and callee summed (saturating), as heard by a
    /// third party listening in.
    #[default]
    Mono,
    /// Two channels: caller left, callee right, so each side can be
    /// transcribed or checked separately.
    Stereo,
}

/// How to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderOptions {
    /// Channel layout.
    pub layout: RecordLayout,
    /// Sample rate of the frames passed to [`Recorder::write`]: 8000 or
    /// 16000.
    pub rate: u32,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            layout: RecordLayout::Mono,
            rate: RATE_8K,
        }
    }
}

/// Why a recording could not be started, written or named. File errors
/// name the file; template errors name the template.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The file (or its directory) could not be created.
    #[error("recording {}: cannot create: {reason}", path.display())]
    Create {
        /// The recording's path.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// Writing or flushing failed (disk full, I/O error).
    #[error("recording {}: write failed: {reason}", path.display())]
    Write {
        /// The recording's path.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// A rate other than 8000 or 16000 Hz.
    #[error("recording {}: unsupported rate {rate} Hz (8000 or 16000)", path.display())]
    BadRate {
        /// The recording's path.
        path: PathBuf,
        /// The rate asked for.
        rate: u32,
    },
    /// The two parties' frames differ in length.
    #[error(
        "recording {}: caller frame has {caller} samples but callee frame has {callee}",
        path.display()
    )]
    FrameMismatch {
        /// The recording's path.
        path: PathBuf,
        /// Caller samples.
        caller: usize,
        /// Callee samples.
        callee: usize,
    },
    /// The template names a variable that does not exist.
    #[error("recording file template {template:?}: unknown variable ${{{name}}}")]
    UnknownVariable {
        /// The template.
        template: String,
        /// The variable's name.
        name: String,
    },
    /// The template is malformed (unclosed `${`, a path separator, empty).
    #[error("recording file template {template:?}: {reason}")]
    BadTemplate {
        /// The template.
        template: String,
        /// What is wrong.
        reason: String,
    },
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Seconds of audio recorded (paused time excluded).
    pub seconds: f64,
}

/// A call recording in progress.
///
/// Dropping it without [`Recorder::finish`] still completes the file
/// (hound finalises on drop) but errors are then lost.
pub struct Recorder {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    opts: RecorderOptions,
    /// Sample frames (one sample per channel) written.
    frames: u64,
    /// Sample frames written since the last header flush.
    since_flush: u64,
    paused: bool,
    /// Interleaving / mixing buffer, kept to avoid an allocation per frame.
    scratch: Vec<i16>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("opts", &self.opts)
            .field("frames", &self.frames)
            .field("paused", &self.paused)
            .finish()
    }
}

impl Recorder {
    /// Starts a recording at `path`, creating missing parent directories.
    /// An existing file is never overwritten (that would destroy another
    /// call's recording): it is an error.
    pub fn create(path: &Path, opts: RecorderOptions) -> Result<Recorder, RecorderError> {
        if opts.rate != RATE_8K && opts.rate != RATE_16K {
            return Err(RecorderError::BadRate {
                path: path.to_path_buf(),
                rate: opts.rate,
            });
        }
        let create_err = |e: std::io::Error| RecorderError::Create {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(create_err)?;
        }
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(create_err)?;
        let spec = hound::WavSpec {
            channels: match opts.layout {
                RecordLayout::Mono => 1,
                RecordLayout::Stereo => 2,
            },
            sample_rate: opts.rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::new(BufWriter::new(file), spec).map_err(|e| {
            RecorderError::Create {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        Ok(Recorder {
            writer,
            path: path.to_path_buf(),
            opts,
            frames: 0,
            since_flush: 0,
            paused: false,
            scratch: Vec::new(),
        })
    }

    /// Records one frame from each party (same length, at the recorder's
    /// rate). While paused, frames are dropped.
    pub fn write(&mut self, caller: &[i16], callee: &[i16]) -> Result<(), RecorderError> {
        if caller.len() != callee.len() {
            return Err(RecorderError::FrameMismatch {
                path: self.path.clone(),
                caller: caller.len(),
                callee: callee.len(),
            });
        }
        if self.paused || caller.is_empty() {
            return Ok(());
        }
        self.scratch.clear();
        match self.opts.layout {
            RecordLayout::Mono => self.scratch.extend(
                caller
                    .iter()
                    .zip(callee)
                    .map(|(&a, &b)| a.saturating_add(b)),
            ),
            RecordLayout::Stereo => self
                .scratch
                .extend(caller.iter().zip(callee).flat_map(|(&a, &b)| [a, b])),
        }
        let write_err = |e: hound::Error| RecorderError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        // hound's data size field is 32-bit: refuse rather than corrupt the
        // header (4 GiB is 18 h of 16 kHz stereo).
        let bytes_after =
            (self.frames + caller.len() as u64) * u64::from(self.writer.spec().channels) * 2;
        if bytes_after > u64::from(u32::MAX) - 64 {
            return Err(RecorderError::Write {
                path: self.path.clone(),
                reason: "WAV files cannot exceed 4 GiB".into(),
            });
        }
        let mut samples = self.writer.get_i16_writer(self.scratch.len() as u32);
        for &s in &self.scratch {
            samples.write_sample(s);
        }
        samples.flush().map_err(write_err)?;
        self.frames += caller.len() as u64;
        self.since_flush += caller.len() as u64;
        if self.since_flush >= u64::from(self.opts.rate) {
            self.flush()?;
        }
        Ok(())
    }

    /// Rewrites the header's sizes and hands buffered data to the OS, so
    /// the file is a valid WAV of everything recorded so far. Done
    /// automatically every second of audio.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        self.since_flush = 0;
        self.writer.flush().map_err(|e| RecorderError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Stops recording (e.g. while the caller reads a card number); frames
    /// written while paused are dropped.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Resumes after [`Recorder::pause`].
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Seconds of audio recorded, paused time excluded.
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / f64::from(self.opts.rate)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the recording was started with.
    pub fn options(&self) -> RecorderOptions {
        self.opts
    }

    /// Completes the file (final header) and says what it holds.
    pub fn finish(self) -> Result<RecordingSummary, RecorderError> {
        let seconds = self.seconds();
        let path = self.path;
        self.writer.finalize().map_err(|e| RecorderError::Write {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(RecordingSummary { path, seconds })
    }
}

/// The default recording file name: date, time, both parties and the call
/// id, e.g. `20250314_093005_1001_+8613800000000_a84b4c76e66710.wav`.
pub const DEFAULT_TEMPLATE: &str = "${date}_${time}_${caller}_${callee}_${call_id}.wav";

/// The call details a recording's file name may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingVars {
    /// Caller number or user.
    pub caller: String,
    /// Callee number or user.
    pub callee: String,
    /// SIP Call-ID (or any unique call identifier).
    pub call_id: String,
}

/// Longest a single expanded value may be: keeps file names under the
/// usual 255-byte limit however long a Call-ID is.
const MAX_VALUE_LEN: usize = 64;

/// Where a recording goes: `root/YYYY/MM/DD/<template expanded>`, by the
/// local date of `now`.
///
/// The template may use `${date}` (YYYYMMDD), `${time}` (HHMMSS),
/// `${caller}`, `${callee}` and `${call_id}`; any other `${name}` is an
/// error, as is a template containing a path separator. Values come from
/// the network, so they are sanitised: only `A-Z a-z 0-9 + . _ -` are kept
/// (anything else becomes `_`), a leading or trailing `.` and the second
/// dot of `..` become `_`, they are cut to 64 characters, and an empty one becomes
/// `unknown`. A caller ID therefore cannot climb out of the directory or
/// hide the file. `.wav` is appended when the template lacks it.
pub fn recording_path(
    root: &Path,
    template: &str,
    vars: &RecordingVars,
    now: chrono::DateTime<chrono::Local>,
) -> Result<PathBuf, RecorderError> {
    let bad = |reason: &str| RecorderError::BadTemplate {
        template: template.to_string(),
        reason: reason.to_string(),
    };
    if template.trim().is_empty() {
        return Err(bad("empty"));
    }
    let mut name = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let literal = &rest[..start];
        if literal.contains(['/', '\\', '\0']) {
            return Err(bad("must be a file name, without '/' or '\\'"));
        }
        name.push_str(literal);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| bad("'${' without a closing '}'"))?;
        let var = &after[..end];
        let value = match var {
            "date" => now.format("%Y%m%d").to_string(),
            "time" => now.format("%H%M%S").to_string(),
            "caller" => sanitize(&vars.caller),
            "callee" => sanitize(&vars.callee),
            "call_id" => sanitize(&vars.call_id),
            _ => {
                return Err(RecorderError::UnknownVariable {
                    template: template.to_string(),
                    name: var.to_string(),
                })
            }
        };
        name.push_str(&value);
        rest = &after[end + 1..];
    }
    if rest.contains(['/', '\\', '\0']) {
        return Err(bad("must be a file name, without '/' or '\\'"));
    }
    name.push_str(rest);
    if !name.to_ascii_lowercase().ends_with(".wav") {
        name.push_str(".wav");
    }
    if name.starts_with('.') {
        return Err(bad("the file name would start with '.'"));
    }
    Ok(root
        .join(now.format("%Y").to_string())
        .join(now.format("%m").to_string())
        .join(now.format("%d").to_string())
        .join(name))
}

/// Makes a network-supplied value safe inside a file name (see
/// [`recording_path`]).
fn sanitize(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_VALUE_LEN));
    for c in value.chars().take(MAX_VALUE_LEN) {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '_' | '-');
        let c = if !keep || (c == '.' && (out.is_empty() || out.ends_with('.'))) {
            '_'
        } else {
            c
        };
        out.push(c);
    }
    // A trailing dot would meet the template's next dot (".wav").
    if out.ends_with('.') {
        out.pop();
        out.push('_');
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_file::tests::{tone_ratio, TempDir};
    use chrono::TimeZone;

    fn tone(rate: u32, freq: f64, n: usize, amplitude: f64, offset: usize) -> Vec<i16> {
        (offset..offset + n)
            .map(|i| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    .round() as i16
            })
            .collect()
    }

    /// Writes `seconds` of 20 ms frames: caller 440 Hz, callee 1 kHz.
    /// Returns every frame written, caller and callee.
    fn record(rec: &mut Recorder, rate: u32, seconds: f64) -> (Vec<i16>, Vec<i16>) {
        let frame = crate::audio::frame_len(rate);
        let frames = (seconds * 50.0).round() as usize;
        let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
        for f in 0..frames {
            let a = tone(rate, 440.0, frame, 12000.0, f * frame);
            let b = tone(rate, 1000.0, frame, 9000.0, f * frame);
            rec.write(&a, &b).unwrap();
            all_a.extend_from_slice(&a);
            all_b.extend_from_slice(&b);
        }
        (all_a, all_b)
    }

    fn read_all(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let samples = r.samples::<i16>().collect::<Result<Vec<_>, _>>().unwrap();
        (spec, samples)
    }

    #[test]
    fn stereo_keeps_caller_left_and_callee_right_exactly() {
        let dir = TempDir::new("rec-stereo");
        for rate in [8000, 16000] {
            let path = dir.path(&format!("sub/dir/stereo{rate}.wav"));
            let opts = RecorderOptions {
                layout: RecordLayout::Stereo,
                rate,
            };
            let mut rec = Recorder::create(&path, opts).unwrap();
            let (a, b) = record(&mut rec, rate, 1.5);
            assert!((rec.seconds() - 1.5).abs() < 1e-9);
            let summary = rec.finish().unwrap();
            assert_eq!(summary.path, path);
            assert!((summary.seconds - 1.5).abs() < 1e-9);
            let (spec, samples) = read_all(&path);
            assert_eq!(
                (spec.channels, spec.sample_rate, spec.bits_per_sample),
                (2, rate, 16)
            );
            let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
            let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
            assert_eq!(left, a);
            assert_eq!(right, b);
            let n = rate as usize;
            assert!(tone_ratio(&left[..n], rate, 440.0) > 0.99);
            assert!(tone_ratio(&right[..n], rate, 1000.0) > 0.99);
        }
    }

    #[test]
    fn mono_is_the_saturating_sum() {
        let dir = TempDir::new("rec-mono");
        for rate in [8000, 16000] {
            let path = dir.path(&format!("mono{rate}.wav"));
            let opts = RecorderOptions {
                layout: RecordLayout::Mono,
                rate,
            };
            let mut rec = Recorder::create(&path, opts).unwrap();
            let (a, b) = record(&mut rec, rate, 1.0);
            // Loud frames that overflow when added.
            let loud_a = vec![30000i16, -30000, 20000, i16::MIN];
            let loud_b = vec![10000i16, -10000, -25000, -1];
            rec.write(&loud_a, &loud_b).unwrap();
            rec.finish().unwrap();
            let (spec, samples) = read_all(&path);
            assert_eq!((spec.channels, spec.sample_rate), (1, rate));
            let want: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
            assert_eq!(&samples[..want.len()], &want[..]);
            assert_eq!(
                &samples[want.len()..],
                &[i16::MAX, i16::MIN, -5000, i16::MIN]
            );
        }
    }

    #[test]
    fn paused_frames_are_dropped_and_not_counted() {
        let dir = TempDir::new("rec-pause");
        let path = dir.path("paused.wav");
        let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
        let speech = vec![1000i16; 160];
        let secret = vec![7777i16; 160];
        for _ in 0..50 {
            rec.write(&speech, &speech).unwrap();
        }
        rec.pause();
        assert!(rec.is_paused());
        for _ in 0..100 {
            rec.write(&secret, &secret).unwrap();
        }
        rec.resume();
        assert!(!rec.is_paused());
        for _ in 0..25 {
            rec.write(&speech, &speech).unwrap();
        }
        assert!((rec.seconds() - 1.5).abs() < 1e-9);
        let summary = rec.finish().unwrap();
        assert!((summary.seconds - 1.5).abs() < 1e-9);
        let (_, samples) = read_all(&path);
        assert_eq!(samples.len(), 12000);
        assert!(samples.iter().all(|&s| s == 2000));
    }

    #[test]
    fn a_killed_recorder_leaves_a_readable_file() {
        let dir = TempDir::new("rec-crash");
        let path = dir.path("crash.wav");
        let opts = RecorderOptions {
            layout: RecordLayout::Stereo,
            rate: 16000,
        };
        let mut rec = Recorder::create(&path, opts).unwrap();
        let (a, _) = record(&mut rec, 16000, 2.5);
        // As if the process died: no finalize, no drop, buffers lost.
        std::mem::forget(rec);
        let (spec, samples) = read_all(&path);
        let frames = samples.len() / spec.channels as usize;
        assert!(frames >= 2 * 16000, "only {frames} frames readable");
        let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
        assert_eq!(&left[..], &a[..frames]);

        match std::process::Command::new("sox")
            .arg("--i")
            .arg(&path)
            .output()
        {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(out.status.success(), "sox --i failed: {out:?}");
                assert!(text.contains("16000"), "{text}");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("note: sox is not installed; skipping the sox --i check");
            }
            Err(e) => panic!("running sox: {e}"),
        }
    }

    #[test]
    fn bad_input_is_refused_with_the_path() {
        let dir = TempDir::new("rec-bad");
        let path = dir.path("x.wav");
        let opts = RecorderOptions {
            layout: RecordLayout::Mono,
            rate: 44100,
        };
        let e = Recorder::create(&path, opts).unwrap_err();
        assert!(matches!(e, RecorderError::BadRate { rate: 44100, .. }));
        assert!(e.to_string().contains("x.wav"));

        let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
        let e = rec.write(&[0; 160], &[0; 80]).unwrap_err();
        assert!(matches!(
            e,
            RecorderError::FrameMismatch {
                caller: 160,
                callee: 80,
                ..
            }
        ));
        // An existing recording is not overwritten.
        let e = Recorder::create(&path, RecorderOptions::default()).unwrap_err();
        assert!(matches!(e, RecorderError::Create { .. }), "{e}");
        assert!(e.to_string().contains("x.wav"));
        rec.finish().unwrap();

        // A file where a directory should be.
        let blocker = dir.path("blocker");
        std::fs::write(&blocker, b"").unwrap();
        let e = Recorder::create(&blocker.join("y.wav"), RecorderOptions::default()).unwrap_err();
        assert!(matches!(e, RecorderError::Create { .. }), "{e}");
        assert!(e.to_string().contains("y.wav"));
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> chrono::DateTime<chrono::Local> {
        chrono::Local
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .earliest()
            .unwrap()
    }

    fn vars(caller: &str, callee: &str, call_id: &str) -> RecordingVars {
        RecordingVars {
            caller: caller.into(),
            callee: callee.into(),
            call_id: call_id.into(),
        }
    }

    #[test]
    fn template_expands_under_a_dated_directory() {
        let root = Path::new("/var/rec");
        let now = at(2025, 3, 14, 9, 30, 5);
        let p = recording_path(
            root,
            DEFAULT_TEMPLATE,
            &vars("1001", "+8613800000000", "a84b@host"),
            now,
        )
        .unwrap();
        assert_eq!(
            p,
            Path::new("/var/rec/2025/03/14/20250314_093005_1001_+8613800000000_a84b_host.wav")
        );
        // .wav appended only when missing.
        let p = recording_path(root, "${caller}-${time}", &vars("alice", "", ""), now).unwrap();
        assert_eq!(p, Path::new("/var/rec/2025/03/14/alice-093005.wav"));
        let p = recording_path(root, "call_${callee}.WAV", &vars("", "", ""), now).unwrap();
        assert_eq!(p, Path::new("/var/rec/2025/03/14/call_unknown.WAV"));
    }

    #[test]
    fn hostile_values_stay_inside_the_directory() {
        let root = Path::new("/var/rec");
        let now = at(2024, 12, 31, 23, 59, 59);
        let day = Path::new("/var/rec/2024/12/31");
        for evil in [
            "../../etc/passwd",
            "..",
            ".",
            "a/../../b",
            "..\\..\\x",
            "\0",
            ".hidden",
            "x\ny",
        ] {
            let p = recording_path(root, "${caller}", &vars(evil, evil, evil), now).unwrap();
            assert_eq!(p.parent(), Some(day), "{evil:?} gave {}", p.display());
            let name = p.file_name().unwrap().to_str().unwrap();
            assert!(!name.contains(['/', '\\', '\0', '\n']), "{name}");
            assert!(!name.contains(".."), "{name}");
            assert!(!name.starts_with('.'), "{name}");
            assert!(p.components().all(|c| c != std::path::Component::ParentDir));
        }
        assert_eq!(sanitize("../../etc/passwd"), "_._.__etc_passwd");
        assert_eq!(sanitize("sip:+1 (555) 010"), "sip_+1__555__010");
        assert_eq!(sanitize(&"9".repeat(500)).len(), MAX_VALUE_LEN);
        assert_eq!(sanitize("张三"), "__");
    }

    #[test]
    fn template_errors_name_the_problem() {
        let root = Path::new("/r");
        let now = at(2025, 1, 2, 3, 4, 5);
        let v = vars("a", "b", "c");
        let e = recording_path(root, "${date}_${agent}.wav", &v, now).unwrap_err();
        assert!(matches!(&e, RecorderError::UnknownVariable { name, .. } if name == "agent"));
        assert!(e.to_string().contains("${agent}"), "{e}");
        for bad in [
            "",
            "${date",
            "../${caller}",
            "x/${caller}",
            "a\\b",
            ".${caller}",
        ] {
            let e = recording_path(root, bad, &v, now).unwrap_err();
            assert!(
                matches!(e, RecorderError::BadTemplate { .. }),
                "{bad:?}: {e}"
            );
        }
    }
}
