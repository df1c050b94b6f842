//! Call-progress tones (dial, ringback, busy, congestion, call waiting) with
//! per-country tone plans, generated as an [`AudioSource`].
//!
//! A caller expects the tones of their own country: a Chinese caller hearing
//! the US ringback (two tones, 2 s on) may think the call failed. Values follow
//! the national plans collected in the ITU-T E.180 supplement (frequencies,
//! cadences); levels are moderate defaults near the national ones (about
//! -10 dBm0 in total). Every plan here is a sum of plain sines: none needs
//! amplitude modulation.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::audio::{AudioSource, Fill};

/// The kinds of call-progress tone a plan defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// Line ready, waiting for digits.
    Dial,
    /// The called party is being alerted (the caller hears ringing).
    Ringback,
    /// The called party is busy.
    Busy,
    /// The network cannot complete the call (reorder, all circuits busy).
    Congestion,
    /// Another call is waiting (played over the current call).
    CallWaiting,
}

impl ToneKind {
    /// Every kind, in declaration order.
    pub const ALL: [ToneKind; 5] = [
        ToneKind::Dial,
        ToneKind::Ringback,
        ToneKind::Busy,
        ToneKind::Congestion,
        ToneKind::CallWaiting,
    ];

    /// The canonical name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            ToneKind::Dial => "dial",
            ToneKind::Ringback => "ringback",
            ToneKind::Busy => "busy",
            ToneKind::Congestion => "congestion",
            ToneKind::CallWaiting => "call-waiting",
        }
    }
}

impl fmt::Display for ToneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tone kind name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tone kind {0:?} (expected dial, ringback, busy, congestion or call-waiting)")]
pub struct UnknownToneKind(pub String);

impl FromStr for ToneKind {
    type Err = UnknownToneKind;

    /// Case-insensitive; accepts the canonical names and the usual synonyms
    /// (`ring`, `ringing`, `reorder`, `callwaiting`, `call_waiting`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dial" => Ok(ToneKind::Dial),
            "ringback" | "ring" | "ringing" => Ok(ToneKind::Ringback),
            "busy" => Ok(ToneKind::Busy),
            "congestion" | "reorder" => Ok(ToneKind::Congestion),
            "call-waiting" | "callwaiting" | "call_waiting" => Ok(ToneKind::CallWaiting),
            _ => Err(UnknownToneKind(s.to_string())),
        }
    }
}

/// How one tone sounds.
#[derive(Debug, Clone, PartialEq)]
pub struct ToneSpec {
    /// Frequencies in Hz, summed.
    pub freqs: Vec<f32>,
    /// `(on_ms, off_ms)` pairs played in order and repeated; empty means
    /// continuous.
    pub cadence: Vec<(u32, u32)>,
    /// Level of each frequency component in dBov (the scale of
    /// [`crate::audio::level_dbov`]).
    pub level_dbov: f32,
}

impl ToneSpec {
    fn new(freqs: &[f32], cadence: &[(u32, u32)], level_dbov: f32) -> Self {
        Self {
            freqs: freqs.to_vec(),
            cadence: cadence.to_vec(),
            level_dbov,
        }
    }
}

/// The call-progress tones of one country.
#[derive(Debug, Clone, PartialEq)]
pub struct TonePlan {
    /// Lower-case country code (ISO 3166 alpha-2, or `eu` for the CEPT/ETSI
    /// harmonised plan).
    pub country: &'static str,
    /// Other codes accepted for this plan by [`tone_plan`].
    pub aliases: &'static [&'static str],
    /// English name of the country or region.
    pub name: &'static str,
    /// Dial tone.
    pub dial: ToneSpec,
    /// Ringback (ringing) tone.
    pub ringback: ToneSpec,
    /// Busy tone.
    pub busy: ToneSpec,
    /// Congestion (reorder) tone.
    pub congestion: ToneSpec,
    /// Call-waiting tone.
    pub call_waiting: ToneSpec,
}

impl TonePlan {
    /// The tone of `kind` in this plan.
    pub fn spec(&self, kind: ToneKind) -> &ToneSpec {
        match kind {
            ToneKind::Dial => &self.dial,
            ToneKind::Ringback => &self.ringback,
            ToneKind::Busy => &self.busy,
            ToneKind::Congestion => &self.congestion,
            ToneKind::CallWaiting => &self.call_waiting,
        }
    }
}

