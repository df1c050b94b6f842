//! Opus (RFC 6716, RTP payload format RFC 7587) through the system's libopus,
//! opened at run time.
//!
//! Why dlopen and not a crates.io binding: every libopus binding on
//! crates.io either builds libopus from source (needing cmake and a C
//! toolchain) or links against it (needing libopus-dev for the headers and
//! the `libopus.so` link). Our set-up promise is `cargo run --release` on a
//! fresh Debian machine with neither. So nothing about libopus is needed at
//! build time: Debian's runtime library `libopus.so.0` (package `libopus0`,
//! present on most desktops and pulled in by many packages) is opened with
//! `libloading` the first time Opus is needed, once per process, and the
//! handful of functions used are looked up by name. Without it everything
//! else works and Opus is simply not offered ([`available`] says why).
//!
//! The API is used at 16 kHz mono: libopus resamples internally (its
//! decoder renders any stream, including stereo and 48 kHz fullband ones, at
//! the rate asked for), so inside Switchboard Opus is a wideband codec like
//! G.722 and needs no resampler of ours; only the RTP clock is 48 kHz.
//!
//! Nothing here panics on any input: a payload libopus refuses is replaced
//! by packet loss concealment (libopus's own, `opus_decode` with no data)
//! and counted.

use std::ffi::{c_char, c_int, c_uchar, c_void, CStr};
use std::fmt;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// Sample rate of the PCM the encoder takes and the decoder gives.
pub const PCM_RATE: u32 = 16_000;
/// The RTP clock of Opus, whatever the audio bandwidth (RFC 7587 §4.1).
pub const RTP_CLOCK: u32 = 48_000;
/// Bit rate we encode at: good wideband speech, a third of G.722's.
pub const BITRATE: i32 = 24_000;

/// The encoder's complexity (0-10) when nothing else is set: libopus's own
/// default, 10, costs 265-335 µs per 20 ms speech frame on the 2-core
/// machine (13-17 ms CPU per call per second, the whole budget of a WebRTC
/// call), 1 costs 52-66 µs (`cargo bench -p media --bench frames -- opus`, speech
/// mode). A server transcoding hundreds of calls takes the cheap end;
/// `[media] opus_complexity` raises it where there are fewer.
pub const DEFAULT_COMPLEXITY: i32 = 1;

/// The complexity new encoders get (see [`set_complexity`]).
static COMPLEXITY: std::sync::atomic::AtomicI32 =
    std::sync::atomic::AtomicI32::new(DEFAULT_COMPLEXITY);

/// Sets the complexity (clamped to 0-10) of the encoders made from now on
/// (the server does it once at start-up from its config).
pub fn set_complexity(c: i32) {
    COMPLEXITY.store(c.clamp(0, 10), std::sync::atomic::Ordering::Relaxed);
}

/// The complexity new encoders get.
pub fn complexity() -> i32 {
    COMPLEXITY.load(std::sync::atomic::Ordering::Relaxed)
}
/// The loss rate we tell the encoder to expect: libopus only spends bits
/// on in-band FEC when this is above zero. 5 % buys FEC for isolated losses
/// without taking much from the speech itself (we get no loss reports to
/// adapt it: RTCP is terminated without being read).
pub const EXPECTED_LOSS_PERCENT: i32 = 5;
/// Samples in 2.5 ms at [`PCM_RATE`]: Opus frame sizes and PLC lengths are
/// multiples of it (each encoder and decoder keeps its own, for its rate).
const QUANTUM: usize = PCM_RATE as usize / 400;
/// The PCM rate used for a leg whose other side is narrowband (G.711):
/// libopus encodes and decodes at 8 kHz itself, so no resampling is
/// needed and SILK's narrowband mode costs less.
pub const NARROW_RATE: u32 = 8_000;
/// Longest frame one `opus_encode` call takes here (60 ms at 16 kHz).
const MAX_ENCODE: usize = QUANTUM * 24;
/// Longest packet (120 ms at 16 kHz) a decoder must make room for.
#[cfg(test)]
const MAX_DECODE: usize = QUANTUM * 48;
/// Room for one encoded packet: more than libopus ever writes for 60 ms
/// (1275 bytes per frame is its maximum) and one MTU.
const MAX_PACKET: usize = 1500;

