//! SRTP with SDES keys (RFC 3711, RFC 4568): the `a=crypto` attribute, and
//! the per-leg contexts that decrypt what a phone sends and encrypt what it
//! receives. The cipher work is webrtc-rs's `webrtc-srtp`; this module owns
//! what SDP says and the defences a hostile network needs on top of it.
//!
//! Each leg has its own keys: ours (in the SDP we send it) encrypt what we
//! send to it, the phone's (in its SDP) authenticate and decrypt what it
//! sends. Nothing is relayed encrypted end to end, so a leg on plain RTP can
//! talk to one on SRTP, and the other leg's keys never leave the call.
//!
//! Every packet is authenticated before it may latch or be forwarded. The
//! library keeps state per SSRC and creates it before the authentication
//! check, so a forged packet with a new SSRC would grow it without bound:
//! here each authenticated SSRC gets its own context (at most
//! [`MAX_STREAMS`] per leg) and a packet with an unknown SSRC is tried on a
//! fresh one that is kept only if the packet authenticates.

use crate::sdp::MediaDescription;
use base64::Engine as _;
use bytes::Bytes;
use std::fmt;
use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

/// Streams (SSRCs) one leg may send us, and that we keep an outgoing
/// context for. A phone sends one or two (a new SSRC after hold or a
/// transfer); more is an attack or a bug.
pub const MAX_STREAMS: usize = 4;

/// The replay window (packets), as libsrtp's default.
const REPLAY_WINDOW: usize = 128;

/// The crypto suites we accept and offer, most preferred first (RFC 4568
/// section 6.2, RFC 6188, RFC 7714 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128 counter mode, 80-bit HMAC-SHA1 tag: the suite every SDES
    /// phone supports (RFC 4568's mandatory one).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, 32-bit tag.
    AesCm128HmacSha1_32,
    /// AES-256 counter mode, 80-bit tag (RFC 6188).
    AesCm256HmacSha1_80,
    /// AES-256 counter mode, 32-bit tag (RFC 6188).
    AesCm256HmacSha1_32,
    /// AES-128 GCM (RFC 7714).
    AeadAes128Gcm,
    /// AES-256 GCM (RFC 7714).
    AeadAes256Gcm,
}

impl Suite {
    /// Every suite, in our order of preference.
    pub const ALL: [Suite; 6] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::AesCm256HmacSha1_80,
        Suite::AesCm256HmacSha1_32,
        Suite::AeadAes128Gcm,
        Suite::AeadAes256Gcm,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The suite named `name` (case-sensitive, as RFC 4568 registers them).
    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            Suite::AesCm256HmacSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
            Suite::AesCm256HmacSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
            Suite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            Suite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        self.profile().key_len()
    }

    /// Master salt length in bytes.
    pub fn salt_len(self) -> usize {
        self.profile().salt_len()
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest key plus salt of any suite (AES-256: 32 + 14).
const MAX_MATERIAL: usize = 46;

/// One direction's master key and salt, with its suite.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeySalt {
    suite: Suite,
    material: [u8; MAX_MATERIAL],
}

impl fmt::Debug for KeySalt {
    // Keys stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySalt")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl KeySalt {
    /// A fresh random key and salt for `suite` (from the OS's CSPRNG).
    pub fn random(suite: Suite) -> Result<KeySalt, SrtpError> {
        let mut material = [0u8; MAX_MATERIAL];
        let n = suite.key_len() + suite.salt_len();
        getrandom::getrandom(&mut material[..n]).map_err(|_| SrtpError::Random)?;
        Ok(KeySalt { suite, material })
    }

    /// Key and salt from the bytes of an `inline:` parameter.
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<KeySalt, SrtpError> {
        let n = suite.key_len() + suite.salt_len();
        if bytes.len() != n {
            return Err(SrtpError::KeyLength {
                suite,
                want: n,
                got: bytes.len(),
            });
        }
        let mut material = [0u8; MAX_MATERIAL];
        material[..n].copy_from_slice(bytes);
        Ok(KeySalt { suite, material })
    }

    /// The suite these keys are for.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    fn key(&self) -> &[u8] {
        &self.material[..self.suite.key_len()]
    }

    fn salt(&self) -> &[u8] {
        let k = self.suite.key_len();
        &self.material[k..k + self.suite.salt_len()]
    }

    /// The `inline:` value: base64 of key then salt.
    pub fn inline(&self) -> String {
        let n = self.suite.key_len() + self.suite.salt_len();
        base64::engine::general_purpose::STANDARD.encode(&self.material[..n])
    }

    fn context(&self) -> Result<Context, SrtpError> {
        Context::new(
            self.key(),
            self.salt(),
            self.suite.profile(),
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
        )
        .map_err(|e| SrtpError::Context(e.to_string()))
    }
}