/// Level per component for single-frequency tones (≈ -10 dBm0).
const SINGLE_DBOV: f32 = -16.0;
/// Level per component for two-frequency tones (≈ -10 dBm0 in total).
const DUAL_DBOV: f32 = -19.0;

static PLANS: LazyLock<Vec<TonePlan>> = LazyLock::new(|| {
    let single = |f: f32, cadence: &[(u32, u32)]| ToneSpec::new(&[f], cadence, SINGLE_DBOV);
    let dual = |a: f32, b: f32, cadence: &[(u32, u32)]| ToneSpec::new(&[a, b], cadence, DUAL_DBOV);
    vec![
        TonePlan {
            country: "cn",
            aliases: &[],
            name: "China",
            dial: single(450.0, &[]),
            ringback: single(450.0, &[(1000, 4000)]),
            busy: single(450.0, &[(350, 350)]),
            congestion: single(450.0, &[(700, 700)]),
            call_waiting: single(450.0, &[(400, 4000)]),
        },
        TonePlan {
            country: "us",
            aliases: &["ca"],
            name: "United States / Canada (NANP)",
            dial: dual(350.0, 440.0, &[]),
            ringback: dual(440.0, 480.0, &[(2000, 4000)]),
            busy: dual(480.0, 620.0, &[(500, 500)]),
            congestion: dual(480.0, 620.0, &[(250, 250)]),
            // One 300 ms beep, repeated every 10 s while the call waits.
            call_waiting: single(440.0, &[(300, 9700)]),
        },
        TonePlan {
            country: "uk",
            aliases: &["gb"],
            name: "United Kingdom",
            dial: dual(350.0, 440.0, &[]),
            ringback: dual(400.0, 450.0, &[(400, 200), (400, 2000)]),
            busy: single(400.0, &[(375, 375)]),
            congestion: single(400.0, &[(400, 350), (225, 525)]),
            call_waiting: single(400.0, &[(100, 3000)]),
        },
        TonePlan {
            country: "de",
            aliases: &[],
            name: "Germany",
            dial: single(425.0, &[]),
            ringback: single(425.0, &[(1000, 4000)]),
            busy: single(425.0, &[(480, 480)]),
            congestion: single(425.0, &[(240, 240)]),
            call_waiting: single(425.0, &[(200, 200), (200, 5000)]),
        },
        TonePlan {
            country: "fr",
            aliases: &[],
            name: "France",
            dial: single(440.0, &[]),
            ringback: single(440.0, &[(1500, 3500)]),
            busy: single(440.0, &[(500, 500)]),
            congestion: single(440.0, &[(250, 250)]),
            call_waiting: single(440.0, &[(300, 10000)]),
        },
        TonePlan {
            country: "eu",
            aliases: &["cept", "etsi"],
            name: "Europe (CEPT/ETSI harmonised)",
            dial: single(425.0, &[]),
            ringback: single(425.0, &[(1000, 4000)]),
            busy: single(425.0, &[(500, 500)]),
            congestion: single(425.0, &[(250, 250)]),
            call_waiting: single(425.0, &[(150, 150), (150, 4000)]),
        },
    ]
});

/// The tone plan of a country code (case-insensitive: `cn`, `us`/`ca`,
/// `uk`/`gb`, `de`, `fr`, `eu`), or `None` if there is none.
pub fn tone_plan(country: &str) -> Option<&'static TonePlan> {
    let code = country.trim().to_ascii_lowercase();
    PLANS
        .iter()
        .find(|p| p.country == code || p.aliases.contains(&code.as_str()))
}

/// The primary codes of all plans (aliases not included).
pub fn countries() -> impl Iterator<Item = &'static str> {
    PLANS.iter().map(|p| p.country)
}

/// Peak amplitude of a sine at `dbov` on the square-wave-referenced scale.
pub(crate) fn sine_amplitude(dbov: f32) -> f64 {
    32768.0 * std::f64::consts::SQRT_2 * 10f64.powf(f64::from(dbov) / 20.0)
}

/// A sine oscillator kept as a rotating unit phasor: one complex multiply per
/// sample instead of a `sin()` call, renormalised once per frame so rounding
/// cannot make it grow or decay.
#[derive(Debug, Clone)]
pub(crate) struct Oscillator {
    re: f64,
    im: f64,
    step_re: f64,
    step_im: f64,
}

