//! DTMF sent to a leg: RFC 4733 events when it negotiated telephone-event,
//! in-band tones otherwise; either replaces the leg's audio while it lasts.

use super::*;

impl Task {
    /// Advances the DTMF being sent to leg `j`; true if it used this tick.
    pub(super) fn send_digit_tick(&mut self, j: usize) -> bool {
        let Some(leg) = &mut self.legs[j] else {
            return false;
        };
        let Some(format) = leg.format else {
            return false;
        };
        let rate = leg.rate();
        // In-band tones in progress.
        if let Some(tone) = &mut leg.inband_tx {
            self.pcm.clear();
            self.pcm.resize(frame_len(rate), 0);
            if tone.fill(&mut self.pcm) == Fill::Done {
                leg.inband_tx = None;
            }
            self.encode_and_send(j);
            return true;
        }
        let ts_units = format.codec.rtp_clock() / 1000 * FRAME_MS;
        // An RFC 4733 event in progress.
        if let (Some(te), Some(tx), Some(out)) = (format.te_pt, &mut leg.te_tx, &mut leg.tx) {
            if let Some(pkt) = tx.next() {
                if pkt.marker {
                    leg.event_ts = out.sender.next_timestamp();
                }
                let ts = leg.event_ts.wrapping_add(pkt.event_ts_offset);
                out.sender
                    .build_event(te, &pkt.payload, ts, pkt.marker, &mut self.out);
                // The event replaces this tick's audio; the audio clock runs on.
                out.sender.skip(ts_units);
                Self::transmit(leg, &self.out, &self.stats, &self.relay_stats);
                return true;
            }
        }
        if leg.digits_queue.is_empty() {
            return false;
        }
        let digit = leg.digits_queue.remove(0);
        if format.te_pt.is_some() {
            let tx = leg
                .te_tx
                .get_or_insert_with(|| Rfc4733Sender::new(format.codec.rtp_clock()));
            if tx.start(digit, leg.digit_ms, EVENT_VOLUME).is_err() {
                return false;
            }
        } else {
            let s = digit.to_string();
            leg.inband_tx = DtmfTone::new(&s, rate, leg.digit_ms, 60, -10.0).ok();
        }
        if let Some(out) = &mut leg.tx {
            out.sender.mark_talkspurt();
        }
        self.send_digit_tick(j)
    }
}
