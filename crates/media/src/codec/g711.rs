//! G.711 (ITU-T G.711) µ-law and A-law companding, all by table lookup.
//!
//! G.711 is defined on 14-bit (µ-law) and 13-bit (A-law) linear samples. Our
//! PCM is 16-bit, so the encoder looks at the 14 (resp. 13) most significant
//! bits, which is exactly what the standard's quantiser would see, and the
//! decoder scales the standard's reconstruction values up by 4 (resp. 8): a
//! decoded µ-law sample lies in ±32124, an A-law one in ±32256.
//!
//! Every table is computed at compile time from the segment definition of
//! G.711, so nothing runs at start-up and nothing is copied from a table
//! printed elsewhere:
//! - encoding is one lookup in a 16384-entry (µ-law) or 8192-entry (A-law)
//!   table indexed by the top bits of the sample;
//! - decoding and µ-law↔A-law transcoding are lookups in 256-entry tables.
//!
//! µ-law has two codes for zero: 0xFF (+0) and 0x7F (-0). Both decode to 0,
//! and the encoder always produces 0xFF for 0, so 0x7F is the only code that
//! does not survive decode→encode unchanged.

/// µ-law bias in 14-bit units: the segment boundaries of G.711 µ-law sit at
/// powers of two once 33 is added to the magnitude.
const ULAW_BIAS: i32 = 33;
/// Largest 14-bit magnitude µ-law represents before clipping (8159 - 1).
const ULAW_CLIP: i32 = 8158;

/// µ-law code of a 14-bit linear sample (G.711 Table 2a semantics).
const fn ulaw_encode14(x: i32) -> u8 {
    let (sign, mag) = if x < 0 { (0x80u8, -x) } else { (0u8, x) };
    let mag = if mag > ULAW_CLIP { ULAW_CLIP } else { mag };
    let biased = mag + ULAW_BIAS; // 33..=8191
                                  // Segment = position of the leading one above bit 5.
    let mut seg = 0;
    while seg < 7 && (biased >> (seg + 6)) != 0 {
        seg += 1;
    }
    let mant = ((biased >> (seg + 1)) & 0x0F) as u8;
    !(sign | ((seg as u8) << 4) | mant)
}

/// Linear value (14-bit units) that a µ-law code stands for.
const fn ulaw_decode14(code: u8) -> i32 {
    let c = !code;
    let seg = ((c >> 4) & 0x07) as i32;
    let mant = (c & 0x0F) as i32;
    let mag = (((mant << 1) + ULAW_BIAS) << seg) - ULAW_BIAS;
    if c & 0x80 != 0 {
        -mag
    } else {
        mag
    }
}

/// A-law code of a 13-bit linear sample (G.711 Table 1a semantics, with the
/// even-bit inversion 0x55 applied).
const fn alaw_encode13(x: i32) -> u8 {
    // A-law has no zero code: its decision levels are symmetric around -1/2,
    // so negative values are folded with a ones' complement.
    let (mask, mag) = if x >= 0 {
        (0xD5u8, x)
    } else {
        (0x55u8, -x - 1)
    };
    let mag = if mag > 4095 { 4095 } else { mag };
    let code = if mag < 32 {
        (mag >> 1) as u8
    } else {
        let mut seg = 1;
        while seg < 7 && (mag >> (seg + 5)) != 0 {
            seg += 1;
        }
        ((seg as u8) << 4) | (((mag >> seg) & 0x0F) as u8)
    };
    code ^ mask
}

/// Linear value (13-bit units) that an A-law code stands for.
const fn alaw_decode13(code: u8) -> i32 {
    let c = code ^ 0x55;
    let seg = ((c >> 4) & 0x07) as i32;
    let mant = (c & 0x0F) as i32;
    let mag = if seg == 0 {
        (mant << 1) + 1
    } else {
        ((mant << 1) + 33) << (seg - 1)
    };
    if c & 0x80 != 0 {
        mag
    } else {
        -mag
    }
}

const fn build_ulaw_encode() -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        // Index is the 14-bit two's complement pattern of the sample's top bits.
        let x = if i >= 8192 {
            i as i32 - 16384
        } else {
            i as i32
        };
        t[i] = ulaw_encode14(x);
        i += 1;
    }
    t
}