impl Oscillator {
    /// An oscillator at `freq` Hz for `rate` Hz sampling, starting at phase 0.
    pub(crate) fn new(freq: f64, rate: u32) -> Self {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate.max(1));
        Self {
            re: 1.0,
            im: 0.0,
            step_re: w.cos(),
            step_im: w.sin(),
        }
    }

    /// Back to phase 0 (the sine starts at zero, so a burst starts without a
    /// click).
    pub(crate) fn reset(&mut self) {
        self.re = 1.0;
        self.im = 0.0;
    }

    /// The next sample of `sin(phase)`, then advances the phase.
    #[inline]
    pub(crate) fn next_sample(&mut self) -> f64 {
        let out = self.im;
        let re = self.re * self.step_re - self.im * self.step_im;
        self.im = self.re * self.step_im + self.im * self.step_re;
        self.re = re;
        out
    }

    pub(crate) fn renormalize(&mut self) {
        let norm = (self.re * self.re + self.im * self.im).sqrt();
        if norm > 0.0 {
            self.re /= norm;
            self.im /= norm;
        }
    }
}

/// Plays a [`ToneSpec`]: its cadence repeated forever (or until
/// [`Self::with_limit`]), phase-continuous across frames, each burst
/// starting at phase 0.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    oscillators: Vec<Oscillator>,
    amplitude: f64,
    /// Cadence in samples; empty means continuous.
    cadence: Vec<(u64, u64)>,
    segment: usize,
    /// Position within the current segment (on + off).
    position: u64,
    /// Samples left before the end, if limited.
    remaining: Option<u64>,
    rate: u32,
}

impl ToneGenerator {
    /// A generator of `spec` at `rate` Hz (0 is taken as 8000).
    pub fn new(spec: &ToneSpec, rate: u32) -> Self {
        let rate = if rate == 0 { 8000 } else { rate };
        let to_samples = |ms: u32| u64::from(ms) * u64::from(rate) / 1000;
        let mut cadence: Vec<(u64, u64)> = spec
            .cadence
            .iter()
            .map(|&(on, off)| (to_samples(on), to_samples(off)))
            .collect();
        // A cadence with no length at all would never advance: continuous.
        if cadence.iter().all(|&(on, off)| on + off == 0) {
            cadence.clear();
        }
        Self {
            oscillators: spec
                .freqs
                .iter()
                .map(|&f| Oscillator::new(f64::from(f), rate))
                .collect(),
            amplitude: sine_amplitude(spec.level_dbov),
            cadence,
            segment: 0,
            position: 0,
            remaining: None,
            rate,
        }
    }

    /// Ends the tone after `ms` milliseconds: the frame holding the last
    /// sample returns [`Fill::Done`].
    pub fn with_limit(mut self, ms: u32) -> Self {
        self.remaining = Some(u64::from(ms) * u64::from(self.rate) / 1000);
        self
    }

    /// Whether the current sample is in an "on" part, advancing the cadence.
    fn step_cadence(&mut self) -> bool {
        if self.cadence.is_empty() {
            return true;
        }
        loop {
            let (on, off) = self.cadence[self.segment];
            if self.position < on + off {
                let on_now = self.position < on;
                if self.position == 0 && on_now {
                    self.oscillators.iter_mut().for_each(Oscillator::reset);
                }
                self.position += 1;
                return on_now;
            }
            self.position = 0;
            self.segment = (self.segment + 1) % self.cadence.len();
        }
    }
}

