//! In-band DTMF generation: plays a string of digits as keypad tones, for
//! legs that cannot take RFC 4733 or INFO (analogue gateways, IVRs that only
//! listen to audio).

use super::goertzel::digit_freqs;
use super::{normalize_digit, DtmfError};
use crate::audio::{AudioSource, Fill};
use crate::tones::{sine_amplitude, Oscillator};

/// Usual tone length per digit.
pub const DEFAULT_TONE_MS: u32 = 100;

/// Usual silence after each digit.
pub const DEFAULT_GAP_MS: u32 = 100;

/// Usual level of each of the two frequencies: -13 dBov is about -7 dBm0
/// (on this crate's dBov scale a full-scale sine is -3 dBov, and +3.14 dBm0 in
/// G.711), the usual sending level for DTMF.
pub const DEFAULT_LEVEL_DBOV: f32 = -13.0;

/// Plays digits as DTMF tone pairs: for each digit `tone_ms` of the row and
/// column sines, then `gap_ms` of silence. Each tone starts at phase 0 and is
/// phase-continuous across frames. Returns [`Fill::Done`] on the frame that
/// holds the end of the last gap.
#[derive(Debug, Clone)]
pub struct DtmfTone {
    /// Row and column frequencies of each digit.
    digits: Vec<(f32, f32)>,
    index: usize,
    /// Position within the current digit (tone + gap), in samples.
    position: u64,
    tone_len: u64,
    digit_len: u64,
    low: Oscillator,
    high: Oscillator,
    amplitude: f64,
    rate: u32,
}

