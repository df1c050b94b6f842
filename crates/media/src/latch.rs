//! Latching: which source a side's RTP and RTCP are accepted from, and sent
//! back to (symmetric RTP, RFC 4961, which is what gets media through NAT),
//! restricted to what signalling named so that a stranger who finds a relay
//! port can neither take a stream over nor receive it. Shared by the plain
//! relay and the processing media session; sans-IO (time is an argument).
//!
//! The rules, like rtpengine's learning plus `strict-source`:
//! - Only sources signalling named may latch: the exact address in the side's
//!   SDP, or any port on the SDP's IP or on the IP the side's SIP comes from
//!   (a phone behind NAT sends from its public address and a port its SDP
//!   cannot know). Anything else is dropped, at any time.
//! - RTP latches to the first valid packet (version 2, a payload type the
//!   side negotiated, consistent length) from such a source, and its SSRC is
//!   kept. During the learning window that follows (default 3 s, like
//!   rtpengine's) the same stream (same SSRC) may still move to another such
//!   source, unless it came from the exact SDP address; after that the latch
//!   is fixed for the rest of the call.
//! - Only a new SDP address (a re-INVITE moving the call) forgets the latches
//!   and starts learning again.
//! - RTCP latches once, to the first valid report (version 2, payload type
//!   200-204, consistent length) from the SDP's RTCP address (`a=rtcp`, else
//!   RTP port + 1) or from the IPs above; garbage never latches it.

use crate::srtp::{SrtpKeys, SrtpLeg, Unprotect};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};

use crate::sdp::SessionDescription;

/// How long after the first latch the stream may still move (see the
/// module documentation), in milliseconds: rtpengine's 3 s.
pub const DEFAULT_LEARNING_MS: u64 = 3_000;

/// A set of RTP payload types (0-127).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadTypes(u128);

impl PayloadTypes {
    /// Every payload type: what a side whose SDP listed none accepts.
    pub const ANY: PayloadTypes = PayloadTypes(u128::MAX);

    /// This set plus `pt`.
    pub fn with(self, pt: u8) -> PayloadTypes {
        PayloadTypes(self.0 | 1u128 << (pt & 0x7f))
    }

    /// Whether `pt` (marker bit ignored) is in the set.
    pub fn contains(self, pt: u8) -> bool {
        self.0 >> (pt & 0x7f) & 1 == 1
    }
}

impl Default for PayloadTypes {
    fn default() -> Self {
        PayloadTypes::ANY
    }
}

impl FromIterator<u8> for PayloadTypes {
    fn from_iter<I: IntoIterator<Item = u8>>(iter: I) -> Self {
        iter.into_iter()
            .fold(PayloadTypes(0), |set, pt| set.with(pt))
    }
}

/// What signalling says about one side's media: where to send it and who
/// may latch (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    /// The RTP address in the side's SDP.
    pub rtp: SocketAddr,
    /// The RTCP address from `a=rtcp` (RFC 3605); `None` means RTP port + 1.
    pub rtcp: Option<SocketAddr>,
    /// The IP the side's SIP messages come from: packets from any port of it
    /// may latch (NAT). `None`: only the SDP's IP.
    pub signalling_ip: Option<IpAddr>,
    /// Payload types negotiated for the side (its `m=` line, so
    /// telephone-event and comfort noise when offered): the first packet must
    /// carry one of them to latch.
    pub payload_types: PayloadTypes,
    /// The learning window, in milliseconds.
    pub learning_ms: u64,
    /// SDES keys when the side uses SRTP (RTP/SAVP): every packet must
    /// authenticate before it may latch or be forwarded.
    pub srtp: Option<SrtpKeys>,
}

impl Remote {
    /// Just an RTP address: any payload type, learning from the address's IP.
    pub fn new(rtp: SocketAddr) -> Remote {
        Remote {
            rtp,
            rtcp: None,
            signalling_ip: None,
            payload_types: PayloadTypes::ANY,
            learning_ms: DEFAULT_LEARNING_MS,
            srtp: None,
        }
    }