const fn build_alaw_encode() -> [u8; 8192] {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        let x = if i >= 4096 { i as i32 - 8192 } else { i as i32 };
        t[i] = alaw_encode13(x);
        i += 1;
    }
    t
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (ulaw_decode14(i as u8) * 4) as i16;
        i += 1;
    }
    t
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (alaw_decode13(i as u8) * 8) as i16;
        i += 1;
    }
    t
}

const fn build_ulaw_to_alaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let linear16 = ulaw_decode14(i as u8) * 4;
        t[i] = alaw_encode13(linear16 >> 3);
        i += 1;
    }
    t
}

const fn build_alaw_to_ulaw() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let linear16 = alaw_decode13(i as u8) * 8;
        t[i] = ulaw_encode14(linear16 >> 2);
        i += 1;
    }
    t
}

static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();
static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_TO_ALAW: [u8; 256] = build_ulaw_to_alaw();
static ALAW_TO_ULAW: [u8; 256] = build_alaw_to_ulaw();

/// Encodes one 16-bit linear sample to a µ-law code.
#[inline]
pub fn ulaw_encode(s: i16) -> u8 {
    // The top 14 bits of the sample, as an unsigned table index.
    ULAW_ENCODE[((s as u16) >> 2) as usize]
}

/// Decodes one µ-law code to a 16-bit linear sample (range ±32124).
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one 16-bit linear sample to an A-law code.
#[inline]
pub fn alaw_encode(s: i16) -> u8 {
    ALAW_ENCODE[((s as u16) >> 3) as usize]
}

/// Decodes one A-law code to a 16-bit linear sample (range ±32256).
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Converts a µ-law code to the A-law code of the same value (decode then
/// encode, precomputed).
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[code as usize]
}

/// Converts an A-law code to the µ-law code of the same value (decode then
/// encode, precomputed).
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[code as usize]
}

/// Appends the µ-law encoding of `pcm` to `out` (one byte per sample).
pub fn encode_ulaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| ulaw_encode(s)));
}

/// Appends the samples of a µ-law payload to `out` (one sample per byte).
pub fn decode_ulaw(data: &[u8], out: &mut Vec<i16>) {
    out.extend(data.iter().map(|&c| ulaw_decode(c)));
}

/// Appends the A-law encoding of `pcm` to `out` (one byte per sample).
pub fn encode_alaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| alaw_encode(s)));
}

/// Appends the samples of an A-law payload to `out` (one sample per byte).
pub fn decode_alaw(data: &[u8], out: &mut Vec<i16>) {
    out.extend(data.iter().map(|&c| alaw_decode(c)));
}

/// Rewrites a µ-law payload as A-law in place: the cheap path of a
/// PCMU↔PCMA call, no PCM in between.
pub fn transcode_ulaw_to_alaw(data: &mut [u8]) {
    for c in data {
        *c = ulaw_to_alaw(*c);
    }
}