// From opus_defines.h (libopus 1.x; the values are part of its ABI).
const OPUS_OK: c_int = 0;
const OPUS_APPLICATION_VOIP: c_int = 2048;
const OPUS_SET_BITRATE_REQUEST: c_int = 4002;
const OPUS_SET_INBAND_FEC_REQUEST: c_int = 4012;
const OPUS_SET_PACKET_LOSS_PERC_REQUEST: c_int = 4014;
const OPUS_SET_DTX_REQUEST: c_int = 4016;
const OPUS_SET_COMPLEXITY_REQUEST: c_int = 4010;
const OPUS_SET_SIGNAL_REQUEST: c_int = 4024;
const OPUS_SIGNAL_VOICE: c_int = 3001;

// The functions of opus.h we use (opus_int32 is a 32-bit int).
type EncoderCreate = unsafe extern "C" fn(i32, c_int, c_int, *mut c_int) -> *mut c_void;
type Encode = unsafe extern "C" fn(*mut c_void, *const i16, c_int, *mut c_uchar, i32) -> i32;
type EncoderCtl = unsafe extern "C" fn(*mut c_void, c_int, ...) -> c_int;
type Destroy = unsafe extern "C" fn(*mut c_void);
type DecoderCreate = unsafe extern "C" fn(i32, c_int, *mut c_int) -> *mut c_void;
type Decode =
    unsafe extern "C" fn(*mut c_void, *const c_uchar, i32, *mut i16, c_int, c_int) -> c_int;
type VersionString = unsafe extern "C" fn() -> *const c_char;
type StrError = unsafe extern "C" fn(c_int) -> *const c_char;

/// The library file names tried, in order: the runtime package's soname,
/// then the development symlink (a system with libopus installed some
/// other way).
const LIBRARY_NAMES: [&str; 2] = ["libopus.so.0", "libopus.so"];

/// The opened library and the functions we call.
struct Lib {
    version: String,
    encoder_create: EncoderCreate,
    encode: Encode,
    encoder_ctl: EncoderCtl,
    encoder_destroy: Destroy,
    decoder_create: DecoderCreate,
    decode: Decode,
    decoder_destroy: Destroy,
    strerror: StrError,
    /// Kept open for the life of the process: the function pointers above
    /// point into it.
    _lib: libloading::Library,
}

static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();

/// Opens the first of `names` that loads and resolves every function.
fn load(names: &[&str]) -> Result<Lib, String> {
    let mut why = Vec::new();
    for name in names {
        // SAFETY: libopus's initialisers only set up its own static tables;
        // opening it runs nothing else.
        match unsafe { libloading::Library::new(name) } {
            Ok(lib) => match resolve(lib, name) {
                Ok(lib) => return Ok(lib),
                Err(e) => why.push(e),
            },
            Err(e) => why.push(format!("{name}: {e}")),
        }
    }
    Err(format!(
        "libopus.so.0 not found: install Debian package libopus0 ({})",
        why.join("; ")
    ))
}

fn resolve(lib: libloading::Library, name: &str) -> Result<Lib, String> {
    // SAFETY: the types are those of opus.h for each symbol, and the
    // pointers are only used while `lib` (moved into the result) is open.
    unsafe {
        macro_rules! sym {
            ($sym:literal) => {
                *lib.get(concat!($sym, "\0").as_bytes())
                    .map_err(|e| format!("{name} lacks {}: {e}", $sym))?
            };
        }
        let version_string: VersionString = sym!("opus_get_version_string");
        let version = {
            let p = version_string();
            if p.is_null() {
                "libopus (unknown version)".to_string()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Ok(Lib {
            version,
            encoder_create: sym!("opus_encoder_create"),
            encode: sym!("opus_encode"),
            encoder_ctl: sym!("opus_encoder_ctl"),
            encoder_destroy: sym!("opus_encoder_destroy"),
            decoder_create: sym!("opus_decoder_create"),
            decode: sym!("opus_decode"),
            decoder_destroy: sym!("opus_decoder_destroy"),
            strerror: sym!("opus_strerror"),
            _lib: lib,
        })
    }
}

fn lib() -> Result<&'static Lib, String> {
    LIB.get_or_init(|| load(&LIBRARY_NAMES))
        .as_ref()
        .map_err(Clone::clone)
}

/// The libopus version string (e.g. "libopus 1.3.1") when Opus can be used
/// in this process, or why not ("libopus.so.0 not found: install Debian
/// package libopus0 (...)"). The library is opened by the first call.
pub fn available() -> Result<&'static str, String> {
    lib().map(|l| l.version.as_str())
}