    /// The `i`th media stream of `sdp`: its RTP address (`None` when the
    /// stream is rejected, on old-style hold or has no address), `a=rtcp`
    /// and its payload types.
    pub fn from_sdp(sdp: &SessionDescription, i: usize) -> Option<Remote> {
        let rtp = sdp.rtp_addr(i)?;
        let m = sdp.media.get(i)?;
        let rtcp = m.attribute("rtcp").and_then(|v| {
            // a=rtcp:<port> [IN IP4 <address>]
            let mut parts = v.split_whitespace();
            let port = parts.next()?.parse().ok()?;
            let ip = match (parts.next(), parts.next(), parts.next()) {
                (Some(_), Some(_), Some(addr)) => addr.parse().ok()?,
                _ => rtp.ip(),
            };
            Some(SocketAddr::new(ip, port))
        });
        let pts: PayloadTypes = m.formats.iter().filter_map(|f| f.parse().ok()).collect();
        Some(Remote {
            rtcp,
            payload_types: if pts == PayloadTypes(0) {
                PayloadTypes::ANY
            } else {
                pts
            },
            ..Remote::new(rtp)
        })
    }

    /// The same with the IP the side's signalling comes from.
    pub fn with_signalling_ip(self, ip: Option<IpAddr>) -> Remote {
        Remote {
            signalling_ip: ip.map(|ip| ip.to_canonical()),
            ..self
        }
    }

    /// The same with SRTP keys (None: plain RTP).
    pub fn with_srtp(self, srtp: Option<SrtpKeys>) -> Remote {
        Remote { srtp, ..self }
    }

    /// The same with another learning window.
    pub fn with_learning_ms(self, learning_ms: u64) -> Remote {
        Remote {
            learning_ms,
            ..self
        }
    }

    /// Where the side wants RTCP: `a=rtcp`, else RTP port + 1.
    pub fn rtcp_addr(&self) -> Option<SocketAddr> {
        self.rtcp.or_else(|| plus_one(self.rtp))
    }

    /// May a packet from `src` latch (the address itself, or an IP that
    /// signalling named)?
    fn may_latch(&self, src: SocketAddr) -> bool {
        let ip = src.ip().to_canonical();
        src == self.rtp
            || ip == self.rtp.ip().to_canonical()
            || self.signalling_ip.is_some_and(|s| s.to_canonical() == ip)
    }
}

impl From<SocketAddr> for Remote {
    fn from(rtp: SocketAddr) -> Remote {
        Remote::new(rtp)
    }
}

fn plus_one(a: SocketAddr) -> Option<SocketAddr> {
    Some(SocketAddr::new(a.ip(), a.port().checked_add(1)?))
}

/// Why a datagram was not accepted (for the drop counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, or not valid for this side (payload type, length).
    Invalid,
    /// From a source that is not the latched peer and may not become it.
    Source,
    /// SRTP that failed authentication or the replay check, or a stream
    /// beyond the leg's cap.
    Srtp,
}

/// The latched RTP source.
#[derive(Debug, Clone, Copy)]
struct RtpLatch {
    addr: SocketAddr,
    ssrc: u32,
    /// When the first packet latched: the learning window runs from here.
    since_ms: u64,
}

/// Per-side latching state, owned by the task that reads the side's sockets.
#[derive(Debug, Default)]
pub(crate) struct SideState {
    remote: Option<Remote>,
    rtp: Option<RtpLatch>,
    /// Latched RTCP source, also the RTCP destination.
    rtcp: Option<SocketAddr>,
    /// SRTP contexts while the side uses SRTP.
    srtp: Option<Box<SrtpLeg>>,
}

impl SideState {
    /// What signalling said last.
    pub(crate) fn remote(&self) -> Option<Remote> {
        self.remote
    }

    /// The latched RTP source.
    pub(crate) fn latched_rtp(&self) -> Option<SocketAddr> {
        self.rtp.map(|l| l.addr)
    }

    /// Applies what signalling says. A new RTP address (the call moved)
    /// forgets both latches, a new RTCP address the RTCP latch; other
    /// changes (payload types after a codec change) keep them.
    pub(crate) fn set_remote(&mut self, r: Remote) {
        if let Some(old) = self.remote {
            if old.rtp != r.rtp {
                self.rtp = None;
                self.rtcp = None;
            } else if old.rtcp != r.rtcp {
                self.rtcp = None;
            }
        }
        if self.srtp.as_ref().map(|l| l.keys()) != r.srtp {
            self.srtp = r.srtp.and_then(|keys| match SrtpLeg::new(keys) {
                Ok(leg) => Some(Box::new(leg)),
                Err(e) => {
                    // Keys were checked when the SDP was read: not reached.
                    tracing::warn!("SRTP keys refused: {e}");
                    None
                }
            });
        }
        self.remote = Some(r);
    }

