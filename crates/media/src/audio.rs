//! The common shape of decoded audio inside Switchboard: mono signed 16-bit
//! PCM at 8 or 16 kHz, moved in 20 ms frames.
//!
//! Every generator (file player, tone, DTMF tone, mixer output) implements
//! [`AudioSource`], so the media session can switch what a leg hears (prompt,
//! bridge, music on hold) without knowing where the audio comes from.

/// Length of one media frame (the packetisation time, `ptime`) in milliseconds.
pub const FRAME_MS: u32 = 20;

/// Narrowband rate (G.711).
pub const RATE_8K: u32 = 8_000;

/// Wideband rate (G.722).
pub const RATE_16K: u32 = 16_000;

/// Samples in one [`FRAME_MS`] frame at `rate` Hz (160 at 8 kHz, 320 at 16 kHz).
pub const fn frame_len(rate: u32) -> usize {
    (rate / 1000 * FRAME_MS) as usize
}

/// What an [`AudioSource`] says after filling a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// The frame is filled and more audio follows.
    More,
    /// The source has ended: the frame holds its last samples (the rest of
    /// the frame is silence) and further calls give silence.
    Done,
}

/// A producer of audio, pulled one frame at a time by the media session.
pub trait AudioSource: Send {
    /// Fills `out` (one frame at the source's rate) with the next samples.
    fn fill(&mut self, out: &mut [i16]) -> Fill;
}

/// Boxed sources are sources too, so a session can hold `Box<dyn AudioSource>`.
impl<S: AudioSource + ?Sized> AudioSource for Box<S> {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        (**self).fill(out)
    }
}

/// Silence forever: the source of a leg that hears nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silence;

impl AudioSource for Silence {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        out.fill(0);
        Fill::More
    }
}

/// Mean energy of a frame in dBov (0 dB is a full-scale square wave; digital
/// silence is -96 dB). Used for talk detection and by tests.
pub fn level_dbov(pcm: &[i16]) -> f32 {
    if pcm.is_empty() {
        return -96.0;
    }
    let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / pcm.len() as f64).sqrt();
    if rms < 1.0 {
        return -96.0;
    }
    (20.0 * (rms / 32768.0).log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths() {
        assert_eq!(frame_len(RATE_8K), 160);
        assert_eq!(frame_len(RATE_16K), 320);
    }

    #[test]
    fn silence_fills_zeroes_forever() {
        let mut buf = [7i16; 160];
        assert_eq!(Silence.fill(&mut buf), Fill::More);
        assert!(buf.iter().all(|&s| s == 0));
    }

    #[test]
    fn levels() {
        assert_eq!(level_dbov(&[0; 160]), -96.0);
        let square = [i16::MAX, i16::MIN].repeat(80);
        assert!(level_dbov(&square).abs() < 0.01);
        let quiet: Vec<i16> = square.iter().map(|s| s / 100).collect();
        assert!((level_dbov(&quiet) + 40.0).abs() < 0.1);
    }
}