/// What is wrong with an `a=crypto` line or SRTP set-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// Not `<tag> <suite> inline:<key>...`.
    #[error("malformed a=crypto: {0}")]
    Malformed(String),
    /// A suite we do not implement.
    #[error("unsupported crypto suite {0}")]
    UnsupportedSuite(String),
    /// A key or session parameter we do not implement (MKI, several keys,
    /// key derivation rate, unencrypted or unauthenticated SRTP).
    #[error("unsupported a=crypto parameter: {0}")]
    UnsupportedParameter(String),
    /// The inline key has the wrong length for its suite.
    #[error("{suite} needs {want} bytes of key and salt, got {got}")]
    KeyLength {
        /// The suite.
        suite: Suite,
        /// Key plus salt length it needs.
        want: usize,
        /// What the line carried.
        got: usize,
    },
    /// The OS gave no random bytes.
    #[error("no random bytes for an SRTP key")]
    Random,
    /// The library refused the keys.
    #[error("SRTP context: {0}")]
    Context(String),
}

/// One `a=crypto` attribute (RFC 4568 section 9.1), restricted to what we
/// implement: one inline key without MKI, no session parameters that
/// weaken or change the transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoAttr {
    /// The tag that pairs an answer's line with the offer's.
    pub tag: u32,
    /// The master key and salt (with their suite).
    pub keys: KeySalt,
}

impl CryptoAttr {
    /// Parses the value of `a=crypto:` (what follows the colon).
    pub fn parse(value: &str) -> Result<CryptoAttr, SrtpError> {
        let mut parts = value.split_whitespace();
        let (Some(tag), Some(suite), Some(key_params)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SrtpError::Malformed(value.to_string()));
        };
        let tag: u32 = tag
            .parse()
            .ok()
            .filter(|t| *t <= 999_999_999)
            .ok_or_else(|| SrtpError::Malformed(format!("tag {tag:?}")))?;
        let suite =
            Suite::from_name(suite).ok_or_else(|| SrtpError::UnsupportedSuite(suite.into()))?;
        if key_params.contains(';') {
            return Err(SrtpError::UnsupportedParameter(
                "more than one key".to_string(),
            ));
        }
        let inline = key_params
            .strip_prefix("inline:")
            .ok_or_else(|| SrtpError::Malformed(format!("key method in {key_params:?}")))?;
        let mut fields = inline.split('|');
        let b64 = fields.next().unwrap_or_default();
        for f in fields {
            if f.contains(':') {
                return Err(SrtpError::UnsupportedParameter(format!("MKI {f}")));
            }
            // A lifetime (decimal or 2^n) is allowed and not enforced: we
            // never send 2^31 packets on one key in a call.
            let lifetime_ok = f.strip_prefix("2^").unwrap_or(f).parse::<u64>().is_ok();
            if !lifetime_ok {
                return Err(SrtpError::Malformed(format!("lifetime {f:?}")));
            }
        }
        for p in parts {
            let name = p.split('=').next().unwrap_or(p);
            match name {
                // Window size hint and FEC-free defaults change nothing for us.
                "WSH" => {}
                "KDR" if p == "KDR=0" => {}
                _ => return Err(SrtpError::UnsupportedParameter(p.to_string())),
            }
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SrtpError::Malformed("inline key is not base64".to_string()))?;
        Ok(CryptoAttr {
            tag,
            keys: KeySalt::from_bytes(suite, &bytes)?,
        })
    }
}

impl fmt::Display for CryptoAttr {
    /// The attribute value (without `crypto:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} inline:{}",
            self.tag,
            self.keys.suite,
            self.keys.inline()
        )
    }
}

/// Is `proto` an SDES-keyed secure RTP profile (RTP/SAVP, RTP/SAVPF)?
/// DTLS-SRTP's `UDP/TLS/RTP/SAVP(F)` is not: its keys come from a handshake.
pub fn is_sdes_proto(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/SAVP") || proto.eq_ignore_ascii_case("RTP/SAVPF")
}

