//! A leg's negotiated state: (re)built when its format is set.

use super::*;

impl Leg {
    pub(super) fn new(pair: RtpPortPair, latch: SideState) -> Leg {
        Leg {
            pair,
            latch,
            webrtc: None,
            webrtc_failed: false,
            format: None,
            pcm_rate: crate::audio::RATE_8K,
            rx: None,
            tx: None,
            hears: Hears::Silence,
            inband: None,
            fifo: Vec::new(),
            input: Vec::new(),
            has_input: false,
            digits_queue: Vec::new(),
            digit_ms: 100,
            te_tx: None,
            inband_tx: None,
            event_ts: 0,
            event_in: None,
        }
    }

    pub(super) fn rate(&self) -> u32 {
        match self.format {
            Some(_) => self.pcm_rate,
            None => crate::audio::RATE_8K,
        }
    }

    /// Sets the leg's format, its PCM at `rate` (see
    /// [`LegFormat::pcm_rate_beside`]); the codec state is made anew when
    /// the codec or the rate changed.
    pub(super) fn set_format(&mut self, f: LegFormat, rate: u32) {
        let changed_codec = self.format.map(|o| o.codec) != Some(f.codec)
            || (self.format.is_some() && rate != self.pcm_rate);
        self.format = Some(f);
        self.pcm_rate = rate;
        let frame_ts = f.codec.rtp_clock() / 1000 * f.ptime_ms.clamp(10, 120);
        if changed_codec || self.rx.is_none() {
            self.rx = Some(Inbound {
                jitter: JitterBuffer::new(frame_ts),
                decoder: f.codec.decoder_at(rate),
                concealer: Concealer::new(),
                te_rx: Rfc4733Receiver::new(f.codec.rtp_clock()),
            });
            self.fifo.clear();
            if let Some(d) = &mut self.inband {
                *d = InbandDetector::new(rate);
            }
        }
        match &mut self.tx {
            Some(out) if !changed_codec => out.sender.set_payload_type(f.pt),
            Some(out) => {
                out.encoder = f.codec.encoder_at(rate);
                out.sender.set_payload_type(f.pt);
                out.sender.set_clock_rate(f.codec.rtp_clock());
                out.sender.mark_talkspurt();
            }
            None => {
                let mut sender = RtpSender::new(fastrand::u32(..), f.pt);
                sender.set_clock_rate(f.codec.rtp_clock());
                self.tx = Some(Outbound {
                    sender,
                    encoder: f.codec.encoder_at(rate),
                    payload: Vec::with_capacity(BUF_SIZE),
                })
            }
        }
    }

    /// True while DTMF we send occupies the leg's outgoing stream.
    pub(super) fn sending_digits(&self) -> bool {
        self.te_tx.as_ref().is_some_and(Rfc4733Sender::is_busy)
            || self.inband_tx.is_some()
            || !self.digits_queue.is_empty()
    }
}

/// May packets of `from` be forwarded to `to` as they arrive (header
/// rewritten, G.711 transcoded by table), rather than decoded on the tick?
pub(super) fn forwardable(from: LegFormat, to: LegFormat) -> bool {
    let g711 = |c| matches!(c, Codec::Pcmu | Codec::Pcma);
    from.codec == to.codec || (g711(from.codec) && g711(to.codec))
}
