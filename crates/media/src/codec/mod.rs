//! The audio codecs Switchboard speaks on RTP: G.711 µ-law (PCMU), G.711
//! A-law (PCMA) and G.722.
//!
//! [`Codec`] carries the RTP facts of each (static payload type, RTP clock,
//! samples per 20 ms); [`Encoder`] and [`Decoder`] turn PCM at the codec's
//! own sample rate into payloads and back, so the media session can treat
//! all three alike. A PCMU↔PCMA call does not need PCM at all:
//! [`transcode_g711`] rewrites the payload in place.

pub mod g711;
pub mod g722;

use std::fmt;
use std::str::FromStr;

use crate::audio::{FRAME_MS, RATE_16K, RATE_8K};

/// An audio codec Switchboard can negotiate and process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, 8 kHz, 64 kbit/s.
    Pcmu,
    /// G.711 A-law, 8 kHz, 64 kbit/s.
    Pcma,
    /// G.722 sub-band ADPCM, 16 kHz audio, 64 kbit/s.
    G722,
}

/// A codec name that is not one of PCMU, PCMA, G722.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec {0:?}: expected PCMU, PCMA or G722")]
pub struct UnknownCodec(pub String);

impl Codec {
    /// Every supported codec, in order of preference for narrowband
    /// interop (G.711 first).
    pub const ALL: [Codec; 3] = [Codec::Pcmu, Codec::Pcma, Codec::G722];

    /// Static RTP payload type of RFC 3551 (0, 8, 9).
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
        }
    }

    /// Encoding name as written in SDP `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
        }
    }

    /// RTP timestamp clock rate. 8000 for all three: RFC 3551 keeps G.722's
    /// RTP clock at 8000 Hz although it samples at 16 kHz (an erratum kept
    /// for compatibility).
    pub fn rtp_clock(self) -> u32 {
        8000
    }

    /// Sample rate of the PCM the encoder takes and the decoder gives.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => RATE_8K,
            Codec::G722 => RATE_16K,
        }
    }

    /// RTP timestamp units per 20 ms frame (160 for all three).
    pub fn rtp_samples_per_frame(self) -> u32 {
        self.rtp_clock() / 1000 * FRAME_MS
    }

    /// Looks a codec up by its SDP encoding name, ignoring case.
    pub fn from_name(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.encoding_name().eq_ignore_ascii_case(name))
    }

    /// Whether this is one of the two G.711 laws.
    pub fn is_g711(self) -> bool {
        matches!(self, Codec::Pcmu | Codec::Pcma)
    }

    /// A fresh encoder for this codec.
    pub fn encoder(self) -> Encoder {
        Encoder {
            state: match self {
                Codec::Pcmu => EncoderState::Pcmu,
                Codec::Pcma => EncoderState::Pcma,
                Codec::G722 => EncoderState::G722(Box::default()),
            },
        }
    }

    /// A fresh decoder for this codec.
    pub fn decoder(self) -> Decoder {
        Decoder {
            state: match self {
                Codec::Pcmu => DecoderState::Pcmu,
                Codec::Pcma => DecoderState::Pcma,
                Codec::G722 => DecoderState::G722(Box::default()),
            },
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Codec::from_name(s).ok_or_else(|| UnknownCodec(s.to_owned()))
    }
}

#[derive(Debug, Clone)]
enum EncoderState {
    Pcmu,
    Pcma,
    // Boxed: the G.722 state is a few hundred bytes, the G.711 ones nothing.
    G722(Box<g722::G722Encoder>),
}

/// Encoder for one outgoing stream: holds the codec and its state.
#[derive(Debug, Clone)]
pub struct Encoder {
    state: EncoderState,
}

impl Encoder {
    /// Codec this encoder produces.
    pub fn codec(&self) -> Codec {
        match self.state {
            EncoderState::Pcmu => Codec::Pcmu,
            EncoderState::Pcma => Codec::Pcma,
            EncoderState::G722(_) => Codec::G722,
        }
    }

    /// Encodes `pcm` (at the codec's [`Codec::sample_rate`]) and appends
    /// the payload bytes to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        match &mut self.state {
            EncoderState::Pcmu => g711::encode_ulaw(pcm, out),
            EncoderState::Pcma => g711::encode_alaw(pcm, out),
            EncoderState::G722(enc) => enc.encode(pcm, out),
        }
    }
}

#[derive(Debug, Clone)]
enum DecoderState {
    Pcmu,
    Pcma,
    G722(Box<g722::G722Decoder>),
}

