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

/// Sources played one after another (a prompt list: "you are caller", "3",
/// "please hold"). Each item starts on a frame boundary: an item's partial
/// last frame is padded with silence (under 20 ms, inaudible between prompts).
#[derive(Default)]
pub struct Sequence {
    items: std::collections::VecDeque<Box<dyn AudioSource>>,
}

impl Sequence {
    /// A sequence of `items`, played in order.
    pub fn new(items: Vec<Box<dyn AudioSource>>) -> Self {
        Sequence {
            items: items.into(),
        }
    }
}

impl AudioSource for Sequence {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        let Some(item) = self.items.front_mut() else {
            out.fill(0);
            return Fill::Done;
        };
        if item.fill(out) == Fill::Done {
            self.items.pop_front();
            if self.items.is_empty() {
                return Fill::Done;
            }
        }
        Fill::More
    }
}

/// Plays a source for at most `ms` milliseconds (tones that would loop forever).
pub struct Limited<S> {
    inner: S,
    left: usize,
}

impl<S: AudioSource> Limited<S> {
    /// `inner`, cut after `ms` at `rate`.
    pub fn new(inner: S, rate: u32, ms: u32) -> Self {
        let left = (u64::from(rate) * u64::from(ms) / 1000) as usize;
        Limited { inner, left }
    }
}

impl<S: AudioSource> AudioSource for Limited<S> {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        if self.left == 0 {
            out.fill(0);
            return Fill::Done;
        }
        let state = self.inner.fill(out);
        if self.left <= out.len() {
            out[self.left..].fill(0);
            self.left = 0;
            return Fill::Done;
        }
        self.left -= out.len();
        state
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

    /// Counts up from `start`, `n` samples, then Done.
    struct Ramp {
        next: i16,
        left: usize,
    }

    impl AudioSource for Ramp {
        fn fill(&mut self, out: &mut [i16]) -> Fill {
            for s in out.iter_mut() {
                if self.left == 0 {
                    *s = 0;
                    continue;
                }
                *s = self.next;
                self.next += 1;
                self.left -= 1;
            }
            if self.left == 0 {
                Fill::Done
            } else {
                Fill::More
            }
        }
    }

    #[test]
    fn sequence_plays_items_in_order_frame_aligned() {
        let mut seq = Sequence::new(vec![
            Box::new(Ramp { next: 1, left: 200 }),
            Box::new(Ramp {
                next: 1000,
                left: 100,
            }),
        ]);
        let mut f = [0i16; 160];
        assert_eq!(seq.fill(&mut f), Fill::More);
        assert_eq!((f[0], f[159]), (1, 160));
        // Item 1's last 40 samples; frame-aligned items restart on a frame.
        assert_eq!(seq.fill(&mut f), Fill::More);
        assert_eq!((f[0], f[39], f[40]), (161, 200, 0));
        assert_eq!(seq.fill(&mut f), Fill::Done);
        assert_eq!((f[0], f[99], f[100]), (1000, 1099, 0));
        assert_eq!(seq.fill(&mut f), Fill::Done);
        assert!(f.iter().all(|&s| s == 0));
    }

    #[test]
    fn limited_cuts_an_endless_source() {
        struct Ones;
        impl AudioSource for Ones {
            fn fill(&mut self, out: &mut [i16]) -> Fill {
                out.fill(1);
                Fill::More
            }
        }
        // 25 ms at 8 kHz = 200 samples: one full frame, then 40.
        let mut l = Limited::new(Ones, 8000, 25);
        let mut f = [0i16; 160];
        assert_eq!(l.fill(&mut f), Fill::More);
        assert_eq!(l.fill(&mut f), Fill::Done);
        assert_eq!(f.iter().filter(|&&s| s == 1).count(), 40);
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
