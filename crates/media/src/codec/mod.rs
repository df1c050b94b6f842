//! The audio codecs Switchboard speaks on RTP: G.711 µ-law (PCMU), G.711
//! A-law (PCMA), G.722 and Opus.
//!
//! [`Codec`] carries the RTP facts of each (payload type, RTP clock,
//! samples per 20 ms); [`Encoder`] and [`Decoder`] turn PCM at the codec's
//! own sample rate into payloads and back, so the media session can treat
//! them all alike. A PCMU↔PCMA call does not need PCM at all:
//! [`transcode_g711`] rewrites the payload in place.
//!
//! Opus is the odd one: its library is opened at run time ([`opus`]), so it
//! is usable only where libopus is installed ([`Codec::is_available`],
//! [`Codec::usable`]); it has no static payload type (offers use
//! [`OPUS_DEFAULT_PT`], answers the peer's number); and its RTP clock is
//! 48 kHz while the PCM it gives and takes here is 16 kHz.

pub mod g711;
pub mod g722;
pub mod opus;

use std::fmt;
use std::str::FromStr;

use crate::audio::{frame_len, FRAME_MS, RATE_16K, RATE_8K};

/// An audio codec Switchboard can negotiate and process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, 8 kHz, 64 kbit/s.
    Pcmu,
    /// G.711 A-law, 8 kHz, 64 kbit/s.
    Pcma,
    /// G.722 sub-band ADPCM, 16 kHz audio, 64 kbit/s.
    G722,
    /// Opus (RFC 6716, RTP format RFC 7587): what browsers send. Handled as
    /// 16 kHz mono audio at 24 kbit/s; needs libopus at run time.
    Opus,
}

/// The payload type our offers give Opus (the one browsers use; any
/// dynamic number works, and answers use the offerer's).
pub const OPUS_DEFAULT_PT: u8 = 111;

/// A codec name that is not one of PCMU, PCMA, G722, OPUS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec {0:?}: expected PCMU, PCMA, G722 or OPUS")]
pub struct UnknownCodec(pub String);

impl Codec {
    /// Every codec Switchboard knows, in order of preference for narrowband
    /// interop (G.711 first). Opus among them whether or not libopus is
    /// installed: see [`Codec::usable`] for the ones that work here.
    pub const ALL: [Codec; 4] = [Codec::Pcmu, Codec::Pcma, Codec::G722, Codec::Opus];

    /// The codecs of [`Codec::ALL`] this process can encode and decode:
    /// all but Opus when libopus cannot be opened.
    pub fn usable() -> Vec<Codec> {
        Codec::ALL
            .into_iter()
            .filter(|c| c.is_available())
            .collect()
    }

    /// Whether this codec works in this process (Opus: libopus opened;
    /// the others are built in).
    pub fn is_available(self) -> bool {
        match self {
            Codec::Opus => opus::available().is_ok(),
            _ => true,
        }
    }