/// The SDES crypto of the media section `m` as its sender meant it:
/// `Ok(None)` for plain RTP (crypto lines on RTP/AVP are ignored), the
/// line to use for RTP/SAVP (the one tagged `prefer_tag` if it is usable,
/// else the first usable one, in the sender's order), or why none is.
pub fn sdes_of(
    m: &MediaDescription,
    prefer_tag: Option<u32>,
) -> Result<Option<CryptoAttr>, SrtpError> {
    if !is_sdes_proto(&m.proto) {
        return Ok(None);
    }
    let mut first_error = None;
    let mut usable = Vec::new();
    for (name, value) in m.attributes() {
        if !name.eq_ignore_ascii_case("crypto") {
            continue;
        }
        match CryptoAttr::parse(value) {
            Ok(c) => usable.push(c),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(c) = usable.iter().find(|c| Some(c.tag) == prefer_tag) {
        return Ok(Some(*c));
    }
    match (usable.first(), first_error) {
        (Some(c), _) => Ok(Some(*c)),
        (None, Some(e)) => Err(e),
        (None, None) => Err(SrtpError::Malformed(format!(
            "{} without a=crypto",
            m.proto
        ))),
    }
}

/// Makes `m` what we send: RTP/SAVP with our one `crypto` line, or plain
/// RTP/AVP without any (a line copied from another leg's SDP must never
/// leave: it holds that leg's key).
pub fn set_sdes(m: &mut MediaDescription, crypto: Option<&CryptoAttr>) {
    m.remove_attribute("crypto");
    match crypto {
        Some(c) => {
            if !is_sdes_proto(&m.proto) {
                m.proto = "RTP/SAVP".to_string();
            }
            m.push_attribute(&format!("crypto:{c}"));
        }
        None if is_sdes_proto(&m.proto) => m.proto = "RTP/AVP".to_string(),
        None => {}
    }
}

/// The keys of one SRTP leg: the phone's (decrypt what it sends) and ours
/// (encrypt what we send it). Part of what signalling tells the media layer
/// about a side ([`Remote`](crate::Remote)); equal keys mean nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    /// From the phone's SDP.
    pub remote: KeySalt,
    /// From our SDP to the phone.
    pub local: KeySalt,
}

/// Why a packet was not decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unprotect {
    /// Authentication failed, a replay, or too short.
    Invalid,
    /// A new stream (SSRC) when the leg already has [`MAX_STREAMS`].
    TooManyStreams,
}

/// The SRTP state of one leg (owned by the task that reads its sockets).
pub(crate) struct SrtpLeg {
    keys: SrtpKeys,
    /// One context per authenticated SSRC the phone sends.
    rx: Vec<(u32, Context)>,
    /// Our outgoing context, and the SSRCs it has seen.
    tx: Context,
    tx_ssrcs: Vec<u32>,
}

impl fmt::Debug for SrtpLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpLeg")
            .field("streams_in", &self.rx.len())
            .field("streams_out", &self.tx_ssrcs.len())
            .finish()
    }
}

impl SrtpLeg {
    /// Contexts for `keys`.
    pub(crate) fn new(keys: SrtpKeys) -> Result<SrtpLeg, SrtpError> {
        Ok(SrtpLeg {
            keys,
            rx: Vec::new(),
            tx: keys.local.context()?,
            tx_ssrcs: Vec::new(),
        })
    }

    /// The keys this state was made from.
    pub(crate) fn keys(&self) -> SrtpKeys {
        self.keys
    }

