//! The plain view of a browser's SDP: what the call's offer/answer logic,
//! written for SIP phones, needs to know of it (codecs, payload types,
//! direction), with the WebRTC transport lines left to the endpoint.

use crate::negotiate;
use crate::sdp::{Connection, SessionDescription};
use std::net::{IpAddr, SocketAddr};

/// Attributes of the plain view's audio section: the codecs and direction.
const KEPT: [&str; 8] = [
    "rtpmap", "fmtp", "ptime", "maxptime", "sendrecv", "sendonly", "recvonly", "inactive",
];

/// Whether `sdp` is a WebRTC description: its audio is carried over DTLS
/// (`UDP/TLS/RTP/SAVPF`, RFC 5764) rather than plain or SDES RTP.
pub fn is_webrtc(sdp: &SessionDescription) -> bool {
    negotiate::audio_section(sdp).is_some_and(|(_, m)| {
        let proto = m.proto.to_ascii_uppercase();
        proto.contains("TLS") || proto.ends_with("SAVPF")
    })
}

/// The plain view of a browser's description: its first audio section as
/// `RTP/AVP` with the browser's codecs, payload types and direction; the
/// address is its first UDP candidate (`fallback` when it has none, e.g.
/// mDNS names). Nothing is ever sent there: the endpoint sends where ICE
/// proved the browser is.
pub fn plain_view(sdp: &SessionDescription, fallback: IpAddr) -> Option<SessionDescription> {
    let (i, audio) = negotiate::audio_section(sdp)?;
    let mut m = audio.clone();
    let addr = first_candidate(sdp, i).unwrap_or(SocketAddr::new(fallback, 9));
    m.proto = "RTP/AVP".into();
    m.port = if audio.port == 0 { 0 } else { addr.port() };
    m.connection = None;
    let direction = m.direction();
    m.retain_attributes(|n| KEPT.iter().any(|k| k.eq_ignore_ascii_case(n)));
    m.set_direction(direction);
    let mut view = sdp.clone();
    view.retain_attributes(|_| false);
    view.media = vec![m];
    view.connection = Some(Connection { addr: addr.ip() });
    view.origin.addrtype = if addr.is_ipv4() { "IP4" } else { "IP6" }.into();
    view.origin.address = addr.ip().to_string();
    Some(view)
}

/// The first UDP host/srflx candidate of section `i` with a literal IP.
fn first_candidate(sdp: &SessionDescription, i: usize) -> Option<SocketAddr> {
    sdp.media.get(i)?.attributes().find_map(|(name, value)| {
        if !name.eq_ignore_ascii_case("candidate") {
            return None;
        }
        // foundation component transport priority address port typ ...
        let f: Vec<&str> = value.split_whitespace().collect();
        if f.len() < 6 || !f[2].eq_ignore_ascii_case("udp") || f[1] != "1" {
            return None;
        }
        let ip: IpAddr = f[4].parse().ok()?;
        let port: u16 = f[5].parse().ok()?;
        Some(SocketAddr::new(ip, port))
    })
}