impl DtmfTone {
    /// A source playing `digits` (`0-9 * # A-D`, lower case accepted; an empty
    /// string plays nothing) at `rate` Hz, each tone `tone_ms` long followed by
    /// `gap_ms` of silence, each frequency at `level_dbov` (see
    /// [`DEFAULT_TONE_MS`], [`DEFAULT_GAP_MS`], [`DEFAULT_LEVEL_DBOV`]).
    ///
    /// Fails on a character that is not a digit, a zero `tone_ms`, or a rate
    /// too low to carry the 1633 Hz column tone (below 4 kHz).
    pub fn new(
        digits: &str,
        rate: u32,
        tone_ms: u32,
        gap_ms: u32,
        level_dbov: f32,
    ) -> Result<Self, DtmfError> {
        if rate < 4000 {
            return Err(DtmfError::BadRate(rate));
        }
        if tone_ms == 0 {
            return Err(DtmfError::ZeroDuration);
        }
        let digits = digits
            .chars()
            .map(|c| {
                normalize_digit(c)
                    .and_then(digit_freqs)
                    .ok_or(DtmfError::NotADigit(c))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let samples = |ms: u32| u64::from(ms) * u64::from(rate) / 1000;
        Ok(Self {
            digits,
            index: 0,
            position: 0,
            tone_len: samples(tone_ms).max(1),
            digit_len: samples(tone_ms).max(1) + samples(gap_ms),
            low: Oscillator::new(0.0, rate),
            high: Oscillator::new(0.0, rate),
            amplitude: sine_amplitude(level_dbov),
            rate,
        })
    }

    /// Whether every digit has been played (tones and gaps).
    pub fn is_done(&self) -> bool {
        self.index >= self.digits.len()
    }
}

impl AudioSource for DtmfTone {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        for s in out.iter_mut() {
            let Some(&(fr, fc)) = self.digits.get(self.index) else {
                *s = 0;
                continue;
            };
            if self.position == 0 {
                self.low = Oscillator::new(f64::from(fr), self.rate);
                self.high = Oscillator::new(f64::from(fc), self.rate);
            }
            *s = if self.position < self.tone_len {
                let v = self.low.next_sample() + self.high.next_sample();
                (v * self.amplitude).round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            };
            self.position += 1;
            if self.position >= self.digit_len {
                self.position = 0;
                self.index += 1;
            }
        }
        self.low.renormalize();
        self.high.renormalize();
        if self.is_done() {
            Fill::Done
        } else {
            Fill::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::frame_len;
    use crate::dtmf::goertzel::{tone_level_dbov, InbandDetector};

    /// Plays the source to the end in 20 ms frames.
    fn render(src: &mut DtmfTone, rate: u32) -> Vec<i16> {
        let mut out = Vec::new();
        let mut frame = vec![0i16; frame_len(rate)];
        for _ in 0..100_000 {
            let fill = src.fill(&mut frame);
            out.extend_from_slice(&frame);
            if fill == Fill::Done {
                return out;
            }
        }
        panic!("never done");
    }

    fn detect(rate: u32, pcm: &[i16]) -> String {
        let mut det = InbandDetector::new(rate);
        let mut s = String::new();
        for c in pcm.chunks(frame_len(rate)) {
            s.extend(det.process(c).map(|e| e.digit));
        }
        s.extend(det.flush().map(|e| e.digit));
        s
    }

    #[test]
    fn generated_digits_are_detected() {
        let digits = "0123456789*#ABCD";
        for rate in [8000, 16000] {
            let mut src = DtmfTone::new(
                digits,
                rate,
                DEFAULT_TONE_MS,
                DEFAULT_GAP_MS,
                DEFAULT_LEVEL_DBOV,
            )
            .unwrap();
            let pcm = render(&mut src, rate);
            assert_eq!(detect(rate, &pcm), digits, "{rate}");
            // Faster dialling, quieter, lower case.
            let mut src = DtmfTone::new("159#0d", rate, 50, 50, -25.0).unwrap();
            assert_eq!(detect(rate, &render(&mut src, rate)), "159#0D", "{rate}");
        }
    }

    #[test]
    fn timing_level_and_frequencies() {
        let rate = 8000;
        let mut src = DtmfTone::new("5#", rate, 100, 60, -12.0).unwrap();
        let pcm = render(&mut src, rate);
        // 2 × (800 + 480) samples, rounded up to whole frames.
        assert_eq!(pcm.len(), 2560);
        let first = &pcm[..800];
        assert!((tone_level_dbov(first, 770.0, rate) + 12.0).abs() < 0.3);
        assert!((tone_level_dbov(first, 1336.0, rate) + 12.0).abs() < 0.3);
        assert!(tone_level_dbov(first, 941.0, rate) < -35.0);
        assert!(pcm[800..1280].iter().all(|&s| s == 0));
        assert_eq!(pcm[1280], 0, "tone starts at phase 0");
        assert_ne!(pcm[1281], 0);
        let second = &pcm[1280..2080];
        assert!((tone_level_dbov(second, 941.0, rate) + 12.0).abs() < 0.3);
        assert!((tone_level_dbov(second, 1477.0, rate) + 12.0).abs() < 0.3);
        assert!(pcm[2080..].iter().all(|&s| s == 0));
        // Further calls give silence and Done.
        let mut frame = [1i16; 160];
        assert_eq!(src.fill(&mut frame), Fill::Done);
        assert!(frame.iter().all(|&s| s == 0));
    }

    #[test]
    fn loud_levels_do_not_wrap() {
        // At -10 dBov per tone the pair peaks just under full scale; louder
        // requests saturate instead of wrapping around.
        for (level, lo, hi) in [
            (-10.0, 29_000, 32_767),
            (-13.0, 20_000, 21_000),
            (0.0, 32_767, 32_768),
        ] {
            let mut src = DtmfTone::new("D", 8000, 500, 0, level).unwrap();
            let pcm = render(&mut src, 8000);
            let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(peak >= lo && peak <= hi, "{level}: peak {peak}");
            // Saturation keeps the sign of the waveform.
            let mut ok = DtmfTone::new("D", 8000, 500, 0, -20.0).unwrap();
            let quiet = render(&mut ok, 8000);
            for (a, b) in pcm.iter().zip(&quiet) {
                assert!(i32::from(*a) * i32::from(*b) >= 0);
            }
        }
    }

    #[test]
    fn bad_arguments() {
        assert_eq!(
            DtmfTone::new("12x", 8000, 100, 100, -10.0).err(),
            Some(DtmfError::NotADigit('x'))
        );
        assert_eq!(
            DtmfTone::new("1", 8000, 0, 100, -10.0).err(),
            Some(DtmfError::ZeroDuration)
        );
        assert_eq!(
            DtmfTone::new("1", 0, 100, 100, -10.0).err(),
            Some(DtmfError::BadRate(0))
        );
        let mut empty = DtmfTone::new("", 8000, 100, 100, -10.0).unwrap();
        let mut frame = [5i16; 160];
        assert_eq!(empty.fill(&mut frame), Fill::Done);
        assert!(frame.iter().all(|&s| s == 0));
    }
}
