//! G.722 (ITU-T G.722) 64 kbit/s wideband codec, mode 1: sub-band ADPCM.
//!
//! Written from the block descriptions of the Recommendation:
//! - a 24-tap quadrature mirror filter pair splits 16 kHz audio into a lower
//!   and a higher band, each sampled at 8 kHz (and joins them again in the
//!   decoder);
//! - the lower band is coded with 6-bit ADPCM, the higher band with 2-bit
//!   ADPCM, each with a backward-adaptive scale factor and a pole-zero
//!   predictor (two poles, six zeros) driven by the quantised difference;
//! - one octet per pair of input samples: the two higher-band bits on top,
//!   the six lower-band bits below.
//!
//! The codec itself works on 14-bit samples. Our PCM is 16-bit, so the
//! encoder takes the 14 most significant bits and the decoder scales its
//! 14-bit output back up by 4.
//!
//! Arithmetic follows the fixed-point semantics of the Recommendation: the
//! same shifts, the same limiters, and saturation to 16 bits wherever a
//! signal is stored, so no input (full-scale square waves, noise, garbage
//! octets fed to the decoder) can overflow or destabilise the state.
//!
//! The ITU-T test sequences (the G.722 digital test vectors) are not
//! available offline here, so bit-exactness against them is not verified;
//! the tests check table consistency, encoder/decoder state tracking and
//! the end-to-end quality of sine waves.