    /// Static RTP payload type of RFC 3551 (0, 8, 9); none for Opus, whose
    /// number is agreed in SDP.
    pub fn static_pt(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::Opus => None,
        }
    }

    /// The payload type we offer this codec with: its static one, or
    /// [`OPUS_DEFAULT_PT`].
    pub fn default_pt(self) -> u8 {
        self.static_pt().unwrap_or(OPUS_DEFAULT_PT)
    }

    /// Encoding name as written in SDP `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus => "opus",
        }
    }

    /// RTP timestamp clock rate. 8000 for G.711 and G.722: RFC 3551 keeps
    /// G.722's RTP clock at 8000 Hz although it samples at 16 kHz (an
    /// erratum kept for compatibility). 48000 for Opus whatever it carries
    /// (RFC 7587 §4.1).
    pub fn rtp_clock(self) -> u32 {
        match self {
            Codec::Opus => opus::RTP_CLOCK,
            _ => 8000,
        }
    }

    /// The `a=rtpmap` value after the payload type: `PCMU/8000`, and
    /// `opus/48000/2` (RFC 7587 §7: Opus is always declared with two
    /// channels, whatever is sent).
    pub fn rtpmap(self) -> String {
        match self {
            Codec::Opus => format!("{}/{}/2", self.encoding_name(), self.rtp_clock()),
            _ => format!("{}/{}", self.encoding_name(), self.rtp_clock()),
        }
    }

    /// The `a=fmtp` parameters we declare for this codec, if any: for Opus,
    /// packets down to 10 ms and in-band FEC (we send it and can use it).
    pub fn fmtp(self) -> Option<&'static str> {
        match self {
            Codec::Opus => Some("minptime=10;useinbandfec=1"),
            _ => None,
        }
    }

    /// Sample rate of the PCM the encoder takes and the decoder gives:
    /// 16 kHz for G.722 and Opus (libopus converts from and to it itself).
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => RATE_8K,
            Codec::G722 => RATE_16K,
            Codec::Opus => opus::PCM_RATE,
        }
    }

    /// RTP timestamp units per 20 ms frame (160, and 960 for Opus).
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

    /// A fresh encoder for this codec. An Opus encoder that cannot be made
    /// (no libopus: [`Codec::is_available`] was not checked) encodes
    /// nothing, with a warning, rather than failing the call.
    pub fn encoder(self) -> Encoder {
        self.encoder_at(self.sample_rate())
    }

    /// A fresh encoder taking PCM at `rate`: only Opus takes another rate
    /// than [`Codec::sample_rate`] (8000, see [`opus::NARROW_RATE`]); the
    /// others ignore it.
    pub fn encoder_at(self, rate: u32) -> Encoder {
        Encoder {
            state: match self {
                Codec::Pcmu => EncoderState::Pcmu,
                Codec::Pcma => EncoderState::Pcma,
                Codec::G722 => EncoderState::G722(Box::default()),
                Codec::Opus => EncoderState::Opus(
                    opus::OpusEncoder::at(rate)
                        .map_err(|e| tracing::warn!("no Opus encoder: {e}"))
                        .ok(),
                ),
            },
        }
    }

    /// A fresh decoder for this codec. An Opus decoder that cannot be made
    /// (no libopus) gives 20 ms of silence per packet, with a warning.
    pub fn decoder(self) -> Decoder {
        self.decoder_at(self.sample_rate())
    }

    /// A fresh decoder giving PCM at `rate` (see [`Codec::encoder_at`]).
    pub fn decoder_at(self, rate: u32) -> Decoder {
        Decoder {
            state: match self {
                Codec::Pcmu => DecoderState::Pcmu,
                Codec::Pcma => DecoderState::Pcma,
                Codec::G722 => DecoderState::G722(Box::default()),
                Codec::Opus => DecoderState::Opus(
                    opus::OpusDecoder::at(rate)
                        .map_err(|e| tracing::warn!("no Opus decoder: {e}"))
                        .ok(),
                ),
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

#[derive(Debug)]
enum EncoderState {
    Pcmu,
    Pcma,
    // Boxed: the G.722 state is a few hundred bytes, the G.711 ones nothing.
    G722(Box<g722::G722Encoder>),
    // None: libopus could not be opened.
    Opus(Option<opus::OpusEncoder>),
}

/// Encoder for one outgoing stream: holds the codec and its state (not
/// `Clone`: an Opus state belongs to libopus).
#[derive(Debug)]
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
            EncoderState::Opus(_) => Codec::Opus,
        }
    }

    /// Encodes `pcm` (at the codec's [`Codec::sample_rate`]) and appends
    /// the payload bytes to `out`. Opus makes one packet of the whole of
    /// `pcm` (see [`opus::OpusEncoder::encode`]).
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        match &mut self.state {
            EncoderState::Pcmu => g711::encode_ulaw(pcm, out),
            EncoderState::Pcma => g711::encode_alaw(pcm, out),
            EncoderState::G722(enc) => enc.encode(pcm, out),
            EncoderState::Opus(Some(enc)) => enc.encode(pcm, out),
            EncoderState::Opus(None) => {}
        }
    }
}

#[derive(Debug)]
enum DecoderState {
    Pcmu,
    Pcma,
    G722(Box<g722::G722Decoder>),
    // None: libopus could not be opened.
    Opus(Option<opus::OpusDecoder>),
}

