//! Packets arriving from the phones: validated, latched, DTMF picked out,
//! buffered for the tick, and forwarded at once where no decoding is needed.

use super::*;

impl Task {
    pub(super) fn on_rtp(&mut self, i: usize, n: usize, src: SocketAddr, now: Instant) {
        if self.legs[i].as_ref().is_some_and(|l| l.webrtc.is_some()) {
            self.on_webrtc_datagram(i, n, src, now);
            return;
        }
        let now_ms = self.activity.now_ms(now);
        let Some(n) = self.decrypt(i, false, n, src) else {
            return;
        };
        let pkt = &self.buf[..n];
        let Some(leg) = &mut self.legs[i] else { return };
        let parsed = (n < BUF_SIZE && valid_rtp(pkt))
            .then(|| view(pkt))
            .flatten();
        let verdict = match parsed {
            Some(v) => leg
                .latch
                .accept_rtp(src, pkt, now_ms)
                .map(|changed| (v, changed)),
            None => Err(Refusal::Invalid),
        };
        let (v, changed) = match verdict {
            Ok(accepted) => accepted,
            Err(why) => {
                self.relay_stats.refused(why);
                return;
            }
        };
        if changed {
            tracing::debug!(port = leg.pair.port, %src, "RTP source latched");
        }
        self.accepted_rtp(i, n, v, now);
    }

    /// An RTP packet of leg `i` in `self.buf[..n]` that is the leg's own
    /// (latched, or delivered by its WebRTC transport), parsed as `v`.
    pub(super) fn accepted_rtp(&mut self, i: usize, n: usize, v: RtpView, now: Instant) {
        let now_ms = self.activity.now_ms(now);
        let Some(leg) = &mut self.legs[i] else { return };
        let pkt = &self.buf[..n];
        self.activity.touch(now_ms);
        self.stats.rtp_in.fetch_add(1, Relaxed);
        let (Some(format), Some(inbound)) = (leg.format, &mut leg.rx) else {
            // Not negotiated yet: nothing to decode with.
            self.relay_stats.dropped.fetch_add(1, Relaxed);
            return;
        };
        let payload = &pkt[v.payload.clone()];
        if Some(v.pt) == format.te_pt {
            if let Some(event) = inbound.te_rx.on_packet(v.ts, v.marker, payload, now) {
                self.digit(i, event);
            }
            self.forward_event(i, n, v.ssrc, v.ts);
            return;
        }
        if v.pt != format.pt {
            // Comfort noise (13) is legal and simply not played.
            if v.pt != 13 {
                self.stats.unknown_payload_type.fetch_add(1, Relaxed);
            }
            return;
        }
        inbound.jitter.push(v.seq, v.ts, v.ssrc, payload, now);
        self.forward_audio(i, n, format);
    }

    /// On an SRTP leg, authenticates and decrypts the packet in
    /// `self.buf[..n]` in place; its new length, or None when refused
    /// (counted). A plain leg's packet is left as it is.
    pub(super) fn decrypt(
        &mut self,
        i: usize,
        rtcp: bool,
        n: usize,
        src: SocketAddr,
    ) -> Option<usize> {
        let leg = self.legs[i].as_mut()?;
        if !leg.latch.is_srtp() {
            return Some(n);
        }
        let wire = &self.buf[..n];
        let header_ok = n < BUF_SIZE
            && if rtcp {
                valid_rtcp(wire)
            } else {
                valid_rtp(wire)
            };
        let plain = if header_ok {
            leg.latch.unprotect(rtcp, src, wire)
        } else {
            Err(Refusal::Invalid)
        };
        match plain {
            Ok(Some(plain)) if plain.len() <= self.buf.len() => {
                self.buf[..plain.len()].copy_from_slice(&plain);
                Some(plain.len())
            }
            Ok(_) => Some(n),
            Err(why) => {
                self.relay_stats.refused(why);
                None
            }
        }
    }

    /// Forwards the audio packet in `self.buf[..n]` from leg `i` to every leg
    /// hearing it whose format allows forwarding without decoding.
    pub(super) fn forward_audio(&mut self, i: usize, n: usize, from: LegFormat) {
        for j in 0..2 {
            let Some(to) = &self.legs[j] else { continue };
            let hears_i = match to.hears {
                Hears::Other => j != i,
                Hears::Itself => j == i,
                _ => false,
            };
            let Some(to_format) = to.format else { continue };
            if !hears_i || !forwardable(from, to_format) || to.sending_digits() {
                continue;
            }
            self.out.clear();
            self.out.extend_from_slice(&self.buf[..n]);
            let Some(v) = view(&self.out) else { continue };
            if from.codec != to_format.codec {
                codec::transcode_g711(from.codec, to_format.codec, &mut self.out[v.payload]);
            }
            self.out[1] = (self.out[1] & 0x80) | (to_format.pt & 0x7f);
            self.send_out(j);
        }
    }