/// Transmit and receive QMF coefficients h(0)..h(23), in units of 2^-13.
const QMF: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower-band decision levels of the 6-bit quantiser (×512, relative to the
/// scale factor), index 1..=29; index 30 is open-ended.
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// 6-bit codes of negative and positive quantiser intervals 1..=30.
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// Lower-band 6-bit inverse quantiser output levels (×4096), by code.
/// Codes 0..=3 are never produced by an encoder; they decode like the
/// smallest negative level.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// Lower-band 4-bit inverse quantiser (the embedded core the predictor
/// runs on, so that 56 and 48 kbit/s decoders track the same state), ×4096.
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// Lower-band log scale factor multipliers, indexed through `RL42`.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// Higher-band 2-bit quantiser: decision level (×512), codes, inverse
/// quantiser (×4096) and log scale factor multipliers.
const H2_DECISION: i32 = 564;
const IHN: [u8; 3] = [0, 1, 0];
const IHP: [u8; 3] = [0, 3, 2];
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const WH: [i32; 3] = [0, -214, 798];
const RH2: [usize; 4] = [2, 1, 2, 1];

/// 2048 · 2^(i/32): the antilog table of the scale factor.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Limits of the log scale factors (lower, higher band).
const NBL_MAX: i32 = 18432;
const NBH_MAX: i32 = 22528;

/// Saturates to the 16-bit range every stored signal of the codec lives in.
#[inline]
fn sat(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// Limits a reconstructed sub-band signal to 15 bits.
#[inline]
fn limit15(x: i32) -> i32 {
    x.clamp(-16384, 16383)
}

/// Scale factor from the log scale factor (blocks SCALEL/SCALEH): `base`
/// is 8 for the lower band and 10 for the higher band.
#[inline]
fn scale(nb: i32, base: i32) -> i32 {
    let mantissa = ILB[((nb >> 6) & 31) as usize];
    let shift = base - (nb >> 11);
    let v = if shift < 0 {
        mantissa << -shift
    } else {
        mantissa >> shift
    };
    v << 2
}

/// Transmit QMF: pushes the input pair (14-bit) into `x` (the last 24
/// samples, newest last) and returns the lower and higher band samples.
fn qmf_analysis(x: &mut [i32; 24], s0: i16, s1: i16) -> (i32, i32) {
    x.copy_within(2.., 0);
    x[22] = i32::from(s0) >> 2;
    x[23] = i32::from(s1) >> 2;
    // Polyphase form: x[23 - n] is x(j - n), j the newest sample.
    let mut even = 0;
    let mut odd = 0;
    for i in 0..12 {
        even += QMF[2 * i] * x[23 - 2 * i];
        odd += QMF[2 * i + 1] * x[22 - 2 * i];
    }
    (limit15((even + odd) >> 13), limit15((even - odd) >> 13))
}

/// Receive QMF: pushes one lower/higher band pair into the difference and
/// sum histories (newest last) and returns the two 16 kHz output samples,
/// scaled from 14 to 16 bits.
fn qmf_synthesis(xd: &mut [i32; 12], xs: &mut [i32; 12], rl: i32, rh: i32) -> (i16, i16) {
    xd.copy_within(1.., 0);
    xs.copy_within(1.., 0);
    xd[11] = rl - rh;
    xs[11] = rl + rh;
    // Gain 2: even taps on the difference give the earlier sample, odd taps
    // on the sum the later one.
    let mut first = 0;
    let mut second = 0;
    for i in 0..12 {
        first += QMF[2 * i] * xd[11 - i];
        second += QMF[2 * i + 1] * xs[11 - i];
    }
    let to16 = |v: i32| ((v >> 12).clamp(-8192, 8191) << 2) as i16;
    (to16(first), to16(second))
}

/// State of one sub-band ADPCM coder: scale factor and adaptive predictor.
/// Encoder and decoder keep identical copies as long as they see the same
/// codes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Band {
    /// Signal estimate for the next sample (SL/SH).
    s: i32,
    /// Zero-section part of that estimate (SZL/SZH).
    sz: i32,
    /// Reconstructed signal, one and two samples back.
    r: [i32; 2],
    /// Partially reconstructed signal (difference + zero estimate), now-1 and now-2.
    p: [i32; 2],
    /// Pole coefficients a1, a2 (Q14).
    a: [i32; 2],
    /// Zero coefficients b1..b6 (Q14).
    b: [i32; 6],
    /// Quantised differences, one to six samples back.
    d: [i32; 6],
    /// Log scale factor.
    nb: i32,
    /// Scale factor.
    det: i32,
}

impl Band {
    fn new(det: i32) -> Self {
        Band {
            s: 0,
            sz: 0,
            r: [0; 2],
            p: [0; 2],
            a: [0; 2],
            b: [0; 6],
            d: [0; 6],
            nb: 0,
            det,
        }
    }

    /// Adapts the predictor to the quantised difference `dq` of the current
    /// sample and computes the estimate for the next one (blocks PARREC,
    /// RECONS, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC).
    fn predict(&mut self, dq: i32) {
        let neg = |x: i32| x < 0;
        let p = sat(dq + self.sz);
        let r = sat(self.s + dq);

        // Second pole: leak plus sign correlations with p(k-1), p(k-2).
        let f = sat(self.a[0] << 2);
        let mut wd2 = if neg(p) == neg(self.p[0]) { -f } else { f };
        wd2 >>= 7;
        let wd3 = if neg(p) == neg(self.p[1]) { 128 } else { -128 };
        let a2 = (wd2 + wd3 + ((self.a[1] * 32512) >> 15)).clamp(-12288, 12288);

        // First pole, kept inside the stability triangle set by a2.
        let wd1 = if neg(p) == neg(self.p[0]) { 192 } else { -192 };
        let bound = 15360 - a2;
        let a1 = (wd1 + ((self.a[0] * 32640) >> 15)).clamp(-bound, bound);

        // Zeros: sign correlation of the new difference with the old ones.
        let step = if dq == 0 { 0 } else { 128 };
        for (b, &d) in self.b.iter_mut().zip(&self.d) {
            let wd = if neg(dq) == neg(d) { step } else { -step };
            *b = wd + ((*b * 32640) >> 15);
        }

        self.d.copy_within(0..5, 1);
        self.d[0] = dq;
        self.p = [p, self.p[0]];
        self.r = [r, self.r[0]];
        self.a = [a1, a2];

        let mut sz = 0;
        for (&b, &d) in self.b.iter().zip(&self.d) {
            sz = sat(sz + ((sat(d * 2) * b) >> 15));
        }
        let sp = sat(
            ((self.a[0] * sat(self.r[0] * 2)) >> 15) + ((self.a[1] * sat(self.r[1] * 2)) >> 15)
        );
        self.sz = sz;
        self.s = sat(sp + sz);
    }

    /// Lower band: scale factor update from a 6-bit code, then predictor
    /// update with the 4-bit core difference. Returns nothing: the caller
    /// has already used the current `det`.
    fn adapt_low(&mut self, code: u8) {
        let core = (code >> 2) as usize;
        let dq = (self.det * QM4[core]) >> 15;
        self.nb = (((self.nb * 32512) >> 15) + WL[RL42[core]]).clamp(0, NBL_MAX);
        self.det = scale(self.nb, 8);
        self.predict(dq);
    }

    /// Higher band: same with the 2-bit code.
    fn adapt_high(&mut self, code: u8) {
        let dq = (self.det * QM2[code as usize]) >> 15;
        self.nb = (((self.nb * 32512) >> 15) + WH[RH2[code as usize]]).clamp(0, NBH_MAX);
        self.det = scale(self.nb, 10);
        self.predict(dq);
    }

    /// Lower-band quantiser (QUANTL): 6-bit code of `x - s`.
    fn quantize_low(&self, x: i32) -> u8 {
        let e = sat(x - self.s);
        // Ones' complement magnitude, as the standard's sign-magnitude
        // quantiser sees it.
        let mag = if e < 0 { !e } else { e };
        let mut m = 1;
        while m < 30 && mag >= (Q6[m] * self.det) >> 12 {
            m += 1;
        }
        if e < 0 {
            ILN[m]
        } else {
            ILP[m]
        }
    }

    /// Higher-band quantiser (QUANTH): 2-bit code of `x - s`.
    fn quantize_high(&self, x: i32) -> u8 {
        let e = sat(x - self.s);
        let mag = if e < 0 { !e } else { e };
        let m = if mag >= (H2_DECISION * self.det) >> 12 {
            2
        } else {
            1
        };
        if e < 0 {
            IHN[m]
        } else {
            IHP[m]
        }
    }
}

/// Streaming G.722 encoder (64 kbit/s): 16 kHz PCM in, one octet per two
/// samples out. Keeps its state across calls, so feed it one call's audio
/// after another.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    /// Last 24 input samples (14-bit), newest last.
    x: [i32; 24],
    low: Band,
    high: Band,
    /// First sample of a pair whose second sample has not arrived yet.
    pending: Option<i16>,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// A fresh encoder in the reset state of the Recommendation.
    pub fn new() -> Self {
        G722Encoder {
            x: [0; 24],
            low: Band::new(scale(0, 8)),
            high: Band::new(scale(0, 10)),
            pending: None,
        }
    }

    /// Encodes `pcm16k` (16 kHz samples) and appends one octet per pair of
    /// samples to `out`. An odd trailing sample is kept and paired with the
    /// first sample of the next call.
    pub fn encode(&mut self, pcm16k: &[i16], out: &mut Vec<u8>) {
        out.reserve(pcm16k.len().div_ceil(2));
        let mut samples = pcm16k;
        if let Some(first) = self.pending.take() {
            match samples.split_first() {
                Some((&second, rest)) => {
                    out.push(self.encode_pair(first, second));
                    samples = rest;
                }
                None => {
                    self.pending = Some(first);
                    return;
                }
            }
        }
        let mut pairs = samples.chunks_exact(2);
        for pair in &mut pairs {
            out.push(self.encode_pair(pair[0], pair[1]));
        }
        if let [last] = pairs.remainder() {
            self.pending = Some(*last);
        }
    }

    fn encode_pair(&mut self, s0: i16, s1: i16) -> u8 {
        let (xl, xh) = qmf_analysis(&mut self.x, s0, s1);
        let il = self.low.quantize_low(xl);
        self.low.adapt_low(il);
        let ih = self.high.quantize_high(xh);
        self.high.adapt_high(ih);
        (ih << 6) | il
    }
}

