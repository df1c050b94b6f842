//! One WebRTC leg's endpoint: a str0m `Rtc` in RTP mode (we get and give
//! whole RTP packets, the media session does the rest), ICE-lite with one
//! host candidate on the leg's port (or full ICE, with the port's
//! server-reflexive candidate when a STUN server gave one), DTLS passive
//! or active as the SDP says.
//!
//! The call's actor drives the SDP side and the media session the packet
//! side of the same endpoint, so it sits behind a mutex; str0m's rule that
//! every change is followed by draining its output is kept inside each
//! method, which leaves what is to be sent in a queue the session empties
//! ([`WebRtcLeg::take_transmits`]).

use super::{plain_view, WebRtcError, WebRtcIdentity};
use crate::sdp::SessionDescription;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec as SCodec, FormatParams};
use str0m::media::{Direction as SDirection, Frequency, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

/// How long ICE and DTLS may take after the SDP exchange before the leg is
/// declared failed (browsers give up on ICE after about 30 s too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long ICE may stay disconnected before the leg is declared failed:
/// a browser changing networks restarts ICE well within it, one that went
/// away does not.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(10);
/// Most datagrams queued for sending (DTLS flights, RTCP, media) before
/// the oldest are dropped: the session empties the queue every packet and
/// tick, so reaching this means the socket is gone.
const MAX_QUEUED: usize = 256;

/// Where a WebRTC leg stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcState {
    /// SDP not yet exchanged.
    New,
    /// SDP exchanged, ICE and DTLS under way.
    Connecting,
    /// ICE connected and DTLS done: media flows.
    Connected,
    /// It failed or went away; the text says how (for the CDR and logs).
    Failed(String),
}

/// A WebRTC leg, shared by the call (SDP) and its media session
/// (packets); clones are the same leg.
#[derive(Clone)]
pub struct WebRtcLeg {
    inner: Arc<Mutex<Endpoint>>,
}

impl std::fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.lock();
        f.debug_struct("WebRtcLeg")
            .field("local", &e.local)
            .field("state", &e.state)
            .finish()
    }
}

struct Endpoint {
    id: u64,
    identity: WebRtcIdentity,
    /// Our candidate: the address and port of our plain SDP for the leg
    /// (the advertised media address and the leg's port).
    local: Option<SocketAddr>,
    /// Our server-reflexive candidate, when a STUN server told the port's
    /// public address.
    srflx: Option<SocketAddr>,
    rtc: Option<Rtc>,
    mid: Option<Mid>,
    /// The browser's offer, until our answer is made.
    remote_offer: Option<String>,
    /// Our offer, until the browser's answer arrives.
    pending: Option<SdpPendingOffer>,
    /// The last description we sent (a re-offer with nothing changed
    /// repeats it).
    last_local: Option<String>,
    /// The browser's last answer: the same text again (a retransmitted or
    /// re-read 2xx) is not taken for a new offer.
    last_answer: Option<String>,
    transmits: Vec<(SocketAddr, Vec<u8>)>,
    next_timeout: Option<Instant>,
    state: WebRtcState,
    connect_by: Option<Instant>,
    /// When ICE reported the browser disconnected (cleared when it is back).
    lost_at: Option<Instant>,
    /// Extended sequence number of the last packet we sent (str0m needs
    /// the SRTP rollover counter, our RTP writer gives 16 bits).
    tx_seq: Option<u64>,
    /// Plain RTP packets received and not yet taken.
    received: Vec<Vec<u8>>,
}