impl Lib {
    /// libopus's text for an error code.
    fn error(&self, code: c_int) -> String {
        // SAFETY: opus_strerror returns a static string for any code.
        let p = unsafe { (self.strerror)(code) };
        if p.is_null() {
            return format!("libopus error {code}");
        }
        // SAFETY: non-null, NUL-terminated, static.
        let text = unsafe { CStr::from_ptr(p) }.to_string_lossy();
        format!("{text} ({code})")
    }
}

/// An Opus encoder: mono 16 kHz PCM in, one packet per call out; VoIP
/// application, [`BITRATE`], in-band FEC on, DTX off (the session sends a
/// packet every 20 ms anyway, and a steady stream keeps NAT bindings and
/// browsers' jitter buffers simple).
pub struct OpusEncoder {
    st: NonNull<c_void>,
    lib: &'static Lib,
    /// Samples in 2.5 ms at this encoder's PCM rate.
    quantum: usize,
    /// Input padded up to a valid Opus frame size.
    scratch: Vec<i16>,
    errors: u64,
}

// SAFETY: the encoder state is plain memory owned by this value alone;
// libopus keeps no thread-local or global state for it.
unsafe impl Send for OpusEncoder {}

impl fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// A new encoder at [`PCM_RATE`], or why none can be made (no
    /// libopus, or libopus refused the settings).
    pub fn new() -> Result<OpusEncoder, String> {
        OpusEncoder::at(PCM_RATE)
    }

    /// A new encoder taking PCM at `rate` (8000 or 16000).
    pub fn at(rate: u32) -> Result<OpusEncoder, String> {
        let rate = if rate == NARROW_RATE {
            NARROW_RATE
        } else {
            PCM_RATE
        };
        let lib = lib()?;
        let mut err: c_int = OPUS_OK;
        // SAFETY: valid arguments; `err` outlives the call.
        let st = unsafe { (lib.encoder_create)(rate as i32, 1, OPUS_APPLICATION_VOIP, &mut err) };
        let st = match NonNull::new(st) {
            Some(st) if err == OPUS_OK => st,
            Some(st) => {
                // SAFETY: created above, destroyed once.
                unsafe { (lib.encoder_destroy)(st.as_ptr()) };
                return Err(format!("opus_encoder_create: {}", lib.error(err)));
            }
            None => return Err(format!("opus_encoder_create: {}", lib.error(err))),
        };
        let enc = OpusEncoder {
            st,
            lib,
            quantum: rate as usize / 400,
            scratch: Vec::with_capacity(MAX_ENCODE),
            errors: 0,
        };
        for (request, value, what) in [
            (OPUS_SET_BITRATE_REQUEST, BITRATE, "bitrate"),
            (OPUS_SET_INBAND_FEC_REQUEST, 1, "in-band FEC"),
            (
                OPUS_SET_PACKET_LOSS_PERC_REQUEST,
                EXPECTED_LOSS_PERCENT,
                "expected loss",
            ),
            (OPUS_SET_DTX_REQUEST, 0, "DTX"),
            (OPUS_SET_COMPLEXITY_REQUEST, complexity(), "complexity"),
            // Telephony is speech: no music detector to run, SILK or
            // hybrid chosen for it every frame.
            (OPUS_SET_SIGNAL_REQUEST, OPUS_SIGNAL_VOICE, "signal"),
        ] {
            // SAFETY: a live encoder; every request here takes one
            // opus_int32 argument.
            let r = unsafe { (lib.encoder_ctl)(enc.st.as_ptr(), request, value) };
            if r != OPUS_OK {
                // Dropping `enc` destroys the state.
                return Err(format!("opus_encoder_ctl({what}): {}", lib.error(r)));
            }
        }
        Ok(enc)
    }

    /// Encodes `pcm` (mono, 16 kHz) as one Opus packet appended to `out`.
    /// Opus takes frames of 2.5, 5, 10, 20, 40 or 60 ms: other lengths are
    /// padded with silence up to the next one, and more than 60 ms is cut
    /// to 60 ms. Empty input, or an encoder error (counted in
    /// [`errors`](Self::errors)), appends nothing.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        if pcm.is_empty() {
            return;
        }
        let max = self.quantum * 24;
        let pcm = &pcm[..pcm.len().min(max)];
        let frame = [1, 2, 4, 8, 16, 24]
            .map(|q| q * self.quantum)
            .into_iter()
            .find(|&n| n >= pcm.len())
            .unwrap_or(max);
        let input = if frame == pcm.len() {
            pcm
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(pcm);
            self.scratch.resize(frame, 0);
            &self.scratch
        };
        let at = out.len();
        out.resize(at + MAX_PACKET, 0);
        // SAFETY: a live encoder; `input` holds `frame` samples and `out`
        // has MAX_PACKET bytes from `at`.
        let n = unsafe {
            (self.lib.encode)(
                self.st.as_ptr(),
                input.as_ptr(),
                frame as c_int,
                out[at..].as_mut_ptr(),
                MAX_PACKET as i32,
            )
        };
        match usize::try_from(n) {
            Ok(n) if n <= MAX_PACKET => out.truncate(at + n),
            _ => {
                out.truncate(at);
                self.errors += 1;
                if self.errors == 1 {
                    tracing::warn!("opus_encode: {}", self.lib.error(n));
                }
            }
        }
    }

    /// Frames libopus failed to encode.
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create, destroyed once.
        unsafe { (self.lib.encoder_destroy)(self.st.as_ptr()) }
    }
}

