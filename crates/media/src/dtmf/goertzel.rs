//! In-band DTMF detection: finds keypad tones in decoded PCM (8 or 16 kHz),
//! for callers whose phones or gateways send digits as audio.
//!
//! The signal is analysed in windows of 105 samples at 8 kHz (13.1 ms; 210 at
//! 16 kHz), sliding by a fifth of a window (2.6 ms). Each window gets the DFT
//! at the 8 DTMF frequencies and their second harmonics; the sliding is cheap
//! because every sub-block of 21 samples goes through Goertzel filters once
//! and a window's DFT is the sum of its five sub-blocks' DFTs, all referred to
//! the same time origin. With a window this short, the row and column tones
//! leak into each other's bins (rectangular window side lobes, up to -17 dB
//! for `*`), so the two tone amplitudes are solved jointly from both bins and
//! their predicted leakage is removed from the harmonic bins. A window is a
//! *hit* for a digit when:
//!
//! - the strongest row and column tones are each above
//!   [`MIN_TONE_LEVEL_DBOV`];
//! - each is at least [`RELATIVE_PEAK_DB`] above the other tones of its group;
//! - the twist (column level minus row level) is within
//!   `-`[`MAX_REVERSE_TWIST_DB`] ..= `+`[`MAX_NORMAL_TWIST_DB`];
//! - the two tones carry at least [`MIN_TONE_ENERGY_RATIO`] of the window's
//!   energy (speech and music spread their energy over many frequencies);
//! - their second harmonics are [`MIN_HARMONIC_REJECT_DB`] below them (voiced
//!   speech has a full harmonic series).
//!
//! A key press starts after a run of hits lasting about 34 ms (tones of 40 ms
//! and more are accepted, 25 ms rejected) and ends after about 30 ms without
//! hits; shorter drop-outs are bridged. **The digit is reported when the key
//! is released** (the press has ended), with its measured duration, exactly
//! once however long the key is held; this is the same moment RFC 4733
//! reports digits (their end packet).

use std::collections::VecDeque;
use std::f64::consts::PI;

use super::{normalize_digit, DigitEvent, DtmfSource};

/// Row (low group) frequencies in Hz.
pub const ROW_FREQS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];

/// Column (high group) frequencies in Hz.
pub const COL_FREQS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The keypad: `KEYPAD[row][col]`.
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Minimum level of each of the two tones in a window, in dBov (the scale of
/// [`crate::audio::level_dbov`]), about -34 dBm0.
pub const MIN_TONE_LEVEL_DBOV: f64 = -40.0;

/// How far each tone must exceed the other tones of its group.
pub const RELATIVE_PEAK_DB: f64 = 6.0;

/// How much stronger the column tone may be than the row tone ("normal" twist:
/// senders pre-emphasise the high group). 0.5 dB is allowed on top for
/// measurement error.
pub const MAX_NORMAL_TWIST_DB: f64 = 4.0;

/// How much weaker the column tone may be than the row tone ("reverse" twist:
/// lines attenuate high frequencies more). 0.5 dB is allowed on top.
pub const MAX_REVERSE_TWIST_DB: f64 = 8.0;

const TWIST_ALLOWANCE_DB: f64 = 0.5;

/// Share of the window energy the two tones must carry.
pub const MIN_TONE_ENERGY_RATIO: f64 = 0.7;

/// How far below its fundamental a tone's second harmonic must be.
pub const MIN_HARMONIC_REJECT_DB: f64 = 15.0;

/// Sub-blocks per analysis window.
const SUBS_PER_WINDOW: usize = 5;

/// Sub-block length at 8 kHz (the window is 5 × 21 = 105 samples).
const SUB_LEN_8K: u32 = 21;

/// Consecutive hit windows that make a key press (≈ 34 ms of tone).
const MIN_HITS: u32 = 11;

/// Consecutive non-hit windows that end a key press (≈ 30 ms of pause).
const RELEASE_MISSES: u32 = 14;

/// Filters: rows 0-3, columns 4-7, row harmonics 8-11, column harmonics 12-15.
const FILTERS: usize = 16;

/// The row and column frequencies of a digit (`0-9 * # A-D`).
pub fn digit_freqs(digit: char) -> Option<(f32, f32)> {
    let d = normalize_digit(digit)?;
    for (r, row) in KEYPAD.iter().enumerate() {
        for (c, &k) in row.iter().enumerate() {
            if k == d {
                return Some((ROW_FREQS[r], COL_FREQS[c]));
            }
        }
    }
    None
}

/// Level in dBov of the sinusoidal component of `pcm` at `freq` Hz (single
/// DFT bin over the whole slice, rectangular window): a full-scale sine
/// measures about -3 dBov, as with [`crate::audio::level_dbov`]. For tests
/// and diagnostics; accurate when the slice holds many periods of `freq`.
pub fn tone_level_dbov(pcm: &[i16], freq: f32, rate: u32) -> f32 {
    if pcm.is_empty() || rate == 0 {
        return -96.0;
    }
    let w = 2.0 * PI * f64::from(freq) / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let amplitude = 2.0 * power.max(0.0).sqrt() / pcm.len() as f64;
    level_of_amplitude(amplitude).max(-96.0) as f32
}

/// dBov level of a sine of peak amplitude `amplitude`.
fn level_of_amplitude(amplitude: f64) -> f64 {
    let rms = amplitude / std::f64::consts::SQRT_2;
    if rms <= 0.0 {
        return -200.0;
    }
    20.0 * (rms / 32768.0).log10()
}

/// Minimal complex number for the DFT bookkeeping.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct C {
    re: f64,
    im: f64,
}