/// Decoder for one incoming stream: holds the codec and its state (not
/// `Clone`: an Opus state belongs to libopus).
#[derive(Debug)]
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
            DecoderState::Opus(_) => Codec::Opus,
        }
    }

    /// Decodes an RTP payload and appends its samples (at the codec's
    /// [`Codec::sample_rate`]) to `out`. Any byte string is valid input
    /// (an Opus payload libopus refuses is concealed and counted).
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        match &mut self.state {
            DecoderState::Pcmu => g711::decode_ulaw(payload, out),
            DecoderState::Pcma => g711::decode_alaw(payload, out),
            DecoderState::G722(dec) => dec.decode(payload, out),
            DecoderState::Opus(Some(dec)) => dec.decode(payload, out),
            DecoderState::Opus(None) => out.resize(out.len() + frame_len(opus::PCM_RATE), 0),
        }
    }

    /// Appends `samples` of the codec's own concealment of a lost packet and
    /// returns true, if it has one (Opus: libopus's PLC, which also keeps
    /// the decoder's state in step); false, appending nothing, for codecs
    /// without (the caller conceals the decoded audio itself).
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> bool {
        match &mut self.state {
            DecoderState::Opus(Some(dec)) => {
                dec.conceal(samples, out);
                true
            }
            _ => false,
        }
    }

    /// Payloads this decoder could not decode and concealed instead (only
    /// Opus can refuse a payload; 0 for the others).
    pub fn bad_payloads(&self) -> u64 {
        match &self.state {
            DecoderState::Opus(Some(dec)) => dec.bad_packets(),
            _ => 0,
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
            [Some(0), Some(8), Some(9), None],
            "RFC 3551 static payload types; Opus has none"
        );
        assert_eq!(Codec::ALL.map(Codec::default_pt), [0, 8, 9, 111]);
        assert_eq!(Codec::ALL.map(Codec::rtp_clock), [8000, 8000, 8000, 48000]);
        assert_eq!(
            Codec::ALL.map(Codec::sample_rate),
            [8000, 8000, 16000, 16000]
        );
        assert_eq!(
            Codec::ALL.map(Codec::rtp_samples_per_frame),
            [160, 160, 160, 960]
        );
        assert_eq!(
            Codec::ALL.map(Codec::rtpmap),
            ["PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2"]
        );
        assert_eq!(
            Codec::ALL.map(Codec::fmtp),
            [None, None, None, Some("minptime=10;useinbandfec=1")]
        );
        assert!(Codec::Pcma.is_g711() && !Codec::G722.is_g711() && !Codec::Opus.is_g711());
    }

    #[test]
    fn opus_is_usable_here() {
        // libopus0 is installed wherever the tests run: its absence fails.
        if let Err(e) = opus::available() {
            panic!("{e}");
        }
        assert!(Codec::Opus.is_available());
        assert_eq!(Codec::usable(), Codec::ALL.to_vec());
    }

    #[test]
    fn names_parse_and_print() {
        for c in Codec::ALL {
            assert_eq!(Codec::from_name(c.encoding_name()), Some(c));
            assert_eq!(c.to_string().parse::<Codec>(), Ok(c));
        }
        assert_eq!(Codec::from_name("pcmu"), Some(Codec::Pcmu));
        assert_eq!("g722".parse::<Codec>(), Ok(Codec::G722));
        assert_eq!(Codec::from_name("opus"), Some(Codec::Opus));
        assert_eq!("OPUS".parse::<Codec>(), Ok(Codec::Opus));
        assert_eq!(Codec::from_name("GSM"), None);
        let err = "G729".parse::<Codec>().unwrap_err();
        assert!(err.to_string().contains("G729"), "{err}");
    }

    #[test]
    fn frame_sizes_per_codec() {
        for c in [Codec::Pcmu, Codec::Pcma, Codec::G722] {
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
        // Opus: variable size, but 20 ms in gives 20 ms out.
        let mut enc = Codec::Opus.encoder();
        let mut dec = Codec::Opus.decoder();
        assert_eq!((enc.codec(), dec.codec()), (Codec::Opus, Codec::Opus));
        let mut payload = Vec::new();
        enc.encode(&[0; 320], &mut payload);
        assert!(!payload.is_empty() && payload.len() < 160);
        let mut back = Vec::new();
        dec.decode(&payload, &mut back);
        assert_eq!(back.len(), 320);
        // Its own concealment; the others have none.
        assert!(dec.conceal(320, &mut back));
        assert_eq!(back.len(), 640);
        assert!(!Codec::G722.decoder().conceal(320, &mut back));
        assert_eq!(back.len(), 640);
        dec.decode(&[], &mut back);
        assert_eq!(dec.bad_payloads(), 1);
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