    /// Authenticates and decrypts an SRTP (or, `rtcp`, SRTCP) packet whose
    /// header has been checked; the plain packet.
    pub(crate) fn unprotect(&mut self, rtcp: bool, pkt: &[u8]) -> Result<Bytes, Unprotect> {
        let ssrc_at = if rtcp { 4 } else { 8 };
        let ssrc = pkt
            .get(ssrc_at..ssrc_at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or(Unprotect::Invalid)?;
        let run = |ctx: &mut Context| {
            if rtcp {
                ctx.decrypt_rtcp(pkt)
            } else {
                ctx.decrypt_rtp(pkt)
            }
        };
        if let Some((_, ctx)) = self.rx.iter_mut().find(|(s, _)| *s == ssrc) {
            return run(ctx).map_err(|_| Unprotect::Invalid);
        }
        if self.rx.len() >= MAX_STREAMS {
            return Err(Unprotect::TooManyStreams);
        }
        // A new stream: kept only once a packet of it authenticates.
        let mut ctx = self.keys.remote.context().map_err(|_| Unprotect::Invalid)?;
        let plain = run(&mut ctx).map_err(|_| Unprotect::Invalid)?;
        self.rx.push((ssrc, ctx));
        Ok(plain)
    }

    /// Encrypts a plain RTP (or, `rtcp`, RTCP) packet for the phone; None
    /// when it cannot be (malformed; the counter of a stream is exhausted).
    pub(crate) fn protect(&mut self, rtcp: bool, pkt: &[u8]) -> Option<Bytes> {
        let ssrc_at = if rtcp { 4 } else { 8 };
        let ssrc = pkt
            .get(ssrc_at..ssrc_at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))?;
        if !self.tx_ssrcs.contains(&ssrc) {
            if self.tx_ssrcs.len() >= MAX_STREAMS {
                // The other leg keeps changing SSRC: start over rather than
                // keep state for every one of them.
                self.tx = self.keys.local.context().ok()?;
                self.tx_ssrcs.clear();
            }
            self.tx_ssrcs.push(ssrc);
        }
        if rtcp {
            self.tx.encrypt_rtcp(pkt).ok()
        } else {
            self.tx.encrypt_rtp(pkt).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4568 section 9.1's example line.
    const RFC_LINE: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";

    fn rtp(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn rr(ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 201, 0, 1];
        p.extend_from_slice(&ssrc.to_be_bytes());
        p
    }

    /// A leg pair: what `a` encrypts, `b` decrypts.
    fn pair(suite: Suite) -> (SrtpLeg, SrtpLeg) {
        let ka = KeySalt::random(suite).unwrap();
        let kb = KeySalt::random(suite).unwrap();
        let a = SrtpLeg::new(SrtpKeys {
            remote: kb,
            local: ka,
        })
        .unwrap();
        let b = SrtpLeg::new(SrtpKeys {
            remote: ka,
            local: kb,
        })
        .unwrap();
        (a, b)
    }

    #[test]
    fn the_rfc_example_line_is_refused_for_its_mki_and_a_line_without_it_parses() {
        assert!(matches!(
            CryptoAttr::parse(RFC_LINE),
            Err(SrtpError::UnsupportedParameter(_))
        ));
        let c = CryptoAttr::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20",
        )
        .unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.keys.suite(), Suite::AesCm128HmacSha1_80);
        assert_eq!(c.keys.inline(), "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
        assert_eq!(
            c.to_string(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
        );
        assert_eq!(CryptoAttr::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn lines_we_cannot_honour_are_refused_with_the_reason() {
        let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        for (line, want) in [
            (
                "1 F8_128_HMAC_SHA1_80 inline:{key}",
                "unsupported crypto suite",
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP",
                "parameter",
            ),
            ("1 AES_CM_128_HMAC_SHA1_80 inline:{key} KDR=24", "parameter"),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:{key};inline:{key}",
                "more than one key",
            ),
            ("1 AES_CM_128_HMAC_SHA1_80 inline:QUJD", "needs 30 bytes"),
            ("1 AES_CM_128_HMAC_SHA1_80 inline:***", "base64"),
            ("1 AES_CM_128_HMAC_SHA1_80 key:{key}", "key method"),
            ("x AES_CM_128_HMAC_SHA1_80 inline:{key}", "tag"),
            ("1 AES_CM_128_HMAC_SHA1_80", "malformed"),
            ("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|soon", "lifetime"),
        ] {
            let line = line.replace("{key}", key);
            let e = CryptoAttr::parse(&line).expect_err(&line).to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
        let ok = format!("7 AES_CM_128_HMAC_SHA1_32 inline:{key} WSH=64 KDR=0");
        assert_eq!(CryptoAttr::parse(&ok).unwrap().tag, 7);
    }

    fn audio(lines: &str) -> MediaDescription {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n{lines}"
        );
        crate::sdp::SessionDescription::parse(&text)
            .unwrap()
            .media
            .remove(0)
    }

    #[test]
    fn the_crypto_of_a_media_section_follows_its_profile() {
        let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let plain = audio(&format!(
            "m=audio 4000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
        ));
        assert_eq!(
            sdes_of(&plain, None),
            Ok(None),
            "crypto on RTP/AVP is ignored"
        );
        let m = audio(&format!(
            "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 F8_128_HMAC_SHA1_80 inline:{key}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{key}\r\n\
             a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
        ));
        assert_eq!(sdes_of(&m, None).unwrap().unwrap().tag, 2, "first usable");
        assert_eq!(
            sdes_of(&m, Some(3)).unwrap().unwrap().tag,
            3,
            "the tag asked for"
        );
        let none = audio(&format!(
            "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 F8_128_HMAC_SHA1_80 inline:{key}\r\n"
        ));
        assert!(matches!(
            sdes_of(&none, None),
            Err(SrtpError::UnsupportedSuite(_))
        ));
        let bare = audio("m=audio 4000 RTP/SAVP 0\r\n");
        assert!(sdes_of(&bare, None)
            .unwrap_err()
            .to_string()
            .contains("without a=crypto"));
    }

    #[test]
    fn what_we_send_carries_only_our_crypto() {
        let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let mut m = audio(&format!(
            "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\na=sendrecv\r\n"
        ));
        let ours = CryptoAttr {
            tag: 1,
            keys: KeySalt::random(Suite::AesCm128HmacSha1_80).unwrap(),
        };
        set_sdes(&mut m, Some(&ours));
        let text = m.to_string();
        assert!(
            !text.contains(key),
            "the other leg's key never leaves: {text}"
        );
        assert!(text.contains(&format!("a=crypto:{ours}")), "{text}");
        assert_eq!(m.proto, "RTP/SAVP");
        set_sdes(&mut m, None);
        assert_eq!(m.proto, "RTP/AVP");
        assert!(!m.to_string().contains("crypto"), "{m}");
        let mut avp = audio("m=audio 4000 RTP/AVP 0\r\n");
        set_sdes(&mut avp, Some(&ours));
        assert_eq!(avp.proto, "RTP/SAVP");
    }

    #[test]
    fn every_suite_round_trips_rtp_and_rtcp() {
        for suite in Suite::ALL {
            let (mut a, mut b) = pair(suite);
            let plain = rtp(0x1234, 7, b"hello audio");
            let sealed = a.protect(false, &plain).unwrap();
            assert_ne!(&sealed[12..], &plain[12..], "{suite}: payload encrypted");
            assert_eq!(
                &b.unprotect(false, &sealed).unwrap()[..],
                &plain[..],
                "{suite}"
            );
            let report = rr(0x1234);
            let sealed = a.protect(true, &report).unwrap();
            assert_eq!(
                &b.unprotect(true, &sealed).unwrap()[..],
                &report[..],
                "{suite}"
            );
        }
    }

    #[test]
    fn a_tampered_or_replayed_packet_or_the_wrong_key_is_refused() {
        let (mut a, mut b) = pair(Suite::AesCm128HmacSha1_80);
        let sealed = a.protect(false, &rtp(1, 1, b"payload")).unwrap();
        let mut bad = sealed.to_vec();
        bad[13] ^= 1;
        assert_eq!(b.unprotect(false, &bad), Err(Unprotect::Invalid));
        assert!(b.unprotect(false, &sealed).is_ok());
        assert_eq!(
            b.unprotect(false, &sealed),
            Err(Unprotect::Invalid),
            "replay"
        );
        // Sealed with the receiver's own key (e.g. keys crossed): refused.
        let mut wrong = SrtpLeg::new(SrtpKeys {
            remote: b.keys().local,
            local: b.keys().local,
        })
        .unwrap();
        let sealed = wrong.protect(false, &rtp(1, 2, b"payload")).unwrap();
        assert_eq!(b.unprotect(false, &sealed), Err(Unprotect::Invalid));
    }

    #[test]
    fn forged_streams_leave_no_state_and_the_number_of_streams_is_capped() {
        let (mut a, mut b) = pair(Suite::AesCm128HmacSha1_80);
        let forged = KeySalt::random(Suite::AesCm128HmacSha1_80).unwrap();
        let mut attacker = SrtpLeg::new(SrtpKeys {
            remote: forged,
            local: forged,
        })
        .unwrap();
        for ssrc in 100..1100 {
            let p = attacker.protect(false, &rtp(ssrc, 1, b"x")).unwrap();
            assert_eq!(b.unprotect(false, &p), Err(Unprotect::Invalid));
        }
        assert!(
            b.rx.is_empty(),
            "no state for streams that never authenticated"
        );
        for ssrc in 0..MAX_STREAMS as u32 {
            let p = a.protect(false, &rtp(ssrc, 1, b"x")).unwrap();
            assert!(b.unprotect(false, &p).is_ok());
        }
        let p = a.protect(false, &rtp(99, 1, b"x")).unwrap();
        assert_eq!(b.unprotect(false, &p), Err(Unprotect::TooManyStreams));
        // The outgoing side starts over instead of growing.
        for ssrc in 0..40 {
            assert!(a.protect(false, &rtp(1000 + ssrc, 1, b"x")).is_some());
        }
        assert!(a.tx_ssrcs.len() <= MAX_STREAMS);
    }
}