/// Rewrites an A-law payload as µ-law in place.
pub fn transcode_alaw_to_ulaw(data: &mut [u8]) {
    for c in data {
        *c = alaw_to_ulaw(*c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantisation step (16-bit units) of the segment a µ-law code lies in.
    fn ulaw_step(code: u8) -> i32 {
        let seg = ((!code >> 4) & 7) as i32;
        8 << seg
    }

    /// Quantisation step (16-bit units) of the segment an A-law code lies in.
    fn alaw_step(code: u8) -> i32 {
        let seg = (((code ^ 0x55) >> 4) & 7) as i32;
        16 << (seg - 1).max(0)
    }

    #[test]
    fn ulaw_reference_codes() {
        // G.711 µ-law: 0xFF and 0x7F are +0 and -0.
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_encode(0), 0xFF);
        // Full scale: code 0x80 is +8031, 0x00 is -8031 (14-bit units).
        assert_eq!(ulaw_decode(0x80), 8031 * 4);
        assert_eq!(ulaw_decode(0x00), -8031 * 4);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        // First step above zero: ±2 (14-bit) -> ±8.
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0x7E), -8);
        // Last level of segment 0 is 30 (14-bit), first of segment 1 is 33.
        assert_eq!(ulaw_decode(0xF0), 30 * 4);
        assert_eq!(ulaw_decode(0xEF), 33 * 4);
        // -1 is -1 in 14-bit two's complement too, whose magnitude sits on
        // the decision level between 0 and 2: it goes to -2, never to -0.
        assert_eq!(ulaw_encode(-1), 0x7E);
        assert_eq!(ulaw_encode(3), 0xFF);
    }

    #[test]
    fn alaw_reference_codes() {
        // G.711 A-law: 0xD5 and 0x55 are the two levels next to zero (±1 in
        // 13-bit units, i.e. ±8).
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        // Full scale: 0xAA is +4032, 0x2A is -4032 (13-bit units).
        assert_eq!(alaw_decode(0xAA), 4032 * 8);
        assert_eq!(alaw_decode(0x2A), -4032 * 8);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(code));
            if code == 0x7F {
                // -0 decodes to 0, which encodes as +0: same value, other code.
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "µ-law code {code:#04x}");
            }
            assert_eq!(
                alaw_encode(alaw_decode(code)),
                code,
                "A-law code {code:#04x}"
            );
        }
    }

    #[test]
    fn decoded_levels_are_monotonic() {
        // µ-law: positive codes 0xFF down to 0x80 increase in value.
        let pos: Vec<i16> = (0x80..=0xFFu8).rev().map(ulaw_decode).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
        // A-law: codes ^0x55 ordered by magnitude.
        let pos: Vec<i16> = (0..128u8).map(|m| alaw_decode((m | 0x80) ^ 0x55)).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn encode_error_within_half_step_for_every_sample() {
        for s in i16::MIN..=i16::MAX {
            let s32 = i32::from(s);
            let code = ulaw_encode(s);
            let err = (i32::from(ulaw_decode(code)) - s32).abs();
            if s32.abs() <= 32635 {
                // Half a step, plus the 2 bits below the 14 the standard sees.
                assert!(err <= ulaw_step(code) / 2 + 4, "µ-law s={s} err={err}");
            } else {
                // Beyond the last decision level: clipped to full scale.
                assert_eq!(ulaw_decode(code), if s < 0 { -32124 } else { 32124 });
            }

            let code = alaw_encode(s);
            let err = (i32::from(alaw_decode(code)) - s32).abs();
            assert!(err <= alaw_step(code) / 2 + 8, "A-law s={s} err={err}");
        }
    }

    #[test]
    fn transcode_equals_decode_then_encode() {
        for code in 0..=255u8 {
            assert_eq!(ulaw_to_alaw(code), alaw_encode(ulaw_decode(code)));
            assert_eq!(alaw_to_ulaw(code), ulaw_encode(alaw_decode(code)));
        }
    }

    #[test]
    fn slice_helpers() {
        let pcm: Vec<i16> = (0..160)
            .map(|i| ((i * 409) % 65536 - 32768) as i16)
            .collect();
        let mut u = Vec::new();
        encode_ulaw(&pcm, &mut u);
        assert_eq!(u.len(), 160);
        let mut back = Vec::new();
        decode_ulaw(&u, &mut back);
        assert_eq!(back.len(), 160);
        assert!(back.iter().zip(&u).all(|(&s, &c)| s == ulaw_decode(c)));

        let mut a = Vec::new();
        encode_alaw(&pcm, &mut a);
        let mut back_a = Vec::new();
        decode_alaw(&a, &mut back_a);
        assert!(back_a.iter().zip(&a).all(|(&s, &c)| s == alaw_decode(c)));

        let mut t = u.clone();
        transcode_ulaw_to_alaw(&mut t);
        assert!(t.iter().zip(&u).all(|(&x, &c)| x == ulaw_to_alaw(c)));
        transcode_alaw_to_ulaw(&mut t);
        assert!(t
            .iter()
            .zip(&u)
            .all(|(&x, &c)| x == alaw_to_ulaw(ulaw_to_alaw(c))));
    }
}