impl AudioSource for ToneGenerator {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        let mut done = false;
        for s in out.iter_mut() {
            if let Some(left) = self.remaining.as_mut() {
                if *left == 0 {
                    *s = 0;
                    done = true;
                    continue;
                }
                *left -= 1;
            }
            *s = if self.step_cadence() {
                let v: f64 = self
                    .oscillators
                    .iter_mut()
                    .map(Oscillator::next_sample)
                    .sum();
                (v * self.amplitude).round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            };
        }
        self.oscillators
            .iter_mut()
            .for_each(Oscillator::renormalize);
        if done || self.remaining == Some(0) {
            Fill::Done
        } else {
            Fill::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{frame_len, level_dbov};
    use crate::dtmf::goertzel::tone_level_dbov;

    /// `ms` milliseconds of a generator, pulled in 20 ms frames.
    fn render(gen: &mut ToneGenerator, rate: u32, ms: u32) -> Vec<i16> {
        let n = (u64::from(ms) * u64::from(rate) / 1000) as usize;
        let mut out = Vec::with_capacity(n);
        let mut frame = vec![0i16; frame_len(rate)];
        while out.len() < n {
            gen.fill(&mut frame);
            out.extend_from_slice(&frame);
        }
        out.truncate(n);
        out
    }

    #[test]
    fn china_ringback_cadence_and_frequency() {
        for rate in [8000, 16000] {
            let plan = tone_plan("CN").unwrap();
            let spec = plan.spec(ToneKind::Ringback);
            let mut gen = ToneGenerator::new(spec, rate);
            let pcm = render(&mut gen, rate, 11_000);
            let f = frame_len(rate);
            for (i, frame) in pcm.chunks(f).enumerate() {
                let t = (i as u32 * 20) % 5000;
                let at_450 = tone_level_dbov(frame, 450.0, rate);
                if t < 1000 {
                    assert!(
                        (at_450 - spec.level_dbov).abs() < 0.5,
                        "{rate} frame {i}: {at_450} dBov at 450 Hz"
                    );
                    assert!((level_dbov(frame) - spec.level_dbov).abs() < 0.5);
                    assert!(tone_level_dbov(frame, 900.0, rate) < -60.0);
                } else {
                    assert!(frame.iter().all(|&s| s == 0), "{rate} frame {i} not silent");
                }
            }
        }
    }

    #[test]
    fn us_ringback_has_both_frequencies() {
        for rate in [8000, 16000] {
            let spec = tone_plan("us").unwrap().spec(ToneKind::Ringback);
            let pcm = render(&mut ToneGenerator::new(spec, rate), rate, 2000);
            // 100 ms windows hold whole periods of 440 and 480 Hz.
            for w in pcm.chunks(rate as usize / 10) {
                for f in [440.0, 480.0] {
                    let l = tone_level_dbov(w, f, rate);
                    assert!((l - spec.level_dbov).abs() < 0.5, "{f} Hz: {l}");
                }
                for f in [350.0, 620.0, 960.0] {
                    assert!(tone_level_dbov(w, f, rate) < -60.0, "{f} Hz present");
                }
            }
            let after = render(&mut ToneGenerator::new(spec, rate), rate, 6000);
            assert!(after[2 * rate as usize..].iter().all(|&s| s == 0));
        }
    }

    /// Checks on/off boundaries of a cadenced tone to the sample: the last
    /// "on" sample is non-zero, every "off" sample is zero, and the next burst
    /// restarts (its first sample is sin(0) = 0, its second is non-zero).
    fn assert_cadence_exact(spec: &ToneSpec, rate: u32, cycles: usize) {
        let samples = |ms: u32| (u64::from(ms) * u64::from(rate) / 1000) as usize;
        let period: usize = spec
            .cadence
            .iter()
            .map(|&(a, b)| samples(a) + samples(b))
            .sum();
        let pcm = render(
            &mut ToneGenerator::new(spec, rate),
            rate,
            (cycles * period * 1000 / rate as usize) as u32 + 100,
        );
        let mut at = 0;
        for _ in 0..cycles {
            for &(on, off) in &spec.cadence {
                let (on, off) = (samples(on), samples(off));
                assert_eq!(pcm[at], 0, "burst at {at} starts at phase 0");
                assert_ne!(pcm[at + 1], 0, "burst at {at}");
                assert_ne!(pcm[at + on - 1], 0, "last on sample {}", at + on - 1);
                assert!(
                    pcm[at + on..at + on + off].iter().all(|&s| s == 0),
                    "off part at {}",
                    at + on
                );
                at += on + off;
            }
        }
    }

    #[test]
    fn busy_cadence_exact_to_the_sample() {
        for rate in [8000, 16000] {
            for country in ["cn", "us", "uk", "de"] {
                let plan = tone_plan(country).unwrap();
                assert_cadence_exact(plan.spec(ToneKind::Busy), rate, 4);
            }
            // Multi-segment cadences.
            assert_cadence_exact(tone_plan("uk").unwrap().spec(ToneKind::Ringback), rate, 2);
            assert_cadence_exact(tone_plan("uk").unwrap().spec(ToneKind::Congestion), rate, 2);
        }
        // cn busy at 8 kHz: 350 ms = 2800 samples on, 2800 off.
        let spec = tone_plan("cn").unwrap().spec(ToneKind::Busy);
        let pcm = render(&mut ToneGenerator::new(spec, 8000), 8000, 1400);
        let last_on = pcm[..5600].iter().rposition(|&s| s != 0);
        assert_eq!(last_on, Some(2799));
        let next_on = pcm[2800..].iter().position(|&s| s != 0).map(|i| i + 2800);
        assert_eq!(next_on, Some(5601));
    }

    #[test]
    fn phase_continuous_across_frames() {
        let spec = tone_plan("us").unwrap().spec(ToneKind::Dial);
        let rate = 8000;
        let whole = {
            let mut g = ToneGenerator::new(spec, rate);
            let mut buf = vec![0i16; 8000];
            g.fill(&mut buf);
            buf
        };
        let framed = render(&mut ToneGenerator::new(spec, rate), rate, 1000);
        let odd = {
            let mut g = ToneGenerator::new(spec, rate);
            let mut out = Vec::new();
            let mut buf = vec![0i16; 77];
            while out.len() < 8000 {
                g.fill(&mut buf);
                out.extend_from_slice(&buf);
            }
            out.truncate(8000);
            out
        };
        // Renormalisation happens at different points; allow 1 LSB.
        for (i, ((a, b), c)) in whole.iter().zip(&framed).zip(&odd).enumerate() {
            assert!((a - b).abs() <= 1 && (a - c).abs() <= 1, "sample {i}");
        }
        // No jumps larger than a sine's slope allows anywhere.
        let amp = sine_amplitude(spec.level_dbov);
        let max_step = amp * 2.0 * std::f64::consts::PI * (350.0 + 440.0) / 8000.0 + 2.0;
        for w in framed.windows(2) {
            assert!(f64::from((w[1] - w[0]).abs()) <= max_step);
        }
    }

    #[test]
    fn continuous_until_limit() {
        let spec = tone_plan("de").unwrap().spec(ToneKind::Dial);
        assert!(spec.cadence.is_empty());
        let mut gen = ToneGenerator::new(spec, 8000);
        let mut frame = [0i16; 160];
        for _ in 0..500 {
            assert_eq!(gen.fill(&mut frame), Fill::More);
        }
        assert!((level_dbov(&frame) - spec.level_dbov).abs() < 0.5);
        let mut gen = ToneGenerator::new(spec, 8000).with_limit(30);
        assert_eq!(gen.fill(&mut frame), Fill::More);
        assert_eq!(gen.fill(&mut frame), Fill::Done);
        assert!(frame[..80].iter().filter(|&&s| s != 0).count() > 70);
        assert!(frame[80..].iter().all(|&s| s == 0));
        assert_eq!(gen.fill(&mut frame), Fill::Done);
        assert!(frame.iter().all(|&s| s == 0));
        // A limit on a frame boundary ends on that frame.
        let mut gen = ToneGenerator::new(spec, 8000).with_limit(40);
        assert_eq!(gen.fill(&mut frame), Fill::More);
        assert_eq!(gen.fill(&mut frame), Fill::Done);
        // Cadenced tones never end by themselves.
        let mut gen = ToneGenerator::new(tone_plan("us").unwrap().spec(ToneKind::Busy), 8000);
        for _ in 0..1000 {
            assert_eq!(gen.fill(&mut frame), Fill::More);
        }
    }

    #[test]
    fn plan_lookup() {
        assert_eq!(tone_plan("cn").map(|p| p.country), Some("cn"));
        assert_eq!(tone_plan(" US ").map(|p| p.country), Some("us"));
        assert_eq!(tone_plan("GB").map(|p| p.country), Some("uk"));
        assert_eq!(tone_plan("ca").map(|p| p.country), Some("us"));
        assert_eq!(tone_plan("De").map(|p| p.country), Some("de"));
        assert!(tone_plan("xx").is_none());
        assert!(tone_plan("").is_none());
        let codes: Vec<&str> = countries().collect();
        for c in ["cn", "us", "uk", "de", "fr", "eu"] {
            assert!(codes.contains(&c), "{c}");
        }
        let us = tone_plan("us").unwrap();
        assert_eq!(us.spec(ToneKind::Busy).freqs, vec![480.0, 620.0]);
        assert_eq!(us.spec(ToneKind::Busy).cadence, vec![(500, 500)]);
        assert_eq!(us.spec(ToneKind::Congestion).cadence, vec![(250, 250)]);
        let cn = tone_plan("cn").unwrap();
        assert_eq!(cn.spec(ToneKind::Dial).freqs, vec![450.0]);
        assert!(cn.spec(ToneKind::Dial).cadence.is_empty());
        assert_eq!(cn.spec(ToneKind::CallWaiting).cadence, vec![(400, 4000)]);
    }

    #[test]
    fn all_plans_define_all_kinds() {
        let mut n = 0;
        for code in countries() {
            let plan = tone_plan(code).unwrap();
            assert_eq!(plan.country, code);
            for alias in plan.aliases {
                assert_eq!(tone_plan(alias).map(|p| p.country), Some(code));
            }
            for kind in ToneKind::ALL {
                let s = plan.spec(kind);
                assert!(!s.freqs.is_empty(), "{code} {kind}");
                assert!(
                    s.freqs.iter().all(|&f| (300.0..3400.0).contains(&f)),
                    "{code} {kind}"
                );
                assert!(s.cadence.iter().all(|&(on, _)| on > 0), "{code} {kind}");
                assert!((-30.0..-6.0).contains(&s.level_dbov), "{code} {kind}");
                // And it plays: some energy in the first second.
                let pcm = render(&mut ToneGenerator::new(s, 8000), 8000, 1000);
                assert!(level_dbov(&pcm) > -40.0, "{code} {kind}");
            }
            // Busy and congestion are interrupted; dial is continuous.
            assert!(!plan.busy.cadence.is_empty() && !plan.congestion.cadence.is_empty());
            assert!(plan.dial.cadence.is_empty(), "{code} dial");
            n += 1;
        }
        assert!(n >= 6);
    }

    #[test]
    fn tone_kind_from_str() {
        assert_eq!("ringback".parse(), Ok(ToneKind::Ringback));
        assert_eq!("Busy".parse(), Ok(ToneKind::Busy));
        assert_eq!("DIAL".parse(), Ok(ToneKind::Dial));
        assert_eq!("reorder".parse(), Ok(ToneKind::Congestion));
        assert_eq!("congestion".parse(), Ok(ToneKind::Congestion));
        assert_eq!("call-waiting".parse(), Ok(ToneKind::CallWaiting));
        assert_eq!("callwaiting".parse(), Ok(ToneKind::CallWaiting));
        for kind in ToneKind::ALL {
            assert_eq!(kind.to_string().parse(), Ok(kind));
        }
        let err = "beep".parse::<ToneKind>().unwrap_err();
        assert_eq!(err, UnknownToneKind("beep".into()));
        assert!(err.to_string().contains("\"beep\""), "{err}");
    }

    #[test]
    fn zero_length_cadence_is_continuous() {
        let spec = ToneSpec::new(&[1000.0], &[(0, 0)], -10.0);
        let mut gen = ToneGenerator::new(&spec, 8000);
        let mut frame = [0i16; 160];
        assert_eq!(gen.fill(&mut frame), Fill::More);
        assert!((tone_level_dbov(&frame, 1000.0, 8000) + 10.0).abs() < 0.5);
    }

    #[test]
    fn progress_tones_are_not_dtmf() {
        // Ringback or busy playing on a leg must not be taken for key presses.
        for code in countries() {
            let plan = tone_plan(code).unwrap();
            for kind in ToneKind::ALL {
                for rate in [8000, 16000] {
                    let pcm = render(&mut ToneGenerator::new(plan.spec(kind), rate), rate, 3000);
                    let mut det = crate::dtmf::goertzel::InbandDetector::new(rate);
                    let mut got: Vec<_> = pcm
                        .chunks(frame_len(rate))
                        .filter_map(|c| det.process(c))
                        .collect();
                    got.extend(det.flush());
                    assert!(got.is_empty(), "{code} {kind} at {rate}: {got:?}");
                }
            }
        }
    }
}