impl WebRtcLeg {
    /// A leg with the process's DTLS identity; its ICE candidate is taken
    /// from the first plain SDP we send it (our address and the leg's port).
    pub fn new(identity: &WebRtcIdentity) -> WebRtcLeg {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        WebRtcLeg {
            inner: Arc::new(Mutex::new(Endpoint {
                id: NEXT.fetch_add(1, Relaxed),
                identity: identity.clone(),
                local: None,
                srflx: None,
                rtc: None,
                mid: None,
                remote_offer: None,
                pending: None,
                last_local: None,
                last_answer: None,
                transmits: Vec::new(),
                next_timeout: None,
                state: WebRtcState::New,
                connect_by: None,
                lost_at: None,
                tx_seq: None,
                received: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Endpoint> {
        // A panic elsewhere while holding it leaves nothing half-done that
        // matters more than keeping the call up.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The browser's description arrived (`text`, parsed as `sdp`): the
    /// answer to our offer, or an offer that our next [`Self::local_sdp`]
    /// answers. Returns its plain view for the call's offer/answer logic
    /// (`fallback` is the address its signalling comes from).
    pub fn remote_sdp(
        &self,
        text: &str,
        sdp: &SessionDescription,
        fallback: IpAddr,
        now: Instant,
    ) -> Result<SessionDescription, WebRtcError> {
        if !super::is_webrtc(sdp) {
            return Err(WebRtcError::Sdp(
                "not WebRTC: the audio is not UDP/TLS/RTP/SAVPF (DTLS-SRTP)".into(),
            ));
        }
        let view =
            plain_view(sdp, fallback).ok_or_else(|| WebRtcError::Sdp("no audio section".into()))?;
        let mut e = self.lock();
        if e.pending.is_none() && e.last_answer.as_deref() == Some(text) {
            return Ok(view);
        }
        if let Some(pending) = e.pending.take() {
            let answer = SdpAnswer::from_sdp_string(text)
                .map_err(|err| WebRtcError::Sdp(err.to_string()))?;
            let rtc = e.rtc_mut()?;
            rtc.sdp_api()
                .accept_answer(pending, answer)
                .map_err(|err| WebRtcError::Stack(err.to_string()))?;
            e.connecting(now);
            e.drain(now);
            e.last_answer = Some(text.to_string());
        } else {
            // Checked now so that a bad offer is refused at once.
            SdpOffer::from_sdp_string(text).map_err(|err| WebRtcError::Sdp(err.to_string()))?;
            e.remote_offer = Some(text.to_string());
        }
        Ok(view)
    }

    /// The description to send the browser for our plain SDP `plain`: the
    /// answer to its pending offer, or else an offer. The codecs and
    /// payload types are those of `plain`.
    pub fn local_sdp(
        &self,
        plain: &SessionDescription,
        now: Instant,
    ) -> Result<String, WebRtcError> {
        let mut e = self.lock();
        let audio = crate::negotiate::audio_section(plain)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| WebRtcError::Sdp("our SDP has no audio".into()))?;
        if e.rtc.is_none() {
            let ip = audio
                .connection
                .or(plain.connection)
                .map(|c| c.addr)
                .ok_or_else(|| WebRtcError::Sdp("our SDP has no address".into()))?;
            e.local = Some(SocketAddr::new(ip, audio.port));
            e.build(&audio, now)?;
        }
        let text = if let Some(offer) = e.remote_offer.take() {
            let offer = SdpOffer::from_sdp_string(&offer)
                .map_err(|err| WebRtcError::Sdp(err.to_string()))?;
            let rtc = e.rtc_mut()?;
            let answer = rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|err| WebRtcError::Stack(err.to_string()))?;
            e.connecting(now);
            answer.to_sdp_string()
        } else {
            let dir = direction(audio.direction());
            let mid = e.mid;
            let rtc = e.rtc_mut()?;
            let mut api = rtc.sdp_api();
            let mid = match mid {
                None => api.add_media(MediaKind::Audio, dir, None, None, None),
                Some(mid) => {
                    api.set_direction(mid, dir);
                    mid
                }
            };
            match api.apply() {
                Some((offer, pending)) => {
                    e.mid = Some(mid);
                    e.pending = Some(pending);
                    offer.to_sdp_string()
                }
                None => e
                    .last_local
                    .clone()
                    .ok_or_else(|| WebRtcError::Stack("nothing to offer".into()))?,
            }
        };
        e.drain(now);
        let text = match (e.srflx, e.local) {
            (Some(_), Some(base)) => with_raddr(&text, base),
            _ => text,
        };
        e.last_local = Some(text.clone());
        Ok(text)
    }

    /// A datagram from `src` on the leg's port: STUN and DTLS are answered
    /// (see [`Self::take_transmits`]); decrypted RTP is queued for
    /// [`Self::take_received`]. Anything else is dropped by the stack.
    pub fn receive(&self, now: Instant, src: SocketAddr, data: &[u8]) {
        let mut e = self.lock();
        let Some(local) = e.local else { return };
        let Some(rtc) = e.rtc.as_mut() else { return };
        let Ok(contents) = data.try_into() else {
            return; // Not STUN, DTLS or (S)RTP.
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: src,
                destination: local,
                contents,
            },
        );
        if let Err(err) = rtc.handle_input(input) {
            e.fail(format!("DTLS/ICE: {err}"));
            return;
        }
        e.drain(now);
    }

    /// Sends a plain RTP packet (header and payload as the session built
    /// it) to the browser, encrypted. Before the leg is connected it is
    /// dropped (false).
    pub fn send_rtp(&self, now: Instant, pkt: &[u8]) -> bool {
        if pkt.len() < 12 {
            return false;
        }
        let mut e = self.lock();
        if e.state != WebRtcState::Connected {
            return false;
        }
        let Some(mid) = e.mid else { return false };
        let marker = pkt[1] & 0x80 != 0;
        let pt = pkt[1] & 0x7f;
        let seq16 = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let cc = usize::from(pkt[0] & 0x0f);
        let start = 12 + 4 * cc;
        let Some(payload) = pkt.get(start..) else {
            return false;
        };
        let seq = extend_seq(e.tx_seq, seq16);
        e.tx_seq = Some(seq);
        let Some(rtc) = e.rtc.as_mut() else {
            return false;
        };
        let mut api = rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        stream.write_rtp(
            RtpWrite::new(pt.into(), SeqNo::from(seq), ts, now, payload.to_vec()).marker(marker),
        );
        e.drain(now);
        true
    }

    /// Runs the stack's timers (DTLS retransmission, RTCP reports, consent)
    /// and the connect deadline; the media session calls it every tick.
    pub fn tick(&self, now: Instant) {
        let mut e = self.lock();
        if let Some(by) = e.connect_by {
            if e.state == WebRtcState::Connecting && now >= by {
                e.fail("ICE/DTLS did not connect within 20 s".into());
                return;
            }
        }
        if e.lost_at.is_some_and(|at| now >= at + DISCONNECTED_GRACE) {
            e.fail("ICE disconnected for 10 s (the browser went away)".into());
            return;
        }
        if e.next_timeout.is_some_and(|t| now < t) {
            return;
        }
        let Some(rtc) = e.rtc.as_mut() else { return };
        if let Err(err) = rtc.handle_input(Input::Timeout(now)) {
            e.fail(format!("WebRTC: {err}"));
            return;
        }
        e.drain(now);
    }

    /// Hands every queued datagram to `send` (destination, bytes).
    pub fn take_transmits(&self, mut send: impl FnMut(SocketAddr, &[u8])) {
        let queued = std::mem::take(&mut self.lock().transmits);
        for (to, bytes) in &queued {
            send(*to, bytes);
        }
    }

    /// Takes the plain RTP packets received since the last call.
    pub fn take_received(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.lock().received)
    }

    /// Where the leg stands.
    pub fn state(&self) -> WebRtcState {
        self.lock().state.clone()
    }

    /// Our candidate address (once our first description is made).
    pub fn local(&self) -> Option<SocketAddr> {
        self.lock().local
    }

    /// This leg's identity (distinct for every leg made in the process).
    pub fn id(&self) -> u64 {
        self.lock().id
    }

    /// Marks the leg failed for `why` (something outside the stack, e.g.
    /// no description could be made for it): the media session reports it
    /// at its next tick and the call ends with the failure, instead of
    /// waiting out the connect deadline.
    pub fn fail(&self, why: &str) {
        self.lock().fail(why.to_string());
    }

    /// Closes the leg (DTLS close alert to the browser).
    pub fn close(&self) {
        let mut e = self.lock();
        if let Some(rtc) = e.rtc.as_mut() {
            rtc.disconnect();
        }
        e.drain(Instant::now());
    }
}

impl Endpoint {
    fn rtc_mut(&mut self) -> Result<&mut Rtc, WebRtcError> {
        self.rtc
            .as_mut()
            .ok_or_else(|| WebRtcError::Stack("no SDP exchanged yet".into()))
    }

    fn connecting(&mut self, now: Instant) {
        if self.state == WebRtcState::New {
            self.state = WebRtcState::Connecting;
            self.connect_by = Some(now + CONNECT_TIMEOUT);
        }
    }

    fn fail(&mut self, why: String) {
        if !matches!(self.state, WebRtcState::Failed(_)) {
            tracing::info!(local = ?self.local, "WebRTC leg failed: {why}");
            self.state = WebRtcState::Failed(why);
        }
    }

    /// Makes the `Rtc` with exactly the codecs (and payload types) of our
    /// audio section `audio`.
    fn build(
        &mut self,
        audio: &crate::sdp::MediaDescription,
        now: Instant,
    ) -> Result<(), WebRtcError> {
        let mut cfg = Rtc::builder()
            .set_ice_lite(self.identity.ice_lite())
            .set_rtp_mode(true)
            .set_dtls_cert(self.identity.cert());
        let codecs = cfg.codec_config();
        codecs.clear();
        let mut any = false;
        for (pt, name, clock) in audio.rtpmaps() {
            let spec = match name.to_ascii_lowercase().as_str() {
                "opus" => Some((
                    SCodec::Opus,
                    Frequency::FORTY_EIGHT_KHZ,
                    Some(2),
                    opus_fmtp(),
                )),
                "pcmu" => Some((
                    SCodec::PCMU,
                    Frequency::EIGHT_KHZ,
                    None,
                    FormatParams::default(),
                )),
                "pcma" => Some((
                    SCodec::PCMA,
                    Frequency::EIGHT_KHZ,
                    None,
                    FormatParams::default(),
                )),
                "g722" => Some((
                    SCodec::G722,
                    Frequency::SIXTEEN_KHZ,
                    None,
                    FormatParams::default(),
                )),
                "telephone-event" => {
                    let f = match clock {
                        48_000 => Frequency::FORTY_EIGHT_KHZ,
                        16_000 => Frequency::SIXTEEN_KHZ,
                        _ => Frequency::EIGHT_KHZ,
                    };
                    Some((SCodec::Tele, f, None, FormatParams::default()))
                }
                _ => None,
            };
            if let Some((codec, clock, channels, fmtp)) = spec {
                any |= codec != SCodec::Tele;
                codecs.add_config(pt.into(), None, codec, clock, channels, fmtp);
            }
        }
        if !any {
            return Err(WebRtcError::NoCodec(crate::negotiate::codec_names(audio)));
        }
        let mut rtc = cfg.build(now);
        let local = self
            .local
            .ok_or_else(|| WebRtcError::Stack("no local address".into()))?;
        let cand = Candidate::host(local, "udp")
            .map_err(|err| WebRtcError::Stack(format!("candidate {local}: {err}")))?;
        rtc.add_local_candidate(cand);
        // Behind a NAT: the port's public address, learnt from the STUN
        // server on this very port's socket. Its base is the host
        // candidate (what the server sends from). Not when the NAT maps
        // the port to itself: that would be the host candidate again.
        if let Some(mapped) = self
            .identity
            .reflexive(local.port())
            .filter(|m| *m != local)
        {
            match Candidate::server_reflexive(mapped, local, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                    self.srflx = Some(mapped);
                }
                Err(err) => tracing::warn!(%mapped, %local, "no srflx candidate: {err}"),
            }
        }
        self.rtc = Some(rtc);
        self.drain(now);
        Ok(())
    }

    /// Empties str0m's output after a change (its contract): datagrams are
    /// queued, RTP packets kept in plain form, state changes noted.
    fn drain(&mut self, now: Instant) {
        loop {
            let Some(rtc) = self.rtc.as_mut() else { return };
            let out = match rtc.poll_output() {
                Ok(out) => out,
                Err(err) => {
                    self.fail(format!("WebRTC: {err}"));
                    return;
                }
            };
            match out {
                Output::Timeout(t) => {
                    self.next_timeout = Some(t);
                    return;
                }
                Output::Transmit(t) => {
                    if self.transmits.len() >= MAX_QUEUED {
                        self.transmits.remove(0);
                    }
                    self.transmits.push((t.destination, t.contents.to_vec()));
                }
                Output::Event(ev) => self.on_event(ev, now),
            }
        }
    }

    fn on_event(&mut self, ev: Event, now: Instant) {
        match ev {
            Event::Connected => {
                if self.state != WebRtcState::Connected {
                    tracing::debug!(local = ?self.local, "WebRTC leg connected");
                }
                self.state = WebRtcState::Connected;
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                // Perhaps moving networks (an ICE restart follows): failed
                // only if it lasts (see `tick`).
                self.lost_at.get_or_insert(now);
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                self.lost_at = None;
            }
            Event::MediaAdded(m) => {
                self.mid.get_or_insert(m.mid);
            }
            Event::RtpPacket(p) => {
                if self.received.len() >= MAX_QUEUED {
                    return;
                }
                let h = &p.header;
                let mut pkt = Vec::with_capacity(12 + p.payload.len());
                pkt.push(0x80);
                pkt.push(u8::from(h.marker) << 7 | (*h.payload_type & 0x7f));
                pkt.extend_from_slice(&h.sequence_number.to_be_bytes());
                pkt.extend_from_slice(&h.timestamp.to_be_bytes());
                pkt.extend_from_slice(&(*h.ssrc).to_be_bytes());
                pkt.extend_from_slice(&p.payload);
                self.received.push(pkt);
            }
            _ => {}
        }
    }
}

/// `sdp` with the related address of our srflx candidate filled in with
/// its base `base`: str0m writes `raddr 0.0.0.0 rport 0` (as browsers
/// hide their private addresses), but our host candidate in the same SDP
/// already names the base, and RFC 8839 §5.1 has raddr for diagnostics.
fn with_raddr(sdp: &str, base: SocketAddr) -> String {
    const HIDDEN: &str = " typ srflx raddr 0.0.0.0 rport 0";
    let shown = format!(" typ srflx raddr {} rport {}", base.ip(), base.port());
    sdp.split_inclusive('\n')
        .map(|line| match line.starts_with("a=candidate:") {
            true => line.replacen(HIDDEN, &shown, 1),
            false => line.to_string(),
        })
        .collect()
}

fn opus_fmtp() -> FormatParams {
    FormatParams {
        min_p_time: Some(10),
        use_inband_fec: Some(true),
        ..Default::default()
    }
}

fn direction(d: crate::sdp::Direction) -> SDirection {
    match d {
        crate::sdp::Direction::SendRecv => SDirection::SendRecv,
        crate::sdp::Direction::SendOnly => SDirection::SendOnly,
        crate::sdp::Direction::RecvOnly => SDirection::RecvOnly,
        crate::sdp::Direction::Inactive => SDirection::Inactive,
    }
}

/// Extends a 16-bit RTP sequence number to the 64-bit one str0m keeps the
/// SRTP rollover counter with, from the last one sent.
fn extend_seq(last: Option<u64>, seq: u16) -> u64 {
    let Some(last) = last else {
        return u64::from(seq);
    };
    let roc = last >> 16;
    let cand = (roc << 16) | u64::from(seq);
    let low = last as u16;
    // Forward wrap: small new after large old.
    if seq < low && low.wrapping_sub(seq) > 0x8000 {
        cand + 0x1_0000
    } else if seq > low && seq.wrapping_sub(low) > 0x8000 && roc > 0 {
        cand - 0x1_0000
    } else {
        cand
    }
}

#[cfg(test)]
pub(super) fn extend_seq_for_test(last: Option<u64>, seq: u16) -> u64 {
    extend_seq(last, seq)
}