/// Streaming G.722 decoder (64 kbit/s, mode 1): each octet gives two 16 kHz
/// samples.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    /// Last 12 band difference (rl - rh) and sum (rl + rh) values, newest last.
    xd: [i32; 12],
    xs: [i32; 12],
    low: Band,
    high: Band,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A fresh decoder in the reset state of the Recommendation.
    pub fn new() -> Self {
        G722Decoder {
            xd: [0; 12],
            xs: [0; 12],
            low: Band::new(scale(0, 8)),
            high: Band::new(scale(0, 10)),
        }
    }

    /// Decodes `data` and appends two 16 kHz samples per octet to `out`.
    /// Every octet value is valid input.
    pub fn decode(&mut self, data: &[u8], out: &mut Vec<i16>) {
        out.reserve(data.len() * 2);
        for &octet in data {
            let (a, b) = self.decode_octet(octet);
            out.push(a);
            out.push(b);
        }
    }

    fn decode_octet(&mut self, octet: u8) -> (i16, i16) {
        let il = octet & 0x3F;
        let ih = octet >> 6;

        // Mode 1 output uses all six bits; the predictor runs on the core.
        let dl = (self.low.det * QM6[il as usize]) >> 15;
        let rl = limit15(self.low.s + dl);
        self.low.adapt_low(il);

        let dh = (self.high.det * QM2[ih as usize]) >> 15;
        let rh = limit15(self.high.s + dh);
        self.high.adapt_high(ih);

        qmf_synthesis(&mut self.xd, &mut self.xs, rl, rh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(freq: f64, dbov: f64, rate: f64, len: usize) -> Vec<i16> {
        let amp = 32768.0 * 10f64.powf(dbov / 20.0) * 2f64.sqrt();
        (0..len)
            .map(|n| (amp * (2.0 * PI * freq * n as f64 / rate).sin()).round() as i16)
            .collect()
    }

    fn goertzel_power(x: &[i16], freq: f64, rate: f64) -> f64 {
        let w = 2.0 * PI * freq / rate;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in x {
            let s0 = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    }

    fn dominant_frequency(x: &[i16], rate: f64) -> f64 {
        let mut best = (0.0, 0.0);
        let mut f = 50.0;
        while f < rate / 2.0 {
            let p = goertzel_power(x, f, rate);
            if p > best.1 {
                best = (f, p);
            }
            f += 50.0;
        }
        best.0
    }

    /// Best SNR (dB) of `out` against `reference` delayed by 0..64 samples,
    /// over the part after `skip` samples; returns (snr, lag).
    fn best_snr(reference: &[i16], out: &[i16], skip: usize) -> (f64, usize) {
        let mut best = (f64::MIN, 0);
        for lag in 0..64 {
            let (mut sig, mut err) = (0.0, 0.0);
            for n in skip..out.len() {
                let r = f64::from(reference[n - lag]);
                let e = f64::from(out[n]) - r;
                sig += r * r;
                err += e * e;
            }
            let snr = 10.0 * (sig / err.max(1e-9)).log10();
            if snr > best.0 {
                best = (snr, lag);
            }
        }
        best
    }

    fn round_trip(pcm: &[i16]) -> Vec<i16> {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut bytes = Vec::new();
        // 20 ms frames, as the media path feeds it.
        for frame in pcm.chunks(320) {
            enc.encode(frame, &mut bytes);
        }
        assert_eq!(bytes.len(), pcm.len() / 2);
        let mut out = Vec::new();
        dec.decode(&bytes, &mut out);
        out
    }

    #[test]
    fn tables_are_consistent() {
        // Each 6-bit reconstruction level lies inside its decision interval.
        for m in 1..=30 {
            let level = QM6[ILP[m] as usize];
            assert_eq!(QM6[ILN[m] as usize], -level);
            assert!(Q6[m - 1] * 8 < level, "interval {m}");
            if m < 30 {
                assert!(level < Q6[m] * 8, "interval {m}");
            }
        }
        // The 4-bit core levels are 6-bit decision levels (embedded coding).
        for &l in &QM4[8..15] {
            assert!(Q6.contains(&(l / 8)), "core level {l}");
        }
        // ILB is 2048·2^(i/32).
        for (i, &v) in ILB.iter().enumerate() {
            let exact = 2048.0 * 2f64.powf(i as f64 / 32.0);
            assert!((f64::from(v) - exact).abs() <= 1.0, "ILB[{i}]");
        }
        // The QMF is symmetric with unit DC gain per phase (2^12 each).
        assert!((0..12).all(|i| QMF[i] == QMF[23 - i]));
        assert_eq!(QMF.iter().step_by(2).sum::<i32>(), 4096);
        assert_eq!(QMF.iter().skip(1).step_by(2).sum::<i32>(), 4096);
        // Reset scale factors: 32 (lower) and 8 (higher), the minima.
        assert_eq!(scale(0, 8), 32);
        assert_eq!(scale(0, 10), 8);
    }

    #[test]
    fn silence_stays_silent() {
        let out = round_trip(&vec![0i16; 16000]);
        assert_eq!(out.len(), 16000);
        assert!(
            out.iter().all(|&s| s.abs() <= 16),
            "max {:?}",
            out.iter().max()
        );
    }

    #[test]
    fn sines_survive_round_trip() {
        for freq in [1000.0, 5000.0] {
            let pcm = sine(freq, -10.0, 16000.0, 16000);
            let out = round_trip(&pcm);
            let (snr, lag) = best_snr(&pcm, &out, 4000);
            assert!(snr > 20.0, "{freq} Hz: SNR {snr:.1} dB at lag {lag}");
            let f = dominant_frequency(&out[4000..], 16000.0);
            assert!((f - freq).abs() <= 50.0, "{freq} Hz came back as {f} Hz");
            let level = crate::audio::level_dbov(&out[4000..]);
            assert!((level + 10.0).abs() < 1.0, "{freq} Hz level {level} dBov");
        }
    }

    #[test]
    fn qmf_alone_reconstructs_with_22_samples_delay() {
        for freq in [300.0, 1000.0, 3000.0, 5000.0, 7000.0] {
            let pcm = sine(freq, -10.0, 16000.0, 8000);
            let (mut x, mut xd, mut xs) = ([0; 24], [0; 12], [0; 12]);
            let mut out = Vec::new();
            for p in pcm.chunks_exact(2) {
                let (xl, xh) = qmf_analysis(&mut x, p[0], p[1]);
                let (a, b) = qmf_synthesis(&mut xd, &mut xs, xl, xh);
                out.extend([a, b]);
            }
            let (snr, lag) = best_snr(&pcm, &out, 1000);
            assert!(snr > 50.0, "{freq} Hz: QMF SNR {snr:.1} dB");
            if freq == 300.0 {
                // Only the lowest tone's period (53 samples) leaves the lag unambiguous.
                assert_eq!(lag, 22);
            }
        }
    }

    #[test]
    fn codec_delay_is_22_samples() {
        // Noise has no periodicity to alias the lag search.
        let mut rng = fastrand::Rng::with_seed(3);
        let pcm: Vec<i16> = (0..16000).map(|_| rng.i16(-3000..3000)).collect();
        let out = round_trip(&pcm);
        let corr = |lag: usize| -> f64 {
            (1000..pcm.len())
                .map(|n| f64::from(pcm[n - lag]) * f64::from(out[n]))
                .sum()
        };
        let best = (0..64)
            .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
            .unwrap_or(0);
        assert_eq!(best, 22);
    }

    #[test]
    fn decoder_tracks_encoder_state() {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let pcm: Vec<i16> = sine(440.0, -6.0, 16000.0, 3200)
            .iter()
            .zip(sine(6100.0, -12.0, 16000.0, 3200))
            .map(|(a, b)| a.saturating_add(b))
            .collect();
        let mut bytes = Vec::new();
        let mut out = Vec::new();
        for frame in pcm.chunks(320) {
            bytes.clear();
            enc.encode(frame, &mut bytes);
            dec.decode(&bytes, &mut out);
            assert_eq!(enc.low, dec.low);
            assert_eq!(enc.high, dec.high);
        }
    }

    fn assert_bounded(b: &Band, nb_max: i32) {
        assert!((0..=nb_max).contains(&b.nb));
        assert!(b.det > 0 && b.det <= 16384 * 2);
        assert!(b.a[1].abs() <= 12288);
        assert!(b.a[0].abs() <= 15360 - b.a[1]);
        assert!(b.b.iter().all(|&v| v.abs() <= 32768));
    }

    #[test]
    fn hostile_input_keeps_state_bounded_and_recovers() {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut bytes = Vec::new();
        let mut out = Vec::new();

        let square: Vec<i16> = (0..32000)
            .map(|n| if (n / 9) % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let mut rng = fastrand::Rng::with_seed(7);
        let noise: Vec<i16> = (0..32000).map(|_| rng.i16(..)).collect();
        for frame in square.chunks(320).chain(noise.chunks(320)) {
            bytes.clear();
            enc.encode(frame, &mut bytes);
            dec.decode(&bytes, &mut out);
            assert_bounded(&enc.low, NBL_MAX);
            assert_bounded(&enc.high, NBH_MAX);
        }

        // Garbage octets: the decoder must not panic and stays bounded.
        let garbage: Vec<u8> = (0..16000).map(|_| rng.u8(..)).collect();
        dec.decode(&garbage, &mut out);
        assert_bounded(&dec.low, NBL_MAX);
        assert_bounded(&dec.high, NBH_MAX);

        // After all that the encoder still codes a sine well.
        let pcm = sine(1000.0, -10.0, 16000.0, 16000);
        let mut dec = G722Decoder::new();
        bytes.clear();
        enc.encode(&pcm, &mut bytes);
        let mut out = Vec::new();
        dec.decode(&bytes, &mut out);
        let (snr, _) = best_snr(&pcm, &out, 8000);
        assert!(snr > 20.0, "SNR after hostile input {snr:.1} dB");
    }

    #[test]
    fn odd_lengths_pair_across_calls() {
        let pcm = sine(1000.0, -10.0, 16000.0, 640);
        let mut whole = Vec::new();
        G722Encoder::new().encode(&pcm, &mut whole);

        let mut enc = G722Encoder::new();
        let mut split = Vec::new();
        enc.encode(&pcm[..101], &mut split);
        assert_eq!(split.len(), 50);
        enc.encode(&[], &mut split);
        enc.encode(&pcm[101..102], &mut split);
        assert_eq!(split.len(), 51);
        enc.encode(&pcm[102..], &mut split);
        assert_eq!(split, whole);
    }
}