/// Decoder for one incoming stream: holds the codec and its state.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: DecoderState,
}

impl Decoder {
    /// Codec this decoder reads.
    pub fn codec(&self) -> Codec {
        match self.state {
            DecoderState::Pcmu => Codec::Pcmu,
            DecoderState::Pcma => Codec::Pcma,
            DecoderState::G722(_) => Codec::G722,
        }
    }

    /// Decodes an RTP payload and appends its samples (at the codec's
    /// [`Codec::sample_rate`]) to `out`. Any byte string is valid input.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match &mut self.state {
            DecoderState::Pcmu => g711::decode_ulaw(payload, out),
            DecoderState::Pcma => g711::decode_alaw(payload, out),
            DecoderState::G722(dec) => dec.decode(payload, out),
        }
    }
}

/// Rewrites a G.711 payload from one law to the other in place (nothing to
/// do if both are the same law). Returns false, leaving the payload as it
/// was, if either codec is not G.711.
pub fn transcode_g711(from: Codec, to: Codec, payload: &mut [u8]) -> bool {
    match (from, to) {
        (Codec::Pcmu, Codec::Pcma) => g711::transcode_ulaw_to_alaw(payload),
        (Codec::Pcma, Codec::Pcmu) => g711::transcode_alaw_to_ulaw(payload),
        (Codec::Pcmu, Codec::Pcmu) | (Codec::Pcma, Codec::Pcma) => {}
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::frame_len;

    #[test]
    fn rtp_facts() {
        assert_eq!(
            Codec::ALL.map(Codec::static_pt),
            [0, 8, 9],
            "RFC 3551 static payload types"
        );
        assert_eq!(Codec::ALL.map(Codec::rtp_clock), [8000; 3]);
        assert_eq!(Codec::ALL.map(Codec::sample_rate), [8000, 8000, 16000]);
        assert_eq!(Codec::ALL.map(Codec::rtp_samples_per_frame), [160; 3]);
        assert!(Codec::Pcma.is_g711() && !Codec::G722.is_g711());
    }

    #[test]
    fn names_parse_and_print() {
        for c in Codec::ALL {
            assert_eq!(Codec::from_name(c.encoding_name()), Some(c));
            assert_eq!(c.to_string().parse::<Codec>(), Ok(c));
        }
        assert_eq!(Codec::from_name("pcmu"), Some(Codec::Pcmu));
        assert_eq!("g722".parse::<Codec>(), Ok(Codec::G722));
        assert_eq!(Codec::from_name("opus"), None);
        let err = "G729".parse::<Codec>().unwrap_err();
        assert!(err.to_string().contains("G729"), "{err}");
    }

    #[test]
    fn frame_sizes_per_codec() {
        for c in Codec::ALL {
            let mut enc = c.encoder();
            let mut dec = c.decoder();
            assert_eq!(enc.codec(), c);
            assert_eq!(dec.codec(), c);
            let pcm: Vec<i16> = (0..frame_len(c.sample_rate()))
                .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
                .collect();
            let mut payload = Vec::new();
            enc.encode(&pcm, &mut payload);
            // 20 ms is 160 octets for all three: 64 kbit/s.
            assert_eq!(payload.len(), 160, "{c}");
            let mut back = Vec::new();
            dec.decode(&payload, &mut back);
            assert_eq!(back.len(), pcm.len(), "{c}");
        }
    }

    #[test]
    fn g711_transcoding_matches_decode_encode() {
        let pcm: Vec<i16> = (0..160).map(|i| (i * 397 - 30000) as i16).collect();
        let mut mu = Vec::new();
        Codec::Pcmu.encoder().encode(&pcm, &mut mu);
        let mut a = mu.clone();
        assert!(transcode_g711(Codec::Pcmu, Codec::Pcma, &mut a));
        let mut via_pcm = Vec::new();
        Codec::Pcmu.decoder().decode(&mu, &mut via_pcm);
        let mut expected = Vec::new();
        Codec::Pcma.encoder().encode(&via_pcm, &mut expected);
        assert_eq!(a, expected);

        let before = a.clone();
        assert!(!transcode_g711(Codec::Pcma, Codec::G722, &mut a));
        assert!(!transcode_g711(Codec::G722, Codec::Pcmu, &mut a));
        assert_eq!(a, before);
        assert!(transcode_g711(Codec::Pcma, Codec::Pcma, &mut a));
        assert_eq!(a, before);
    }
}
