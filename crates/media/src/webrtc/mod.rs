//! WebRTC legs: a browser's media terminated here with ICE-lite, DTLS-SRTP,
//! RTCP-mux and BUNDLE (by str0m, a sans-IO WebRTC stack), so that the rest
//! of Switchboard sees an ordinary RTP leg.
//!
//! Why str0m and not webrtc-rs: measured in `benches/webrtc-stacks` (300
//! calls on two cores: str0m 0.70 cores and p99 7.6 ms, webrtc-rs 1.11
//! cores and 54 ms, webrtc-rs collapsing under contention), and being
//! sans-IO it runs inside the media session's own task with no extra
//! threads or channels.
//!
//! The translation happens at two seams:
//! - **SDP.** A browser's SDP is handed to [`WebRtcLeg::remote_sdp`], which
//!   gives back a *plain view* (the audio section as RTP/AVP with the
//!   browser's codecs and payload types) for the call's usual offer/answer
//!   logic. What the call sends the browser goes through
//!   [`WebRtcLeg::local_sdp`], which turns our plain SDP into a WebRTC offer
//!   or answer with the same codecs and payload types, our ICE credentials,
//!   host candidate (and, with full ICE and a STUN server, the port's
//!   server-reflexive candidate, see [`crate::stun`]) and DTLS fingerprint.
//! - **Packets.** The media session feeds every datagram of the leg's port
//!   to [`WebRtcLeg::receive`] and gets plain RTP back (STUN and DTLS are
//!   answered inside); what the session sends the leg goes through
//!   [`WebRtcLeg::send_rtp`] and leaves encrypted.
//!
//! Security: ICE makes the browser prove it holds the password we gave it
//! in SDP before any media flows (so a stranger who finds the port cannot
//! latch), and DTLS checks the certificate against the fingerprint from
//! signalling; SRTP authenticates every packet.

#[cfg(not(feature = "webrtc"))]
mod disabled;
#[cfg(feature = "webrtc")]
mod endpoint;
mod sdp_view;

#[cfg(not(feature = "webrtc"))]
pub use disabled::{WebRtcIdentity, WebRtcLeg, WebRtcState};
#[cfg(feature = "webrtc")]
pub use endpoint::{WebRtcLeg, WebRtcState};
pub use sdp_view::{is_webrtc, plain_view};

#[cfg(feature = "webrtc")]
use std::sync::Arc;
#[cfg(feature = "webrtc")]
use str0m::config::DtlsCert;

/// Why a WebRTC leg could not be set up or went down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebRtcError {
    /// The browser's SDP could not be used (text says why).
    #[error("bad WebRTC SDP: {0}")]
    Sdp(String),
    /// No codec we can use is in the browser's SDP.
    #[error("no common codec with the browser: {0}")]
    NoCodec(String),
    /// The WebRTC stack refused the operation.
    #[error("WebRTC: {0}")]
    Stack(String),
    /// The DTLS certificate could not be made.
    #[error("DTLS certificate: {0}")]
    Certificate(String),
}

/// The server's DTLS identity: one certificate for every WebRTC leg of the
/// process (as FreeSWITCH's `dtls-srtp.pem`), so a leg costs no key
/// generation; browsers pin it per call through the fingerprint in SDP.
#[cfg(feature = "webrtc")]
#[derive(Clone)]
pub struct WebRtcIdentity {
    cert: Arc<DtlsCert>,
    /// ICE-lite (the default: a server with an address browsers reach),
    /// or full ICE (false), where the server also sends connectivity
    /// checks: behind a NAT its checks open the way, and the browser
    /// learns its real address as a peer-reflexive candidate.
    ice_lite: bool,
    /// The server-reflexive addresses learnt from a STUN server for the
    /// RTP ports handed out (full ICE only): a leg on such a port offers
    /// that address as a srflx candidate beside its host candidate.
    mappings: Option<crate::stun::Mappings>,
}

#[cfg(feature = "webrtc")]
impl std::fmt::Debug for WebRtcIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebRtcIdentity")
    }
}

#[cfg(feature = "webrtc")]
impl WebRtcIdentity {
    /// Makes a fresh self-signed certificate (at start-up).
    pub fn generate() -> Result<WebRtcIdentity, WebRtcError> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| WebRtcError::Certificate("the crypto provider made none".into()))?;
        Ok(WebRtcIdentity {
            cert: Arc::new(cert),
            ice_lite: true,
            mappings: None,
        })
    }

    /// The same identity with full ICE (`full`) or ICE-lite for the legs
    /// made from now on.
    pub fn with_full_ice(mut self, full: bool) -> WebRtcIdentity {
        self.ice_lite = !full;
        self
    }

    /// Whether legs use ICE-lite.
    pub fn ice_lite(&self) -> bool {
        self.ice_lite
    }

    /// The same identity whose legs look up their port's server-reflexive
    /// address in `mappings` (from `PortAllocator::mappings`). Only legs
    /// with full ICE use it: an ICE-lite agent has host candidates only
    /// (RFC 8445 §2.5).
    pub fn with_mappings(mut self, mappings: Option<crate::stun::Mappings>) -> WebRtcIdentity {
        self.mappings = mappings;
        self
    }

    /// The server-reflexive address of RTP port `port`, if one was learnt
    /// and legs use full ICE.
    fn reflexive(&self, port: u16) -> Option<std::net::SocketAddr> {
        if self.ice_lite {
            return None;
        }
        self.mappings.as_ref()?.get(port)
    }

    fn cert(&self) -> DtlsCert {
        (*self.cert).clone()
    }
}

#[cfg(all(test, feature = "webrtc"))]
mod tests;