impl C {
    fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }
    fn expj(angle: f64) -> Self {
        let (s, c) = angle.sin_cos();
        Self { re: c, im: s }
    }
    fn mul(self, o: Self) -> Self {
        Self::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }
    fn sub(self, o: Self) -> Self {
        Self::new(self.re - o.re, self.im - o.im)
    }
    fn scale(self, k: f64) -> Self {
        Self::new(self.re * k, self.im * k)
    }
    fn conj(self) -> Self {
        Self::new(self.re, -self.im)
    }
    fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }
}

/// One Goertzel filter, run over one sub-block at a time.
#[derive(Debug, Clone)]
struct Filter {
    /// Frequency in whole Hz: all DTMF frequencies and harmonics are, which
    /// makes `e^{-jωn}` periodic in `n` with period `rate`, so phases can be
    /// computed from `n mod rate` without precision loss on long streams.
    hz: u32,
    w: f64,
    coeff: f64,
    cos: f64,
    sin: f64,
    s1: f64,
    s2: f64,
}

impl Filter {
    fn new(hz: u32, rate: u32) -> Self {
        let w = 2.0 * PI * f64::from(hz) / f64::from(rate);
        Self {
            hz,
            w,
            coeff: 2.0 * w.cos(),
            cos: w.cos(),
            sin: w.sin(),
            s1: 0.0,
            s2: 0.0,
        }
    }

    #[inline]
    fn push(&mut self, x: f64) {
        let s = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s;
    }

    /// Ends a sub-block of `len` samples whose first sample is number
    /// `start` (mod rate) of the stream: returns `Σ x[n]·e^{-jωn}` over the
    /// sub-block, `n` counted from the stream start.
    fn finish(&mut self, start: u64, len: usize, rate: u32) -> C {
        // y = s[S-1] - e^{-jω}·s[S-2] = e^{jω(S-1)}·Σ_m x[m]·e^{-jωm}
        let y = C::new(self.s1 - self.cos * self.s2, self.sin * self.s2);
        let n = (start + len as u64 - 1) % u64::from(rate);
        self.s1 = 0.0;
        self.s2 = 0.0;
        y.mul(C::expj(-self.w * n as f64))
    }
}

#[derive(Debug, Clone, Copy)]
struct Press {
    code: usize,
    first_hit: u64,
    last_hit: u64,
    misses: u32,
}

/// In-band DTMF detector for one audio stream.
///
/// Feed it the decoded audio in order, in 20 ms frames or any other lengths;
/// see the module documentation for the criteria. Rates from 8 kHz up are
/// supported (8 and 16 kHz are the tested ones); a detector created with a
/// lower rate, which cannot carry the column tones, never reports anything.
#[derive(Debug)]
pub struct InbandDetector {
    rate: u32,
    sub_len: usize,
    filters: Vec<Filter>,
    /// DFT of the last sub-blocks, per filter, on the stream's time origin.
    subs: VecDeque<[C; FILTERS]>,
    energies: VecDeque<f64>,
    fill: usize,
    energy: f64,
    /// Stream position (mod rate) of the current sub-block's first sample.
    sub_start: u64,
    window_idx: u64,
    run_code: Option<usize>,
    run_len: u32,
    run_start: u64,
    pressed: Option<Press>,
    pending: VecDeque<DigitEvent>,
}

