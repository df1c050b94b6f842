//! A WebRTC leg's datagrams: through its endpoint (ICE, DTLS, SRTP) in and
//! out, its timers on the tick, and its failure reported to the call.

use super::*;

impl Task {
    /// A datagram on a WebRTC leg's port: handed to its endpoint, whose
    /// replies are sent and whose decrypted RTP joins the normal path (no
    /// latching: ICE already proved where the browser is).
    pub(super) fn on_webrtc_datagram(&mut self, i: usize, n: usize, src: SocketAddr, now: Instant) {
        let Some(leg) = &self.legs[i] else { return };
        let Some(webrtc) = leg.webrtc.clone() else {
            return;
        };
        webrtc.receive(now, src, &self.buf[..n]);
        Self::flush_webrtc(&leg.pair.rtp, &webrtc, &self.relay_stats);
        for pkt in webrtc.take_received() {
            let len = pkt.len();
            if len >= BUF_SIZE || !valid_rtp(&pkt) {
                self.relay_stats.refused(Refusal::Invalid);
                continue;
            }
            self.buf[..len].copy_from_slice(&pkt);
            let Some(v) = view(&self.buf[..len]) else {
                continue;
            };
            self.accepted_rtp(i, len, v, now);
        }
        self.check_webrtc(i);
    }

    /// Sends what a WebRTC endpoint queued (STUN replies, DTLS flights,
    /// SRTP, RTCP).
    pub(super) fn flush_webrtc(sock: &UdpSocket, webrtc: &WebRtcLeg, relay_stats: &RelayStats) {
        webrtc.take_transmits(|to, bytes| {
            if !matches!(sock.try_send_to(bytes, to), Ok(n) if n == bytes.len()) {
                relay_stats.dropped.fetch_add(1, Relaxed);
            }
        });
    }

    /// Runs every WebRTC leg's timers (on the tick).
    pub(super) fn tick_webrtc(&mut self, now: Instant) {
        for i in 0..2 {
            let Some(leg) = &self.legs[i] else { continue };
            let Some(webrtc) = &leg.webrtc else { continue };
            webrtc.tick(now);
            Self::flush_webrtc(&leg.pair.rtp, webrtc, &self.relay_stats);
            self.check_webrtc(i);
        }
    }

    /// Reports a failed WebRTC leg to the call, once.
    fn check_webrtc(&mut self, i: usize) {
        let Some(leg) = &mut self.legs[i] else { return };
        let Some(webrtc) = &leg.webrtc else { return };
        if leg.webrtc_failed {
            return;
        }
        if let WebRtcState::Failed(why) = webrtc.state() {
            leg.webrtc_failed = true;
            let side = if i == 0 { Side::A } else { Side::B };
            (self.events)(MediaEvent::TransportFailed { side, why });
        }
    }
}
