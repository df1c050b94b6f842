//! Sample-rate conversion of mono i16 PCM, built on `rubato`'s band-limited
//! sinc resampler.
//!
//! Two uses:
//! - [`Resampler`] streams 20 ms frames between the two call rates (8 and
//!   16 kHz), e.g. a G.722 leg bridged to a G.711 leg. It has a fixed
//!   latency (the filter's delay, a few milliseconds) and returns exactly
//!   one output frame per input frame.
//! - [`resample_all`] converts a whole clip in memory (prompts and music
//!   files at 8-48 kHz or any rate in 4-192 kHz) with the filter delay
//!   trimmed, so the output starts at the same instant as the input.
//!
//! Both low-pass filter at the lower of the two Nyquist frequencies, so
//! downsampling does not fold energy above 4 kHz back into the telephone
//! band.

use std::collections::VecDeque;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Resampler as _, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use crate::audio::{frame_len, RATE_16K, RATE_8K};

/// Lowest and highest source rate [`resample_all`] accepts.
pub const MIN_RATE: u32 = 4_000;
/// See [`MIN_RATE`].
pub const MAX_RATE: u32 = 192_000;

/// Sinc filter length: at 128 taps the Blackman-Harris² window gives a
/// pass band to about 0.9 of the lower Nyquist (3.6 kHz at 8 kHz) with a
/// stop band far below 16-bit quantisation noise, at 128 multiply-adds per
/// output sample.
const SINC_LEN: usize = 128;

/// Why a resampler could not be built or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    /// The streaming resampler only converts between 8000 and 16000 Hz.
    #[error(
        "unsupported streaming resample {from} Hz -> {to} Hz: only 8000 and 16000 Hz are supported"
    )]
    UnsupportedStream {
        /// Requested input rate.
        from: u32,
        /// Requested output rate.
        to: u32,
    },
    /// A whole-clip rate outside 4000..=192000 Hz.
    #[error("unsupported resample {from} Hz -> {to} Hz: rates must be within 4000..=192000 Hz")]
    UnsupportedRate {
        /// Requested input rate.
        from: u32,
        /// Requested output rate.
        to: u32,
    },
    /// rubato refused the configuration or a buffer (not expected with the
    /// sizes used here; reported rather than panicking).
    #[error("resampler {from} Hz -> {to} Hz failed: {message}")]
    Internal {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// rubato's error text.
        message: String,
    },
}

/// Builds the sinc resampler for `from` → `to`, fixed input chunk `chunk`.
fn sinc(from: u32, to: u32, chunk: usize) -> Result<Async<f32>, ResampleError> {
    let ratio = f64::from(to) / f64::from(from);
    // For the 2:1 and 1:2 call-rate conversions every output instant falls
    // on a half or whole input sample, so two precomputed sinc phases are
    // exact and one dot product per sample suffices. Other ratios
    // interpolate between 128 phases.
    let params = if to == 2 * from || from == 2 * to {
        SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2)
            .oversampling_factor(2)
            .interpolation(SincInterpolationType::Nearest)
    } else {
        SincInterpolationParameters::new(SINC_LEN, WindowFunction::BlackmanHarris2)
            .oversampling_factor(128)
            .interpolation(SincInterpolationType::Cubic)
    };
    Async::<f32>::new_sinc(ratio, 1.0, &params, chunk, 1, FixedAsync::Input).map_err(|e| {
        ResampleError::Internal {
            from,
            to,
            message: e.to_string(),
        }
    })
}