impl InbandDetector {
    /// A detector for audio at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        let sub_len = ((u64::from(rate) * u64::from(SUB_LEN_8K) + 4000) / 8000).max(1) as usize;
        let mut hz = [0u32; FILTERS];
        for i in 0..4 {
            hz[i] = ROW_FREQS[i] as u32;
            hz[4 + i] = COL_FREQS[i] as u32;
            hz[8 + i] = 2 * ROW_FREQS[i] as u32;
            hz[12 + i] = 2 * COL_FREQS[i] as u32;
        }
        let filter_rate = rate.max(1);
        Self {
            rate,
            sub_len,
            filters: hz.iter().map(|&f| Filter::new(f, filter_rate)).collect(),
            subs: VecDeque::with_capacity(SUBS_PER_WINDOW + 1),
            energies: VecDeque::with_capacity(SUBS_PER_WINDOW + 1),
            fill: 0,
            energy: 0.0,
            sub_start: 0,
            window_idx: 0,
            run_code: None,
            run_len: 0,
            run_start: 0,
            pressed: None,
            pending: VecDeque::new(),
        }
    }

    /// The sample rate this detector was made for.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Analyses the next samples; returns a digit when a key press has ended.
    /// If one call completes several presses (a long buffer), the others are
    /// returned by the following calls (`process(&[])` drains them).
    pub fn process(&mut self, pcm: &[i16]) -> Option<DigitEvent> {
        if self.rate >= 8000 {
            for &x in pcm {
                let x = f64::from(x);
                for f in &mut self.filters {
                    f.push(x);
                }
                self.energy += x * x;
                self.fill += 1;
                if self.fill == self.sub_len {
                    self.end_sub_block();
                }
            }
        }
        self.pending.pop_front()
    }

    /// Ends the stream: reports a key still held (or queued) now.
    pub fn flush(&mut self) -> Option<DigitEvent> {
        if let Some(p) = self.pressed.take() {
            self.emit(p);
        }
        self.pending.pop_front()
    }

    fn end_sub_block(&mut self) {
        let mut sub = [C::default(); FILTERS];
        for (out, f) in sub.iter_mut().zip(&mut self.filters) {
            *out = f.finish(self.sub_start, self.sub_len, self.rate);
        }
        if self.subs.len() == SUBS_PER_WINDOW {
            self.subs.pop_front();
            self.energies.pop_front();
        }
        self.subs.push_back(sub);
        self.energies.push_back(self.energy);
        self.energy = 0.0;
        self.fill = 0;
        self.sub_start = (self.sub_start + self.sub_len as u64) % u64::from(self.rate);
        if self.subs.len() == SUBS_PER_WINDOW {
            let hit = self.analyse();
            self.on_window(hit);
        }
    }

    /// `Σ_{m<N} e^{jδm}` times the phase of the window start: what a unit
    /// complex exponential at `from_hz` puts into the DFT bin at `to_hz` over
    /// the current window.
    fn leakage(&self, from_hz: u32, to_hz: u32) -> C {
        let n = (self.sub_len * SUBS_PER_WINDOW) as f64;
        let rate = u64::from(self.rate);
        let window = (self.sub_len * SUBS_PER_WINDOW) as u64;
        // The window starts `window` samples before the next sub-block.
        let start = (self.sub_start + rate * (window / rate + 1) - window) % rate;
        let df = i64::from(from_hz) - i64::from(to_hz);
        let turns = (df.rem_euclid(rate as i64) as u64 * start) % rate;
        let delta = 2.0 * PI * df as f64 / self.rate as f64;
        let half = (delta / 2.0).sin();
        let g = if half.abs() < 1e-12 {
            C::new(n, 0.0)
        } else {
            C::expj(delta * (n - 1.0) / 2.0).scale((delta * n / 2.0).sin() / half)
        };
        C::expj(2.0 * PI * turns as f64 / self.rate as f64).mul(g)
    }

    /// Applies the hit criteria to the current window; returns the digit
    /// code (row·4 + col) on a hit.
    fn analyse(&self) -> Option<usize> {
        let mut x = [C::default(); FILTERS];
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = self.subs.iter().fold(C::default(), |a, s| a.add(s[i]));
        }
        let power = x.map(C::norm_sqr);
        let n = (self.sub_len * SUBS_PER_WINDOW) as f64;
        let total: f64 = self.energies.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let argmax = |ps: &[f64]| {
            (0..ps.len())
                .max_by(|&a, &b| ps[a].total_cmp(&ps[b]))
                .unwrap_or(0)
        };
        let row = argmax(&power[0..4]);
        let col = argmax(&power[4..8]);
        let peak = 10f64.powf(RELATIVE_PEAK_DB / 10.0);
        for i in 0..4 {
            if (i != row && power[i] * peak > power[row])
                || (i != col && power[4 + i] * peak > power[4 + col])
            {
                return None;
            }
        }
        // Joint estimate of the two tones' complex amplitudes a_r, a_c
        // (component a·e^{jωn}):  X_r = N·a_r + K·a_c,  X_c = N·a_c + K*·a_r.
        let (fr, fc) = (self.filters[row].hz, self.filters[4 + col].hz);
        let k = self.leakage(fc, fr);
        let det = n * n - k.norm_sqr();
        if det <= 0.0 {
            return None;
        }
        let (xr, xc) = (x[row], x[4 + col]);
        let ar = xr.scale(n).sub(k.mul(xc)).scale(1.0 / det);
        let ac = xc.scale(n).sub(k.conj().mul(xr)).scale(1.0 / det);
        // A real sine of amplitude A is (A/2)e^{jωn} + conjugate.
        let (amp_r, amp_c) = (2.0 * ar.norm_sqr().sqrt(), 2.0 * ac.norm_sqr().sqrt());
        let (lr, lc) = (level_of_amplitude(amp_r), level_of_amplitude(amp_c));
        if lr < MIN_TONE_LEVEL_DBOV || lc < MIN_TONE_LEVEL_DBOV {
            return None;
        }
        let twist = lc - lr;
        if twist > MAX_NORMAL_TWIST_DB + TWIST_ALLOWANCE_DB
            || -twist > MAX_REVERSE_TWIST_DB + TWIST_ALLOWANCE_DB
        {
            return None;
        }
        // A sine's energy over the window is A²/2·N.
        let tone_energy = (amp_r * amp_r + amp_c * amp_c) / 2.0 * n;
        if tone_energy < MIN_TONE_ENERGY_RATIO * total {
            return None;
        }
        let harmonic = 10f64.powf(-MIN_HARMONIC_REJECT_DB / 10.0);
        for (h, fund) in [(8 + row, ar), (12 + col, ac)] {
            let fh = self.filters[h].hz;
            let residual = x[h]
                .sub(ar.mul(self.leakage(fr, fh)))
                .sub(ac.mul(self.leakage(fc, fh)));
            if residual.norm_sqr() > harmonic * fund.scale(n).norm_sqr() {
                return None;
            }
        }
        Some(row * 4 + col)
    }

    /// Advances the press state machine by one window.
    fn on_window(&mut self, hit: Option<usize>) {
        let idx = self.window_idx;
        self.window_idx += 1;
        match hit {
            Some(c) if self.run_code == Some(c) => self.run_len += 1,
            Some(c) => {
                self.run_code = Some(c);
                self.run_len = 1;
                self.run_start = idx;
            }
            None => {
                self.run_code = None;
                self.run_len = 0;
            }
        }
        if let Some(p) = self.pressed.as_mut() {
            if hit == Some(p.code) {
                p.last_hit = idx;
                p.misses = 0;
            } else {
                p.misses += 1;
                if p.misses >= RELEASE_MISSES {
                    let p = *p;
                    self.pressed = None;
                    self.emit(p);
                }
            }
        }
        if self.pressed.is_none() && self.run_len >= MIN_HITS {
            if let Some(code) = self.run_code {
                self.pressed = Some(Press {
                    code,
                    first_hit: self.run_start,
                    last_hit: idx,
                    misses: 0,
                });
                // Hits of this run are now the press: a release is needed
                // before the same code can start another one.
                self.run_len = 0;
                self.run_code = None;
            }
        }
        if let Some(p) = self.pressed {
            // Keep the run of the pressed digit empty so that only a new run
            // after the release can start the next press.
            if self.run_code == Some(p.code) {
                self.run_code = None;
                self.run_len = 0;
            }
        }
    }

    fn emit(&mut self, p: Press) {
        let hits = p.last_hit - p.first_hit + 1;
        let window = (self.sub_len * SUBS_PER_WINDOW) as f64;
        // Hits last while the tone covers ~70 % of the window, so the tone is
        // about (2·0.7 − 1) windows longer than the hit span.
        let samples =
            hits as f64 * self.sub_len as f64 + (2.0 * MIN_TONE_ENERGY_RATIO - 1.0) * window;
        let ms = samples * 1000.0 / f64::from(self.rate);
        self.pending.push_back(DigitEvent {
            digit: KEYPAD[p.code / 4][p.code % 4],
            duration_ms: ms.round() as u32,
            source: DtmfSource::InBand,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::frame_len;
    use std::f64::consts::PI;

    /// Amplitude of a sine at `dbov` (square-wave referenced dBov).
    fn amp(dbov: f64) -> f64 {
        32768.0 * std::f64::consts::SQRT_2 * 10f64.powf(dbov / 20.0)
    }

    /// Floating-point signal builder, converted to i16 with saturation.
    struct Sig {
        rate: u32,
        x: Vec<f64>,
    }

    impl Sig {
        fn new(rate: u32) -> Self {
            Self {
                rate,
                x: Vec::new(),
            }
        }
        fn ms(&self, ms: f64) -> usize {
            (ms * f64::from(self.rate) / 1000.0).round() as usize
        }
        fn silence(&mut self, ms: f64) -> &mut Self {
            let n = self.ms(ms);
            self.x.extend(std::iter::repeat_n(0.0, n));
            self
        }
        fn samples(&mut self, n: usize) -> &mut Self {
            self.x.extend(std::iter::repeat_n(0.0, n));
            self
        }
        /// A digit with given per-tone levels; phases chosen by `phase`.
        fn digit(&mut self, d: char, ms: f64, row_db: f64, col_db: f64, phase: f64) -> &mut Self {
            let (fr, fc) = digit_freqs(d).unwrap();
            let n = self.ms(ms);
            let r = f64::from(self.rate);
            for i in 0..n {
                let t = i as f64 / r;
                self.x.push(
                    amp(row_db) * (2.0 * PI * f64::from(fr) * t + phase).sin()
                        + amp(col_db) * (2.0 * PI * f64::from(fc) * t + 2.0 * phase).sin(),
                );
            }
            self
        }
        fn pcm(&self) -> Vec<i16> {
            self.x
                .iter()
                .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
                .collect()
        }
        fn add_noise(&mut self, snr_db: f64, seed: u64) -> &mut Self {
            let active: Vec<f64> = self.x.iter().copied().filter(|v| *v != 0.0).collect();
            let p = active.iter().map(|v| v * v).sum::<f64>() / active.len().max(1) as f64;
            let sigma = (p / 10f64.powf(snr_db / 10.0)).sqrt();
            let mut rng = fastrand::Rng::with_seed(seed);
            for v in &mut self.x {
                *v += sigma * gauss(&mut rng);
            }
            self
        }
    }

    fn gauss(rng: &mut fastrand::Rng) -> f64 {
        let u1 = rng.f64().max(1e-12);
        let u2 = rng.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }

    /// Runs the detector over `pcm` in 20 ms frames (then flush), returning
    /// the digits.
    fn detect(rate: u32, pcm: &[i16]) -> Vec<DigitEvent> {
        detect_chunks(rate, pcm, frame_len(rate))
    }

    fn detect_chunks(rate: u32, pcm: &[i16], chunk: usize) -> Vec<DigitEvent> {
        let mut det = InbandDetector::new(rate);
        let mut out = Vec::new();
        for c in pcm.chunks(chunk) {
            out.extend(det.process(c));
        }
        // A second of silence lets the last press end normally.
        let tail = vec![0i16; rate as usize];
        for c in tail.chunks(chunk) {
            out.extend(det.process(c));
        }
        while let Some(d) = det.process(&[]) {
            out.push(d);
        }
        out.extend(det.flush());
        out
    }

    fn digits(evs: &[DigitEvent]) -> String {
        evs.iter().map(|e| e.digit).collect()
    }

    const ALL: &str = "0123456789*#ABCD";

    #[test]
    fn digit_freq_table() {
        assert_eq!(digit_freqs('1'), Some((697.0, 1209.0)));
        assert_eq!(digit_freqs('0'), Some((941.0, 1336.0)));
        assert_eq!(digit_freqs('#'), Some((941.0, 1477.0)));
        assert_eq!(digit_freqs('d'), Some((941.0, 1633.0)));
        assert_eq!(digit_freqs('x'), None);
    }

    #[test]
    fn sliding_dft_matches_direct_dft() {
        // A window's DFT assembled from five sub-blocks equals the DFT
        // computed directly over the same samples (same time origin), at
        // every hop, including past the `n mod rate` wrap.
        for rate in [8000u32, 16000] {
            let mut rng = fastrand::Rng::with_seed(3);
            let pcm: Vec<i16> = (0..(rate as usize + 3000))
                .map(|_| rng.i16(-20000..20000))
                .collect();
            let mut det = InbandDetector::new(rate);
            let sub = det.sub_len;
            let n = sub * SUBS_PER_WINDOW;
            let mut checked = 0;
            for (k, c) in pcm.chunks(sub).enumerate() {
                det.process(c);
                if c.len() < sub || k + 1 < SUBS_PER_WINDOW || k % 3 != 0 {
                    continue;
                }
                let start = (k + 1 - SUBS_PER_WINDOW) * sub;
                for i in [0usize, 5, 11, 15] {
                    let w = 2.0 * PI * f64::from(det.filters[i].hz) / f64::from(rate);
                    let direct = (start..start + n).fold(C::default(), |a, j| {
                        a.add(C::expj(-w * j as f64).scale(f64::from(pcm[j])))
                    });
                    let sliding = det.subs.iter().fold(C::default(), |a, s| a.add(s[i]));
                    let err = sliding.sub(direct).norm_sqr().sqrt();
                    assert!(
                        err <= 1e-6 * direct.norm_sqr().sqrt().max(1.0),
                        "{rate} filter {i} window {k}: {sliding:?} vs {direct:?}"
                    );
                    checked += 1;
                }
            }
            assert!(checked > 300);
        }
    }

    #[test]
    fn joint_estimate_removes_cross_leakage() {
        // '*' (941 + 1209 Hz) has the closest tones; with +4 dB twist the raw
        // bins are off by up to ±1.2 dB, the joint estimate by far less.
        let mut s = Sig::new(8000);
        s.digit('*', 200.0, -20.0, -16.0, 0.4);
        let pcm = s.pcm();
        let mut det = InbandDetector::new(8000);
        let mut worst: f64 = 0.0;
        for c in pcm.chunks(det.sub_len) {
            det.process(c);
            if det.subs.len() < SUBS_PER_WINDOW {
                continue;
            }
            let x3 = det.subs.iter().fold(C::default(), |a, s| a.add(s[3]));
            let x4 = det.subs.iter().fold(C::default(), |a, s| a.add(s[4]));
            let n = (det.sub_len * SUBS_PER_WINDOW) as f64;
            let k = det.leakage(1209, 941);
            let d = n * n - k.norm_sqr();
            let ar = x3.scale(n).sub(k.mul(x4)).scale(1.0 / d);
            let ac = x4.scale(n).sub(k.conj().mul(x3)).scale(1.0 / d);
            let twist = 10.0 * (ac.norm_sqr() / ar.norm_sqr()).log10();
            worst = worst.max((twist - 4.0).abs());
        }
        assert!(worst < 0.3, "twist error {worst} dB");
    }

    #[test]
    fn tone_level_measures_dbov() {
        let mut s = Sig::new(8000);
        s.digit('1', 200.0, -10.0, -20.0, 0.0);
        let pcm = s.pcm();
        assert!((tone_level_dbov(&pcm, 697.0, 8000) + 10.0).abs() < 0.3);
        assert!((tone_level_dbov(&pcm, 1209.0, 8000) + 20.0).abs() < 0.3);
        assert!(tone_level_dbov(&pcm, 1633.0, 8000) < -40.0);
    }

    #[test]
    fn all_digits_at_8k_and_16k() {
        for rate in [8000, 16000] {
            let mut s = Sig::new(rate);
            s.silence(30.0);
            for (i, d) in ALL.chars().enumerate() {
                s.digit(d, 60.0 + 10.0 * i as f64, -14.0, -12.0, i as f64);
                s.silence(60.0);
            }
            let evs = detect(rate, &s.pcm());
            assert_eq!(digits(&evs), ALL, "{rate}");
            for (i, e) in evs.iter().enumerate() {
                let want = 60.0 + 10.0 * i as f64;
                assert!(
                    (f64::from(e.duration_ms) - want).abs() <= 6.0,
                    "{rate} {}: {} ms, sent {want}",
                    e.digit,
                    e.duration_ms
                );
                assert_eq!(e.source, DtmfSource::InBand);
            }
        }
    }

    #[test]
    fn chunk_size_does_not_matter() {
        let mut s = Sig::new(8000);
        for d in "159#".chars() {
            s.digit(d, 70.0, -12.0, -12.0, 0.3).silence(70.0);
        }
        let pcm = s.pcm();
        let reference = detect(8000, &pcm);
        assert_eq!(digits(&reference), "159#");
        for chunk in [1, 7, 160, 333, 4000] {
            assert_eq!(detect_chunks(8000, &pcm, chunk), reference, "chunk {chunk}");
        }
    }

    #[test]
    fn noisy_digits_detected() {
        for rate in [8000, 16000] {
            for (snr, seed) in [(15.0, 1), (15.0, 2), (20.0, 3)] {
                let mut s = Sig::new(rate);
                s.silence(40.0);
                for (i, d) in ALL.chars().enumerate() {
                    s.digit(d, 80.0, -16.0, -16.0, 0.7 * i as f64).silence(80.0);
                }
                s.add_noise(snr, seed);
                assert_eq!(digits(&detect(rate, &s.pcm())), ALL, "{rate} Hz, {snr} dB");
            }
        }
    }

    #[test]
    fn twist_limits() {
        for rate in [8000, 16000] {
            for twist in [4.0, -8.0] {
                let mut s = Sig::new(rate);
                for d in ALL.chars() {
                    s.digit(d, 80.0, -16.0, -16.0 + twist, 1.1).silence(80.0);
                }
                assert_eq!(digits(&detect(rate, &s.pcm())), ALL, "{rate} twist {twist}");
            }
            for twist in [6.0, 10.0, -11.0, -14.0] {
                let mut s = Sig::new(rate);
                for d in ALL.chars() {
                    s.digit(d, 80.0, -18.0, -18.0 + twist, 1.1).silence(80.0);
                }
                assert_eq!(digits(&detect(rate, &s.pcm())), "", "{rate} twist {twist}");
            }
        }
    }

    #[test]
    fn minimum_duration() {
        for rate in [8000, 16000] {
            // Every alignment of the tone start against the analysis hop.
            for offset in 0..(21 * rate / 8000) as usize {
                let mut short = Sig::new(rate);
                short.samples(offset);
                let mut long = Sig::new(rate);
                long.samples(offset);
                for d in "1590".chars() {
                    short.digit(d, 25.0, -12.0, -12.0, 0.2).silence(100.0);
                    long.digit(d, 45.0, -12.0, -12.0, 0.2).silence(100.0);
                }
                assert_eq!(
                    digits(&detect(rate, &short.pcm())),
                    "",
                    "25 ms, offset {offset}"
                );
                assert_eq!(
                    digits(&detect(rate, &long.pcm())),
                    "1590",
                    "45 ms, offset {offset}"
                );
            }
        }
    }

    #[test]
    fn repeated_digit_with_short_gaps() {
        for rate in [8000, 16000] {
            let mut s = Sig::new(rate);
            for _ in 0..4 {
                s.digit('7', 60.0, -12.0, -12.0, 0.0).silence(50.0);
            }
            s.digit('3', 60.0, -12.0, -12.0, 0.0).silence(50.0);
            s.digit('3', 60.0, -12.0, -12.0, 0.0);
            assert_eq!(digits(&detect(rate, &s.pcm())), "777733", "{rate}");
        }
    }

    #[test]
    fn held_key_reported_once_at_release() {
        let mut s = Sig::new(8000);
        s.digit('5', 3000.0, -12.0, -12.0, 0.0);
        let pcm = s.pcm();
        let mut det = InbandDetector::new(8000);
        for c in pcm.chunks(160) {
            assert_eq!(det.process(c), None, "reported while held");
        }
        let mut got = Vec::new();
        for _ in 0..10 {
            got.extend(det.process(&[0; 160]));
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].digit, '5');
        assert!(
            (got[0].duration_ms as i64 - 3000).abs() <= 5,
            "{}",
            got[0].duration_ms
        );
        // Flushing a held key reports it.
        let mut det = InbandDetector::new(8000);
        for c in pcm.chunks(160).take(20) {
            det.process(c);
        }
        assert_eq!(det.flush().map(|e| e.digit), Some('5'));
        assert_eq!(det.flush(), None);
    }

    #[test]
    fn brief_dropout_is_bridged() {
        let mut s = Sig::new(8000);
        s.digit('8', 80.0, -12.0, -12.0, 0.0)
            .silence(10.0)
            .digit('8', 80.0, -12.0, -12.0, 0.0);
        assert_eq!(digits(&detect(8000, &s.pcm())), "8");
    }

    /// Vowel-like signal: harmonics of a (slightly gliding) pitch shaped by
    /// three formant resonances and a -6 dB/octave source slope, normalised
    /// to RMS 1.
    fn vowel(rate: u32, secs: f64, f0: f64, formants: [f64; 3]) -> Vec<f64> {
        let n = (secs * f64::from(rate)) as usize;
        let nyq = f64::from(rate) / 2.0 - 100.0;
        let mut out = vec![0.0; n];
        let mut phases = vec![0.0f64; 60];
        for (i, v) in out.iter_mut().enumerate() {
            let t = i as f64 / f64::from(rate);
            // Vibrato of ±3 % at 5 Hz keeps harmonics from sitting still.
            let pitch = f0 * (1.0 + 0.03 * (2.0 * PI * 5.0 * t).sin());
            for (k, ph) in phases.iter_mut().enumerate() {
                let h = (k + 1) as f64;
                let f = h * pitch;
                if f > nyq {
                    break;
                }
                *ph += 2.0 * PI * f / f64::from(rate);
                let glottal = 1.0 / (h * h);
                let formant: f64 = formants
                    .iter()
                    .map(|&fm| {
                        let bw = 80.0 + 0.05 * fm;
                        1.0 / (1.0 + ((f - fm) / bw).powi(2)).sqrt()
                    })
                    .sum();
                *v += glottal.sqrt() * formant * ph.sin();
            }
        }
        let rms = (out.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
        out.iter_mut().for_each(|v| *v /= rms);
        out
    }

    fn to_pcm(x: &[f64]) -> Vec<i16> {
        x.iter()
            .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    #[test]
    fn speech_like_signals_give_no_digits() {
        let vowels = [
            [730.0, 1090.0, 2440.0],
            [270.0, 2290.0, 3010.0],
            [300.0, 870.0, 2240.0],
            [530.0, 1840.0, 2480.0],
            [660.0, 1720.0, 2410.0],
            [750.0, 1340.0, 2500.0],
            [700.0, 1210.0, 2600.0],
        ];
        for rate in [8000, 16000] {
            for f0 in [100.0, 150.0, 230.0] {
                for (vi, f) in vowels.iter().enumerate() {
                    let x = vowel(rate, 1.0, f0, *f);
                    for level in [-10.0, -25.0] {
                        let gain = 32768.0 * 10f64.powf(level / 20.0);
                        let x: Vec<f64> = x.iter().map(|v| v * gain).collect();
                        let evs = detect(rate, &to_pcm(&x));
                        assert!(evs.is_empty(), "{rate} f0 {f0} vowel {vi} {level}: {evs:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn steady_harmonic_series_gives_no_digits() {
        // 150 Hz voice without vibrato, formants on DTMF-near harmonics
        // (750 ≈ 770, 1350 ≈ 1336): the worst case for a naive detector.
        for rate in [8000, 16000] {
            let mut x = vec![0.0; 3 * rate as usize];
            for (i, v) in x.iter_mut().enumerate() {
                let t = i as f64 / f64::from(rate);
                for h in 1..=22 {
                    let f = 150.0 * f64::from(h);
                    let a = match h {
                        5 | 9 => 1.0,
                        4 | 6 | 8 | 10 => 0.3,
                        1..=3 => 0.6,
                        _ => 0.15,
                    };
                    *v += 4000.0 * a * (2.0 * PI * f * t).sin();
                }
            }
            let evs = detect(rate, &to_pcm(&x));
            assert!(evs.is_empty(), "{rate}: {evs:?}");
        }
    }

    #[test]
    fn sweeps_single_tones_and_chords_give_no_digits() {
        for rate in [8000, 16000] {
            let r = f64::from(rate);
            // Linear sweeps 300→3400 Hz over 1 s and back, loud.
            let mut x = Vec::new();
            let mut ph = 0.0;
            for i in 0..(2 * rate as usize) {
                let t = (i as f64 / r) % 2.0;
                let f = if t < 1.0 {
                    300.0 + 3100.0 * t
                } else {
                    3400.0 - 3100.0 * (t - 1.0)
                };
                ph += 2.0 * PI * f / r;
                x.push(amp(-8.0) * ph.sin());
            }
            assert!(detect(rate, &to_pcm(&x)).is_empty(), "sweep {rate}");
            // Each DTMF frequency alone, loud and quiet, 300 ms.
            for f in ROW_FREQS.iter().chain(COL_FREQS.iter()) {
                for level in [-4.0, -20.0] {
                    let x: Vec<f64> = (0..(rate as usize * 3 / 10))
                        .map(|i| amp(level) * (2.0 * PI * f64::from(*f) * i as f64 / r).sin())
                        .collect();
                    let evs = detect(rate, &to_pcm(&x));
                    assert!(evs.is_empty(), "{f} Hz at {level}: {evs:?}");
                }
            }
            // Chords of 3-4 notes with a few harmonics each, 500 ms each;
            // some notes sit close to DTMF frequencies (F5 ≈ 697, E6 ≈ 1336,
            // F#6 ≈ 1477, G#6 ≈ 1633).
            let chords: [&[f64]; 6] = [
                &[261.63, 329.63, 392.0],
                &[440.0, 554.37, 659.26],
                &[698.46, 880.0, 1108.73, 1318.51],
                &[698.46, 1318.51, 1046.5],
                &[783.99, 987.77, 1174.66, 1479.98],
                &[932.33, 1174.66, 1396.91, 1661.22],
            ];
            let mut x = Vec::new();
            for chord in chords {
                for i in 0..(rate as usize / 2) {
                    let t = i as f64 / r;
                    let mut v = 0.0;
                    for &f in chord {
                        for (h, a) in [(1.0, 1.0), (2.0, 0.5), (3.0, 0.25)] {
                            if f * h < r / 2.0 {
                                v += a * (2.0 * PI * f * h * t).sin();
                            }
                        }
                    }
                    x.push(v * amp(-14.0));
                }
            }
            let evs = detect(rate, &to_pcm(&x));
            assert!(evs.is_empty(), "chords {rate}: {evs:?}");
        }
    }

    #[test]
    fn silence_and_noise_give_no_digits() {
        for rate in [8000, 16000] {
            assert!(detect(rate, &vec![0; 5 * rate as usize]).is_empty());
            for (level, seed) in [(-10.0, 1u64), (-30.0, 2), (-50.0, 3)] {
                let mut rng = fastrand::Rng::with_seed(seed);
                let x: Vec<f64> = (0..(5 * rate as usize))
                    .map(|_| 32768.0 * 10f64.powf(level / 20.0) * gauss(&mut rng))
                    .collect();
                let evs = detect(rate, &to_pcm(&x));
                assert!(evs.is_empty(), "noise {level} dBov at {rate}: {evs:?}");
            }
        }
    }

    #[test]
    fn low_rate_detector_is_inert() {
        let mut det = InbandDetector::new(4000);
        assert_eq!(det.process(&[1000; 4000]), None);
        assert_eq!(det.flush(), None);
        assert_eq!(det.rate(), 4000);
    }
}
