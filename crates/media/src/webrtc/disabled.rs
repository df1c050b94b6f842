//! WebRTC legs in a build without the `webrtc` feature (the fuzz targets,
//! which need SDP and codecs but not a DTLS stack): the same API, but no
//! identity can be made, so no leg ever exists and every method is
//! unreachable by construction.

use super::WebRtcError;
use crate::sdp::SessionDescription;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Where a WebRTC leg stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcState {
    /// SDP not yet exchanged.
    New,
    /// SDP exchanged, ICE and DTLS under way.
    Connecting,
    /// ICE connected and DTLS done: media flows.
    Connected,
    /// It failed or went away; the text says how.
    Failed(String),
}

/// The server's DTLS identity: none in this build.
#[derive(Clone, Debug)]
pub struct WebRtcIdentity {
    never: Infallible,
}

impl WebRtcIdentity {
    /// Always fails: this build has no WebRTC stack.
    pub fn generate() -> Result<WebRtcIdentity, WebRtcError> {
        Err(WebRtcError::Certificate(
            "built without the webrtc feature".into(),
        ))
    }

    /// See the `webrtc` build.
    pub fn with_full_ice(self, _full: bool) -> WebRtcIdentity {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn with_mappings(self, _mappings: Option<crate::stun::Mappings>) -> WebRtcIdentity {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn ice_lite(&self) -> bool {
        match self.never {}
    }
}

/// A WebRTC leg: none can exist in this build.
#[derive(Clone, Debug)]
pub struct WebRtcLeg {
    never: Infallible,
}

impl WebRtcLeg {
    /// Unreachable: there is no identity to make a leg with.
    pub fn new(identity: &WebRtcIdentity) -> WebRtcLeg {
        match identity.never {}
    }

    /// See the `webrtc` build.
    pub fn remote_sdp(
        &self,
        _text: &str,
        _sdp: &SessionDescription,
        _fallback: IpAddr,
        _now: Instant,
    ) -> Result<SessionDescription, WebRtcError> {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn local_sdp(
        &self,
        _plain: &SessionDescription,
        _now: Instant,
    ) -> Result<String, WebRtcError> {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn receive(&self, _now: Instant, _src: SocketAddr, _data: &[u8]) {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn send_rtp(&self, _now: Instant, _pkt: &[u8]) -> bool {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn tick(&self, _now: Instant) {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn take_transmits(&self, _send: impl FnMut(SocketAddr, &[u8])) {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn take_received(&self) -> Vec<Vec<u8>> {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn state(&self) -> WebRtcState {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn local(&self) -> Option<SocketAddr> {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn id(&self) -> u64 {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn fail(&self, _why: &str) {
        match self.never {}
    }

    /// See the `webrtc` build.
    pub fn close(&self) {
        match self.never {}
    }
}