/// An Opus decoder: any Opus stream (mono or stereo, any bandwidth) out as
/// mono 16 kHz PCM.
pub struct OpusDecoder {
    st: NonNull<c_void>,
    lib: &'static Lib,
    /// Samples in 2.5 ms at this decoder's PCM rate.
    quantum: usize,
    /// Samples in the last good packet: the length concealed for a bad one.
    last_len: usize,
    bad: u64,
}

// SAFETY: as for the encoder, the state is memory owned by this value.
unsafe impl Send for OpusDecoder {}

impl fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("bad_packets", &self.bad)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A new decoder giving PCM at [`PCM_RATE`], or why none can be made.
    pub fn new() -> Result<OpusDecoder, String> {
        OpusDecoder::at(PCM_RATE)
    }

    /// A new decoder giving PCM at `rate` (8000 or 16000).
    pub fn at(rate: u32) -> Result<OpusDecoder, String> {
        let rate = if rate == NARROW_RATE {
            NARROW_RATE
        } else {
            PCM_RATE
        };
        let quantum = rate as usize / 400;
        let lib = lib()?;
        let mut err: c_int = OPUS_OK;
        // SAFETY: valid arguments; `err` outlives the call.
        let st = unsafe { (lib.decoder_create)(rate as i32, 1, &mut err) };
        match NonNull::new(st) {
            Some(st) if err == OPUS_OK => Ok(OpusDecoder {
                st,
                lib,
                quantum,
                last_len: quantum * 8,
                bad: 0,
            }),
            Some(st) => {
                // SAFETY: created above, destroyed once.
                unsafe { (lib.decoder_destroy)(st.as_ptr()) };
                Err(format!("opus_decoder_create: {}", lib.error(err)))
            }
            None => Err(format!("opus_decoder_create: {}", lib.error(err))),
        }
    }

    /// Decodes one RTP payload (one Opus packet, 2.5 to 120 ms) and appends
    /// its samples to `out`. A payload libopus refuses (or an empty one) is
    /// concealed instead, for as long as the last good packet lasted (20 ms
    /// before any), and counted in [`bad_packets`](Self::bad_packets).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let len = i32::try_from(payload.len()).unwrap_or(0);
        if len > 0 {
            let at = out.len();
            let max = self.quantum * 48;
            out.resize(at + max, 0);
            // SAFETY: a live decoder; `payload` holds `len` bytes and `out`
            // has room for `max` samples (mono) from `at`.
            let n = unsafe {
                (self.lib.decode)(
                    self.st.as_ptr(),
                    payload.as_ptr(),
                    len,
                    out[at..].as_mut_ptr(),
                    max as c_int,
                    0,
                )
            };
            match usize::try_from(n) {
                Ok(n) if n > 0 && n <= max => {
                    out.truncate(at + n);
                    self.last_len = n;
                    return;
                }
                _ => out.truncate(at),
            }
        }
        self.bad += 1;
        self.conceal(self.last_len, out);
    }

    /// Appends `samples` of libopus's loss concealment (a lost packet),
    /// rounded up to a multiple of 2.5 ms (what libopus takes) and at most
    /// 120 ms. Continues the decoder's state, so the next packet joins on
    /// smoothly; silence before any packet was decoded.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        let q = self.quantum;
        let want = samples.div_ceil(q).clamp(1, 48) * q;
        let at = out.len();
        out.resize(at + want, 0);
        // SAFETY: a live decoder; NULL data asks for concealment of exactly
        // `want` samples, for which `out` has room from `at`.
        let n = unsafe {
            (self.lib.decode)(
                self.st.as_ptr(),
                std::ptr::null(),
                0,
                out[at..].as_mut_ptr(),
                want as c_int,
                0,
            )
        };
        // On an error (none is known for PLC) the zeros stay: silence of
        // the right length keeps the stream's timing.
        if n < 0 && self.bad <= 1 {
            tracing::warn!("opus_decode (concealment): {}", self.lib.error(n));
        }
    }

    /// Payloads libopus could not decode (concealed instead).
    pub fn bad_packets(&self) -> u64 {
        self.bad
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create, destroyed once.
        unsafe { (self.lib.decoder_destroy)(self.st.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::goertzel::tone_level_dbov;

    /// libopus must be present where the tests run (CI installs libopus0):
    /// a missing library fails the test with the reason, never skips it.
    fn need_libopus() {
        if let Err(e) = available() {
            panic!("Opus tests need libopus: {e}");
        }
    }

    fn sine(freq: f64, amp: f64, n: usize, start: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| {
                let t = i as f64 / f64::from(PCM_RATE);
                (amp * (std::f64::consts::TAU * freq * t).sin()).round() as i16
            })
            .collect()
    }

    fn rms(pcm: &[i16]) -> f64 {
        let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / pcm.len().max(1) as f64).sqrt()
    }

    /// Upward zero crossings per second.
    fn crossing_rate(pcm: &[i16]) -> f64 {
        let ups = pcm.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        ups as f64 * f64::from(PCM_RATE) / pcm.len() as f64
    }

    #[test]
    fn the_library_loads_and_says_its_version() {
        let v = available().unwrap_or_else(|e| panic!("{e}"));
        assert!(v.starts_with("libopus"), "{v}");
    }

    #[test]
    fn a_missing_library_says_which_package_to_install() {
        let Err(e) = load(&["libopus-switchboard-test-missing.so.9"]) else {
            panic!("a library that does not exist loaded");
        };
        assert!(
            e.starts_with("libopus.so.0 not found: install Debian package libopus0"),
            "{e}"
        );
        assert!(e.contains("libopus-switchboard-test-missing.so.9"), "{e}");
    }

    #[test]
    fn a_1khz_tone_keeps_its_frequency_and_energy() {
        need_libopus();
        let mut enc = OpusEncoder::new().unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let frame = 320;
        let mut sent = Vec::new();
        let mut got = Vec::new();
        let mut payload = Vec::new();
        for k in 0..50 {
            let pcm = sine(1000.0, 8000.0, frame, k * frame);
            payload.clear();
            enc.encode(&pcm, &mut payload);
            assert!(
                (10..=200).contains(&payload.len()),
                "{} bytes for 20 ms at 24 kbit/s",
                payload.len()
            );
            let before = got.len();
            dec.decode(&payload, &mut got);
            assert_eq!(got.len() - before, frame, "20 ms in, 20 ms out");
            sent.extend(pcm);
        }
        assert_eq!((enc.errors(), dec.bad_packets()), (0, 0));
        // Past the codec's start-up (its look-ahead and first frames).
        let tail = &got[frame * 10..];
        let rate = crossing_rate(tail);
        assert!((rate - 1000.0).abs() < 10.0, "{rate} crossings/s");
        let at_1k = tone_level_dbov(tail, 1000.0, PCM_RATE);
        let at_700 = tone_level_dbov(tail, 700.0, PCM_RATE);
        let at_1400 = tone_level_dbov(tail, 1400.0, PCM_RATE);
        assert!(
            at_1k > at_700 + 20.0 && at_1k > at_1400 + 20.0,
            "1 kHz at {at_1k} dBov, 700 Hz at {at_700}, 1400 Hz at {at_1400}"
        );
        let ratio = rms(tail) / rms(&sent[frame * 10..]);
        assert!((0.8..1.2).contains(&ratio), "energy ratio {ratio}");
    }

    #[test]
    fn garbage_never_panics_and_always_gives_audio() {
        need_libopus();
        let mut dec = OpusDecoder::new().unwrap();
        let mut out = Vec::new();
        // Empty: concealed, 20 ms before any good packet.
        dec.decode(&[], &mut out);
        assert_eq!(out.len(), 320);
        assert_eq!(dec.bad_packets(), 1);
        // Every single byte: a TOC alone, valid or not.
        for b in 0..=255u8 {
            out.clear();
            dec.decode(&[b], &mut out);
            assert!(
                !out.is_empty() && out.len() % QUANTUM == 0 && out.len() <= MAX_DECODE,
                "TOC {b:#04x}: {} samples",
                out.len()
            );
        }
        // Random packets of every kind of length.
        let mut rng = fastrand::Rng::with_seed(7);
        for len in [2, 3, 7, 60, 400, 1275, 1276, 1500, 4000] {
            for _ in 0..20 {
                let junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                out.clear();
                dec.decode(&junk, &mut out);
                assert!(
                    !out.is_empty() && out.len() % QUANTUM == 0 && out.len() <= MAX_DECODE,
                    "{len} random bytes: {} samples",
                    out.len()
                );
            }
        }
        assert!(dec.bad_packets() > 1, "random bytes are mostly refused");
        // And the decoder still decodes real audio afterwards.
        let mut enc = OpusEncoder::new().unwrap();
        let mut p = Vec::new();
        for k in 0..10 {
            p.clear();
            enc.encode(&sine(440.0, 6000.0, 320, k * 320), &mut p);
            out.clear();
            dec.decode(&p, &mut out);
            assert_eq!(out.len(), 320);
        }
        assert!(rms(&out) > 1000.0, "audio after garbage: rms {}", rms(&out));
    }

    #[test]
    fn concealment_continues_the_sound_then_fades() {
        need_libopus();
        let mut enc = OpusEncoder::new().unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut out = Vec::new();
        // Before anything: silence of the asked length (rounded to 2.5 ms).
        dec.conceal(300, &mut out);
        assert_eq!(out.len(), 320);
        assert!(out.iter().all(|&s| s == 0));
        let mut p = Vec::new();
        for k in 0..25 {
            p.clear();
            enc.encode(&sine(500.0, 8000.0, 320, k * 320), &mut p);
            out.clear();
            dec.decode(&p, &mut out);
        }
        let level = rms(&out);
        out.clear();
        dec.conceal(320, &mut out);
        assert_eq!(out.len(), 320);
        let first = rms(&out);
        assert!(
            first > level * 0.3,
            "first concealed frame {first} vs {level}"
        );
        for _ in 0..20 {
            out.clear();
            dec.conceal(320, &mut out);
        }
        assert!(rms(&out) < first, "concealment fades");
        assert_eq!(
            dec.bad_packets(),
            0,
            "concealment asked for is not a bad packet"
        );
    }

    #[test]
    fn odd_input_lengths_make_valid_packets() {
        need_libopus();
        let mut enc = OpusEncoder::new().unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        for (n, frame) in [
            (1, 40),
            (40, 40),
            (100, 160),
            (320, 320),
            (700, 960),
            (5000, 960),
        ] {
            let mut p = Vec::new();
            enc.encode(&vec![100; n], &mut p);
            let mut out = Vec::new();
            dec.decode(&p, &mut out);
            assert_eq!(out.len(), frame, "{n} samples in");
        }
        let mut p = Vec::new();
        enc.encode(&[], &mut p);
        assert!(p.is_empty());
        assert_eq!((enc.errors(), dec.bad_packets()), (0, 0));
    }

    #[test]
    fn a_stereo_48k_stream_decodes_to_mono_16k() {
        need_libopus();
        let lib = lib().unwrap();
        let mut err = 0;
        // A browser's encoder: 48 kHz stereo.
        // SAFETY: valid arguments; destroyed below.
        let st = unsafe { (lib.encoder_create)(48_000, 2, OPUS_APPLICATION_VOIP, &mut err) };
        assert!(!st.is_null() && err == OPUS_OK);
        let mut dec = OpusDecoder::new().unwrap();
        let mut got = Vec::new();
        for k in 0..25 {
            let pcm: Vec<i16> = (0..960)
                .flat_map(|i| {
                    let t = (k * 960 + i) as f64 / 48_000.0;
                    let s = (8000.0 * (std::f64::consts::TAU * 1000.0 * t).sin()) as i16;
                    [s, s]
                })
                .collect();
            let mut p = vec![0u8; MAX_PACKET];
            // SAFETY: 960 stereo samples in, MAX_PACKET bytes of room.
            let n =
                unsafe { (lib.encode)(st, pcm.as_ptr(), 960, p.as_mut_ptr(), MAX_PACKET as i32) };
            assert!(n > 0);
            p.truncate(n as usize);
            let before = got.len();
            dec.decode(&p, &mut got);
            assert_eq!(got.len() - before, 320);
        }
        // SAFETY: created above.
        unsafe { (lib.encoder_destroy)(st) };
        let rate = crossing_rate(&got[3200..]);
        assert!((rate - 1000.0).abs() < 10.0, "{rate} crossings/s");
    }
}