    /// Does this side use SRTP?
    pub(crate) fn is_srtp(&self) -> bool {
        self.srtp.is_some()
    }

    /// For an SRTP side, the plain form of a packet from `src` (RTCP when
    /// `rtcp`) whose header was checked; `Ok(None)` on a plain side. Only
    /// a source that may latch is worth the decryption.
    pub(crate) fn unprotect(
        &mut self,
        rtcp: bool,
        src: SocketAddr,
        pkt: &[u8],
    ) -> Result<Option<Bytes>, Refusal> {
        let Some(leg) = &mut self.srtp else {
            return Ok(None);
        };
        let known = if rtcp {
            self.rtcp == Some(src)
                || self.remote.is_some_and(|r| {
                    self.rtcp.is_none() && (Some(src) == r.rtcp_addr() || r.may_latch(src))
                })
        } else {
            self.rtp.is_some_and(|l| l.addr == src) || self.remote.is_some_and(|r| r.may_latch(src))
        };
        if !known {
            return Err(Refusal::Source);
        }
        match leg.unprotect(rtcp, pkt) {
            Ok(plain) => Ok(Some(plain)),
            Err(Unprotect::Invalid | Unprotect::TooManyStreams) => Err(Refusal::Srtp),
        }
    }

    /// For an SRTP side, the encrypted form of a plain packet we send it;
    /// `Ok(None)` on a plain side, `Err` when it cannot be encrypted.
    pub(crate) fn protect(&mut self, rtcp: bool, pkt: &[u8]) -> Result<Option<Bytes>, ()> {
        match &mut self.srtp {
            None => Ok(None),
            Some(leg) => leg.protect(rtcp, pkt).map(Some).ok_or(()),
        }
    }

    /// Where RTP for this side goes: the latched source, else the SDP address.
    pub(crate) fn rtp_target(&self) -> Option<SocketAddr> {
        self.latched_rtp().or(self.remote.map(|r| r.rtp))
    }

    /// Where RTCP for this side goes: the latched RTCP source; else next to
    /// the latched RTP source when that is not the SDP address (NAT); else
    /// the SDP's RTCP address.
    pub(crate) fn rtcp_target(&self) -> Option<SocketAddr> {
        if self.rtcp.is_some() {
            return self.rtcp;
        }
        match (self.rtp, self.remote) {
            (Some(l), Some(r)) if l.addr != r.rtp => plus_one(l.addr),
            (_, Some(r)) => r.rtcp_addr(),
            (Some(l), None) => plus_one(l.addr),
            (None, None) => None,
        }
    }

    /// Decides on an RTP packet from `src` that passed
    /// [`valid_rtp`](crate::relay::valid_rtp); `Ok(true)` when it latched or
    /// moved the latch. The latched source is one comparison: the rest is
    /// for the first packets of a call and for strangers.
    #[inline]
    pub(crate) fn accept_rtp(
        &mut self,
        src: SocketAddr,
        pkt: &[u8],
        now_ms: u64,
    ) -> Result<bool, Refusal> {
        match self.rtp {
            Some(l) if l.addr == src => Ok(false),
            _ => self.learn_rtp(src, pkt, now_ms),
        }
    }

    #[cold]
    fn learn_rtp(&mut self, src: SocketAddr, pkt: &[u8], now_ms: u64) -> Result<bool, Refusal> {
        let Some(remote) = self.remote else {
            // Nothing signalled for this side yet: nobody may latch.
            return Err(Refusal::Source);
        };
        if !remote.may_latch(src) {
            return Err(Refusal::Source);
        }
        let (Some(&b1), Some(ssrc)) = (pkt.get(1), pkt.get(8..12)) else {
            return Err(Refusal::Invalid);
        };
        let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
        let since_ms = match self.rtp {
            None => now_ms,
            Some(l) => {
                let learning = now_ms.saturating_sub(l.since_ms) < remote.learning_ms;
                // The SDP address itself is final; another source may only
                // continue the same stream, and only while learning.
                if l.addr == remote.rtp || !learning || l.ssrc != ssrc {
                    return Err(Refusal::Source);
                }
                l.since_ms
            }
        };
        if !remote.payload_types.contains(b1) || !padding_fits(pkt) {
            return Err(Refusal::Invalid);
        }
        self.rtp = Some(RtpLatch {
            addr: src,
            ssrc,
            since_ms,
        });
        Ok(true)
    }