    /// Forwards a telephone-event packet from leg `i` to the other leg if it
    /// is bridged and negotiated RFC 4733 too (otherwise the digit event is
    /// all the application gets; see [`MediaSession::send_digits`]).
    ///
    /// Whether an event crosses is decided at its first packet and holds for
    /// all its packets (same SSRC and timestamp): the digits an application
    /// collected end with a key whose end packets, sent three times, may
    /// arrive after the application bridged the call, and the other phone
    /// must not get the end of an event it never saw begin. Late packets of
    /// an older event are not forwarded either.
    pub(super) fn forward_event(&mut self, i: usize, n: usize, ssrc: u32, ts: u32) {
        let j = 1 - i;
        let clock = self.legs[i]
            .as_ref()
            .and_then(|l| l.format)
            .map(|f| f.codec.rtp_clock());
        let te = self.legs[j].as_ref().and_then(|to| match to.hears {
            Hears::Other if !to.sending_digits() => to
                .format
                // Durations count in the clock: only between equal clocks.
                .filter(|f| Some(f.codec.rtp_clock()) == clock)
                .and_then(|f| f.te_pt),
            _ => None,
        });
        let Some(from) = &mut self.legs[i] else {
            return;
        };
        let crosses = match from.event_in {
            Some((s, t, decided)) if s == ssrc && t == ts => decided,
            Some((s, t, _)) if s == ssrc && is_older(ts, t) => false,
            _ => {
                from.event_in = Some((ssrc, ts, te.is_some()));
                te.is_some()
            }
        };
        let Some(te) = te.filter(|_| crosses) else {
            return;
        };
        self.out.clear();
        self.out.extend_from_slice(&self.buf[..n]);
        self.out[1] = (self.out[1] & 0x80) | (te & 0x7f);
        self.send_out(j);
    }

    /// Rewrites `self.out` onto leg `j`'s outgoing stream and sends it.
    pub(super) fn send_out(&mut self, j: usize) {
        let Some(leg) = &mut self.legs[j] else { return };
        let Some(out) = &mut leg.tx else { return };
        if !out.sender.rewrite(&mut self.out) {
            return;
        }
        Self::transmit(leg, &self.out, &self.stats, &self.relay_stats);
    }

    /// Sends a plain RTP packet to a leg (encrypted first if the leg uses
    /// SRTP; through its transport if it is a WebRTC leg).
    pub(super) fn transmit(
        leg: &mut Leg,
        pkt: &[u8],
        stats: &SessionStats,
        relay_stats: &RelayStats,
    ) {
        if let Some(webrtc) = &leg.webrtc {
            if webrtc.send_rtp(Instant::now(), pkt) {
                stats.rtp_out.fetch_add(1, Relaxed);
                Self::flush_webrtc(&leg.pair.rtp, webrtc, relay_stats);
            } else {
                relay_stats.dropped.fetch_add(1, Relaxed);
            }
            return;
        }
        let sock = &leg.pair.rtp;
        let latch = &mut leg.latch;
        let Some(target) = latch.rtp_target() else {
            return;
        };
        let sealed = match latch.protect(false, pkt) {
            Ok(sealed) => sealed,
            Err(()) => {
                relay_stats.dropped.fetch_add(1, Relaxed);
                return;
            }
        };
        match sock.try_send_to(sealed.as_deref().unwrap_or(pkt), target) {
            Ok(n) if n == pkt.len() => {
                stats.rtp_out.fetch_add(1, Relaxed);
            }
            _ => {
                relay_stats.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    pub(super) fn digit(&mut self, i: usize, event: DigitEvent) {
        self.stats.digits.fetch_add(1, Relaxed);
        self.convert_digit(i, &event);
        let side = if i == 0 { Side::A } else { Side::B };
        (self.events)(MediaEvent::Digit { side, event });
    }

    /// Carries a digit of leg `i` over to the bridged leg when the two legs
    /// signal DTMF differently: RFC 4733 to a leg without telephone-event
    /// becomes in-band tones, in-band tones to a leg with it become RFC 4733
    /// events, and RFC 4733 between legs of different clocks (G.711 and
    /// Opus) is sent afresh in the other leg's clock. Same-mode digits
    /// already crossed (event packets forwarded, or tones inside the
    /// forwarded audio).
    pub(super) fn convert_digit(&mut self, i: usize, event: &DigitEvent) {
        let clock = self.legs[i]
            .as_ref()
            .and_then(|l| l.format)
            .map(|f| f.codec.rtp_clock());
        let Some(to) = &mut self.legs[1 - i] else {
            return;
        };
        if !matches!(to.hears, Hears::Other) {
            return;
        }
        let Some(format) = to.format else { return };
        let crossed = match event.source {
            crate::dtmf::DtmfSource::InBand => format.te_pt.is_none(),
            _ => format.te_pt.is_some() && Some(format.codec.rtp_clock()) == clock,
        };
        if !crossed {
            to.digits_queue.push(event.digit);
            to.digit_ms = event.duration_ms.clamp(40, 2000);
        }
    }
}

/// Whether RTP timestamp `ts` is before `newest` (RFC 1982 serial
/// arithmetic, across the wrap). A jump back of more than 30 s even at
/// 48 kHz is a sender restart, not a late packet.
fn is_older(ts: u32, newest: u32) -> bool {
    let back = newest.wrapping_sub(ts);
    back != 0 && back < 30 * 48_000
}