fn to_f32(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

fn to_i16(v: f32) -> i16 {
    (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Streaming converter between 8 and 16 kHz, one 20 ms frame at a time
/// (or a plain copy when both rates are equal).
pub struct Resampler {
    from: u32,
    to: u32,
    inner: Option<Stream>,
}

/// Buffers of the streaming path; all allocated once in [`Resampler::new`].
struct Stream {
    rs: Async<f32>,
    /// Input not yet consumed by rubato (it takes fixed chunks).
    pending: Vec<f32>,
    /// rubato's output buffer for one chunk.
    chunk_out: Vec<f32>,
    /// Resampled samples not yet handed out.
    ready: VecDeque<i16>,
    /// Input samples received and output samples handed out, to keep the
    /// output length exactly `input * to / from` over time.
    total_in: u64,
    total_out: u64,
    /// Zeros put in front of the output so the first frame is full.
    prime: usize,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// A streaming resampler from `from` Hz to `to` Hz; both must be 8000
    /// or 16000.
    pub fn new(from: u32, to: u32) -> Result<Resampler, ResampleError> {
        let ok = |r| r == RATE_8K || r == RATE_16K;
        if !ok(from) || !ok(to) {
            return Err(ResampleError::UnsupportedStream { from, to });
        }
        if from == to {
            return Ok(Resampler {
                from,
                to,
                inner: None,
            });
        }
        let chunk = frame_len(from);
        let rs = sinc(from, to, chunk)?;
        let mut stream = Stream {
            chunk_out: vec![0.0; rs.output_frames_max()],
            pending: Vec::with_capacity(2 * chunk),
            ready: VecDeque::with_capacity(4 * frame_len(to)),
            total_in: 0,
            total_out: 0,
            prime: 0,
            rs,
        };
        stream.prime_output(frame_len(to));
        Ok(Resampler {
            from,
            to,
            inner: Some(stream),
        })
    }

    /// Input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Converts `input` (normally one 20 ms frame at the input rate) and
    /// appends exactly `input.len() * to / from` samples to `out` (one
    /// 20 ms frame at the output rate). The first frames carry the filter's
    /// leading silence; after that the output is continuous. Input that is
    /// not a whole frame is accepted: the part rubato cannot take yet is
    /// covered with zeros, and the latency grows by that much for good.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let Some(s) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return;
        };
        s.pending.extend(input.iter().map(|&v| to_f32(v)));
        s.total_in += input.len() as u64;

        let chunk = s.rs.input_frames_next();
        let mut consumed = 0;
        while s.pending.len() - consumed >= chunk {
            let produced = {
                let src = &s.pending[consumed..consumed + chunk];
                let n_out = s.chunk_out.len();
                match (
                    InterleavedSlice::new(src, 1, chunk),
                    InterleavedSlice::new_mut(&mut s.chunk_out[..], 1, n_out),
                ) {
                    (Ok(i), Ok(mut o)) => {
                        s.rs.process_into_buffer(&i, &mut o, None)
                            .map(|(_, n)| n)
                            .unwrap_or(0)
                    }
                    _ => 0,
                }
            };
            s.ready
                .extend(s.chunk_out[..produced].iter().map(|&v| to_i16(v)));
            consumed += chunk;
        }
        s.pending.drain(..consumed);

        let owed = (s.total_in * u64::from(self.to) / u64::from(self.from) - s.total_out) as usize;
        for _ in 0..owed {
            // With whole input frames the primed queue never runs dry; the
            // zero fill only covers input that ends mid-chunk.
            out.push(s.ready.pop_front().unwrap_or(0));
        }
        s.total_out += owed as u64;
    }

    /// Forgets all buffered audio, as after a source switch.
    pub fn reset(&mut self) {
        if let Some(s) = self.inner.as_mut() {
            s.rs.reset();
            s.pending.clear();
            s.ready.clear();
            s.total_in = 0;
            s.total_out = 0;
            s.prime_output(frame_len(self.to));
        }
    }
}

impl Stream {
    /// rubato's first chunk comes out a few samples short of the ratio
    /// (then every chunk is exact): put that many zeros in front, so no
    /// call ever runs dry and the latency stays fixed.
    fn prime_output(&mut self, frame: usize) {
        self.prime = frame.saturating_sub(self.rs.output_frames_next());
        self.ready.extend(std::iter::repeat_n(0, self.prime));
    }
}

/// Converts a whole clip from `from` Hz to `to` Hz (both within
/// 4000..=192000). The result has `ceil(len * to / from)` samples and no
/// leading delay. Equal rates return a copy.
pub fn resample_all(input: &[i16], from: u32, to: u32) -> Result<Vec<i16>, ResampleError> {
    let ok = |r| (MIN_RATE..=MAX_RATE).contains(&r);
    if !ok(from) || !ok(to) {
        return Err(ResampleError::UnsupportedRate { from, to });
    }
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let internal = |e: &dyn std::fmt::Display| ResampleError::Internal {
        from,
        to,
        message: e.to_string(),
    };
    let mut rs = sinc(from, to, 1024)?;
    let samples: Vec<f32> = input.iter().map(|&v| to_f32(v)).collect();
    let adapter =
        InterleavedSlice::new(&samples[..], 1, samples.len()).map_err(|e| internal(&e))?;
    let out = rs
        .process_all(&adapter, samples.len(), None)
        .map_err(|e| internal(&e))?;
    Ok(out.take_data().into_iter().map(to_i16).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq: f64, amp: f64, rate: u32, len: usize) -> Vec<i16> {
        (0..len)
            .map(|n| (amp * (2.0 * PI * freq * n as f64 / f64::from(rate)).sin()).round() as i16)
            .collect()
    }

    fn goertzel_power(x: &[i16], freq: f64, rate: u32) -> f64 {
        let w = 2.0 * PI * freq / f64::from(rate);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in x {
            let s0 = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    }

    fn dominant_frequency(x: &[i16], rate: u32) -> f64 {
        let mut best = (0.0, 0.0);
        let mut f = 50.0;
        while f < f64::from(rate) / 2.0 {
            let p = goertzel_power(x, f, rate);
            if p > best.1 {
                best = (f, p);
            }
            f += 50.0;
        }
        best.0
    }

    fn level(x: &[i16]) -> f64 {
        f64::from(crate::audio::level_dbov(x))
    }

    /// Streams one second of `input` through a resampler, frame by frame,
    /// checking every call appends exactly one output frame.
    fn stream(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
        let mut rs = Resampler::new(from, to).expect("supported rates");
        let mut out = Vec::new();
        for frame in input.chunks(frame_len(from)) {
            let before = out.len();
            rs.process(frame, &mut out);
            assert_eq!(out.len() - before, frame_len(to));
        }
        out
    }

    #[test]
    fn streaming_keeps_frequency_and_level() {
        for (from, to) in [(8000, 16000), (16000, 8000)] {
            let input = sine(1000.0, 10000.0, from, from as usize);
            let out = stream(from, to, &input);
            assert_eq!(out.len(), to as usize);
            let tail = &out[out.len() / 4..];
            let f = dominant_frequency(tail, to);
            assert!((f - 1000.0).abs() <= 50.0, "{from}->{to}: {f} Hz");
            let diff = level(tail) - level(&input[input.len() / 4..]);
            assert!(
                diff.abs() < 1.0,
                "{from}->{to}: level changed by {diff:.2} dB"
            );
        }
    }

    #[test]
    fn streaming_output_is_the_input_delayed() {
        // Pass-band audio comes out unchanged but for a fixed latency:
        // compare with the ideal two-tone signal evaluated at the output
        // instants, searching the latency in quarter samples (an even-length
        // filter delays by a fraction of a sample).
        let two_tone =
            |t: f64| 6000.0 * ((2.0 * PI * 311.0 * t).sin() + (2.0 * PI * 1013.0 * t).sin());
        for (from, to) in [(8000, 16000), (16000, 8000)] {
            let input: Vec<i16> = (0..from as usize)
                .map(|n| two_tone(n as f64 / f64::from(from)).round() as i16)
                .collect();
            let out = stream(from, to, &input);
            let snr_at = |delay: f64| -> f64 {
                let (mut sig, mut err) = (0.0, 0.0);
                for (n, &y) in out.iter().enumerate().skip(to as usize / 4) {
                    let r = two_tone((n as f64 - delay) / f64::from(to));
                    sig += r * r;
                    err += (f64::from(y) - r).powi(2);
                }
                10.0 * (sig / err).log10()
            };
            let (delay, snr) = (0..4 * frame_len(to))
                .map(|q| q as f64 / 4.0)
                .map(|d| (d, snr_at(d)))
                .fold(
                    (0.0, f64::MIN),
                    |best, c| if c.1 > best.1 { c } else { best },
                );
            assert!(snr > 40.0, "{from}->{to}: SNR {snr:.1} dB at delay {delay}");
            // Latency under 10 ms.
            assert!(
                delay * 100.0 < f64::from(to),
                "{from}->{to}: latency {delay} samples"
            );
        }
    }

    #[test]
    fn downsampling_removes_what_would_alias() {
        let input = sine(6000.0, 10000.0, 16000, 16000);
        let out = stream(16000, 8000, &input);
        let attenuation = level(&input) - level(&out[2000..]);
        assert!(attenuation >= 30.0, "6 kHz only {attenuation:.1} dB down");

        // The telephone band itself passes.
        let input = sine(3000.0, 10000.0, 16000, 16000);
        let out = stream(16000, 8000, &input);
        let diff = level(&input) - level(&out[2000..]);
        assert!(diff.abs() < 1.0, "3 kHz changed by {diff:.2} dB");
    }

    #[test]
    fn equal_rates_copy() {
        let input = sine(440.0, 5000.0, 8000, 160);
        let mut rs = Resampler::new(8000, 8000).expect("supported");
        let mut out = vec![1];
        rs.process(&input, &mut out);
        assert_eq!(&out[1..], &input[..]);
        assert_eq!(resample_all(&input, 16000, 16000), Ok(input));
    }

    #[test]
    fn unsupported_rates_are_errors_naming_them() {
        let err = Resampler::new(8000, 44100).unwrap_err();
        assert!(err.to_string().contains("44100"), "{err}");
        let err = Resampler::new(12000, 8000).unwrap_err();
        assert!(err.to_string().contains("12000"), "{err}");
        let err = resample_all(&[0; 10], 3000, 8000).unwrap_err();
        assert!(err.to_string().contains("3000"), "{err}");
        assert!(resample_all(&[0; 10], 8000, 200_000).is_err());
    }

    #[test]
    fn whole_clip_lengths_and_alignment() {
        for (from, to, len) in [
            (44100, 8000, 44100 * 2 + 17),
            (48000, 16000, 4801),
            (22050, 8000, 22050),
            (11025, 16000, 3000),
            (8000, 16000, 333),
            (16000, 8000, 7),
        ] {
            let input = sine(440.0, 8000.0, from, len);
            let out = resample_all(&input, from, to).expect("supported");
            let expected = len as f64 * f64::from(to) / f64::from(from);
            assert!(
                (out.len() as f64 - expected).abs() <= 1.0,
                "{from}->{to}: {} samples for {expected:.1}",
                out.len()
            );
        }

        // No leading delay: the output lines up with an ideal tone at lag 0.
        let input = sine(440.0, 8000.0, 44100, 44100);
        let out = resample_all(&input, 44100, 8000).expect("supported");
        let ideal = sine(440.0, 8000.0, 8000, out.len());
        let err_at = |lag: usize| -> f64 {
            (500..7000)
                .map(|n| (f64::from(out[n + lag]) - f64::from(ideal[n])).powi(2))
                .sum()
        };
        let best = (0..5).min_by(|&a, &b| err_at(a).total_cmp(&err_at(b)));
        assert_eq!(best, Some(0));
        let f = dominant_frequency(&out[500..], 8000);
        assert!((f - 450.0).abs() <= 25.0, "440 Hz came back as {f} Hz");
    }
}