    /// Decides on an RTCP packet from `src` that passed
    /// [`valid_rtcp`](crate::relay::valid_rtcp); `Ok(true)` when it latched.
    pub(crate) fn accept_rtcp(&mut self, src: SocketAddr, pkt: &[u8]) -> Result<bool, Refusal> {
        if let Some(latched) = self.rtcp {
            return if latched == src {
                Ok(false)
            } else {
                Err(Refusal::Source)
            };
        }
        let Some(remote) = self.remote else {
            return Err(Refusal::Source);
        };
        if Some(src) != remote.rtcp_addr() && !remote.may_latch(src) {
            return Err(Refusal::Source);
        }
        // A report (SR, RR, SDES, BYE, APP), not feedback alone.
        if !pkt.get(1).is_some_and(|pt| (200..=204).contains(pt)) {
            return Err(Refusal::Invalid);
        }
        self.rtcp = Some(src);
        Ok(true)
    }
}

/// The padding count (last byte, when the P bit is set) fits after the header.
fn padding_fits(p: &[u8]) -> bool {
    if p[0] & 0x20 == 0 {
        return true;
    }
    let header = 12 + 4 * usize::from(p[0] & 0x0f);
    let pad = usize::from(p[p.len() - 1]);
    pad > 0 && header + pad <= p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: &str = "192.0.2.10";
    const NAT: &str = "198.51.100.7";
    const STRANGER: &str = "203.0.113.66";

    fn at(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    /// RTP with payload type `pt` and `ssrc`.
    fn rtp(pt: u8, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, pt, 0, 1, 0, 0, 0, 160];
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0xff; 160]);
        p
    }

    fn rr() -> Vec<u8> {
        vec![0x80, 201, 0, 1, 0, 0, 0, 9]
    }

    /// A phone whose SDP says 10.0.0.5:4000 (private) with PCMU and
    /// telephone-event 101, signalling from the NAT's public address.
    fn natted() -> SideState {
        let mut s = SideState::default();
        s.set_remote(Remote {
            rtp: at("10.0.0.5", 4000),
            rtcp: None,
            signalling_ip: Some(NAT.parse().unwrap()),
            payload_types: [0, 101].into_iter().collect(),
            learning_ms: 3_000,
            srtp: None,
        });
        s
    }

    /// A phone on a public address: SDP and signalling agree.
    fn public() -> SideState {
        let mut s = SideState::default();
        s.set_remote(
            Remote::new(at(PHONE, 4000))
                .with_signalling_ip(Some(PHONE.parse().unwrap()))
                .with_learning_ms(3_000),
        );
        s
    }

    #[test]
    fn nothing_latches_before_signalling() {
        let mut s = SideState::default();
        assert_eq!(
            s.accept_rtp(at(PHONE, 4000), &rtp(0, 1), 0),
            Err(Refusal::Source)
        );
        assert_eq!(s.accept_rtcp(at(PHONE, 4001), &rr()), Err(Refusal::Source));
        assert_eq!(s.rtp_target(), None);
    }

    #[test]
    fn the_sdp_address_latches_and_is_final() {
        let mut s = public();
        assert_eq!(s.rtp_target(), Some(at(PHONE, 4000)));
        assert_eq!(s.accept_rtp(at(PHONE, 4000), &rtp(0, 1), 100), Ok(true));
        assert_eq!(s.accept_rtp(at(PHONE, 4000), &rtp(0, 1), 120), Ok(false));
        // Same host, same stream, still in the window: the SDP address stays.
        assert_eq!(
            s.accept_rtp(at(PHONE, 5000), &rtp(0, 1), 140),
            Err(Refusal::Source)
        );
        assert_eq!(s.rtp_target(), Some(at(PHONE, 4000)));
    }

    #[test]
    fn behind_nat_the_first_valid_packet_from_the_signalling_ip_latches() {
        let mut s = natted();
        // Before anything arrives, media goes where the SDP says.
        assert_eq!(s.rtp_target(), Some(at("10.0.0.5", 4000)));
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 0), Ok(true));
        assert_eq!(s.rtp_target(), Some(at(NAT, 61000)));
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(101, 7), 20), Ok(false));
    }

    #[test]
    fn strangers_never_latch() {
        for mut s in [natted(), public()] {
            // Before the phone sends, during and after its learning window.
            for now in [0, 1_000, 10_000] {
                assert_eq!(
                    s.accept_rtp(at(STRANGER, 4000), &rtp(0, 7), now),
                    Err(Refusal::Source)
                );
            }
            let phone = s.remote().unwrap().signalling_ip.unwrap();
            let phone = SocketAddr::new(phone, 4000);
            assert_eq!(s.accept_rtp(phone, &rtp(0, 7), 10_000), Ok(true));
            // Same SSRC as the phone, inside the window: still a stranger.
            assert_eq!(
                s.accept_rtp(at(STRANGER, 4000), &rtp(0, 7), 10_001),
                Err(Refusal::Source)
            );
            assert_eq!(s.rtp_target(), Some(phone));
        }
    }

    #[test]
    fn first_packet_must_carry_a_negotiated_payload_type() {
        let mut s = natted();
        // PCMA (8) was not in the SDP; neither is comfort noise here.
        for pt in [8, 13, 96] {
            assert_eq!(
                s.accept_rtp(at(NAT, 61000), &rtp(pt, 7), 0),
                Err(Refusal::Invalid)
            );
        }
        assert_eq!(s.latched_rtp(), None);
        // Telephone-event was negotiated: it may come first (marker set).
        assert_eq!(
            s.accept_rtp(at(NAT, 61000), &rtp(0x80 | 101, 7), 0),
            Ok(true)
        );
    }

    #[test]
    fn padding_longer_than_the_packet_does_not_latch() {
        let mut s = natted();
        let mut p = rtp(0, 7);
        p[0] |= 0x20;
        *p.last_mut().unwrap() = 200;
        assert_eq!(s.accept_rtp(at(NAT, 61000), &p, 0), Err(Refusal::Invalid));
        *p.last_mut().unwrap() = 4;
        assert_eq!(s.accept_rtp(at(NAT, 61000), &p, 0), Ok(true));
    }

    #[test]
    fn within_the_window_only_the_same_stream_may_move() {
        let mut s = natted();
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 1_000), Ok(true));
        // Another SSRC from another port of the NAT: not the phone's stream.
        assert_eq!(
            s.accept_rtp(at(NAT, 62000), &rtp(0, 8), 1_500),
            Err(Refusal::Source)
        );
        // The same stream from a new NAT port (the mapping changed).
        assert_eq!(s.accept_rtp(at(NAT, 62000), &rtp(0, 7), 2_000), Ok(true));
        assert_eq!(s.rtp_target(), Some(at(NAT, 62000)));
        // The window runs from the first latch, not from the move.
        assert_eq!(
            s.accept_rtp(at(NAT, 63000), &rtp(0, 7), 4_000),
            Err(Refusal::Source)
        );
        assert_eq!(s.rtp_target(), Some(at(NAT, 62000)));
    }

    #[test]
    fn after_the_window_the_latch_is_fixed() {
        let mut s = natted();
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 0), Ok(true));
        // The phone goes silent for a minute; a source on the same IP with
        // the same SSRC still cannot take over.
        assert_eq!(
            s.accept_rtp(at(NAT, 62000), &rtp(0, 7), 60_000),
            Err(Refusal::Source)
        );
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 9), 60_020), Ok(false));
        assert_eq!(s.rtp_target(), Some(at(NAT, 61000)));
    }

    #[test]
    fn learning_waits_for_the_first_packet() {
        // Ringing for 30 s before the phone sends: it still latches.
        let mut s = natted();
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 30_000), Ok(true));
    }

    #[test]
    fn a_new_sdp_address_starts_learning_again() {
        let mut s = natted();
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 0), Ok(true));
        assert_eq!(s.accept_rtcp(at(NAT, 61001), &rr()), Ok(true));
        // A re-INVITE repeating the same address changes nothing...
        s.set_remote(natted().remote().unwrap());
        assert_eq!(s.rtp_target(), Some(at(NAT, 61000)));
        // ...one naming a new address forgets both latches.
        let mut moved = natted().remote().unwrap();
        moved.rtp = at("10.0.0.6", 5000);
        s.set_remote(moved);
        assert_eq!(s.rtp_target(), Some(at("10.0.0.6", 5000)));
        assert_eq!(s.rtcp_target(), Some(at("10.0.0.6", 5001)));
        assert_eq!(s.accept_rtp(at(NAT, 64000), &rtp(0, 99), 90_000), Ok(true));
        assert_eq!(s.rtp_target(), Some(at(NAT, 64000)));
    }

    #[test]
    fn a_new_payload_type_list_keeps_the_latch() {
        let mut s = natted();
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 0), Ok(true));
        let mut r = natted().remote().unwrap();
        r.payload_types = [8].into_iter().collect();
        s.set_remote(r);
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(8, 7), 10), Ok(false));
    }

    #[test]
    fn rtcp_garbage_never_latches() {
        let mut s = natted();
        // Version 2 and long enough, but not a report; and a stranger's report.
        let not_a_report = [0x80, 0, 0, 1, 0, 0, 0, 9];
        assert_eq!(
            s.accept_rtcp(at(NAT, 61001), &not_a_report),
            Err(Refusal::Invalid)
        );
        assert_eq!(s.accept_rtcp(at(STRANGER, 9), &rr()), Err(Refusal::Source));
        assert_eq!(s.rtcp_target(), Some(at("10.0.0.5", 4001)));
        // The phone's own report latches, and then only it passes.
        assert_eq!(s.accept_rtcp(at(NAT, 61001), &rr()), Ok(true));
        assert_eq!(s.accept_rtcp(at(NAT, 61001), &rr()), Ok(false));
        assert_eq!(s.accept_rtcp(at(NAT, 5555), &rr()), Err(Refusal::Source));
        assert_eq!(s.rtcp_target(), Some(at(NAT, 61001)));
    }

    #[test]
    fn rtcp_target_follows_sdp_then_nat_then_latch() {
        let mut s = SideState::default();
        let mut r = Remote::new(at("10.0.0.5", 4000));
        r.rtcp = Some(at("10.0.0.5", 4100));
        r.signalling_ip = Some(NAT.parse().unwrap());
        s.set_remote(r);
        assert_eq!(s.rtcp_target(), Some(at("10.0.0.5", 4100)));
        // Latched behind NAT: RTCP is guessed next to the real RTP source.
        assert_eq!(s.accept_rtp(at(NAT, 61000), &rtp(0, 7), 0), Ok(true));
        assert_eq!(s.rtcp_target(), Some(at(NAT, 61001)));
        // The a=rtcp address itself may latch RTCP.
        assert_eq!(s.accept_rtcp(at("10.0.0.5", 4100), &rr()), Ok(true));
        assert_eq!(s.rtcp_target(), Some(at("10.0.0.5", 4100)));
    }

    #[test]
    fn ipv4_mapped_sources_count_as_their_ipv4_address() {
        let mut s = natted();
        let mapped = SocketAddr::new(
            "::ffff:198.51.100.7"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .into(),
            61000,
        );
        assert_eq!(s.accept_rtp(mapped, &rtp(0, 7), 0), Ok(true));
    }

    #[test]
    fn remote_from_sdp() {
        let sdp = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0 8 101\r\na=rtcp:4005 IN IP4 10.0.0.9\r\n\
             a=rtpmap:101 telephone-event/8000\r\n",
        )
        .unwrap();
        let r = Remote::from_sdp(&sdp, 0).unwrap();
        assert_eq!(r.rtp, at("10.0.0.5", 4000));
        assert_eq!(r.rtcp, Some(at("10.0.0.9", 4005)));
        for pt in [0, 8, 101] {
            assert!(r.payload_types.contains(pt));
        }
        assert!(!r.payload_types.contains(9));
        assert_eq!(r.signalling_ip, None);
        assert_eq!(r.learning_ms, DEFAULT_LEARNING_MS);
        let hold = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0\r\n",
        )
        .unwrap();
        assert_eq!(Remote::from_sdp(&hold, 0), None);
    }
}
