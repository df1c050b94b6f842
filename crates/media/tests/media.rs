//! Media crate integration tests: SDP, port allocation and the RTP relay on real sockets.

#[path = "media/ports.rs"]
mod ports;
#[path = "media/relay.rs"]
mod relay;
#[path = "media/sdp.rs"]
mod sdp;
#[path = "media/session.rs"]
mod session;
