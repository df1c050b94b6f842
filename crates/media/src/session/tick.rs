//! The 20 ms tick: decode what each leg said, record it, and send each leg
//! what it hears (the other leg transcoded, a source, a conference mix).

use super::*;

impl Task {
    pub(super) fn on_tick(&mut self, now: Instant) {
        self.tick_webrtc(now);
        for i in 0..2 {
            self.pull_input(i, now);
        }
        self.record();
        for j in 0..2 {
            self.produce_output(j);
        }
    }

    /// Decodes this tick's frame of leg `i` into `leg.input`, runs its
    /// detectors, and reports a digit whose end packets were all lost.
    pub(super) fn pull_input(&mut self, i: usize, now: Instant) {
        let Some(leg) = &mut self.legs[i] else { return };
        let want = frame_len(leg.rate());
        let Some(inbound) = &mut leg.rx else { return };
        let mut got = false;
        for _ in 0..MAX_POPS_PER_TICK {
            if leg.fifo.len() >= want {
                break;
            }
            match inbound.jitter.pop(now) {
                Playout::Frame(payload) => {
                    let at = leg.fifo.len();
                    inbound.decoder.decode(&payload, &mut leg.fifo);
                    inbound.concealer.remember(&leg.fifo[at..]);
                    self.stats.frames_decoded.fetch_add(1, Relaxed);
                    got = true;
                }
                Playout::Lost => {
                    let at = leg.fifo.len();
                    // The codec's own concealment (Opus) if it has one.
                    if !inbound.decoder.conceal(want, &mut leg.fifo) {
                        leg.fifo.resize(at + want, 0);
                        inbound.concealer.conceal(&mut leg.fifo[at..]);
                    }
                    self.stats.frames_concealed.fetch_add(1, Relaxed);
                    got = true;
                }
                Playout::Empty => break,
            }
        }
        leg.input.clear();
        let take = want.min(leg.fifo.len());
        leg.input.extend(leg.fifo.drain(..take));
        leg.input.resize(want, 0);
        leg.has_input = got;
        let late_digit = inbound.te_rx.poll(now);
        let inband_digit = match (&mut leg.inband, got) {
            (Some(det), true) => det.process(&leg.input),
            _ => None,
        };
        for event in [late_digit, inband_digit].into_iter().flatten() {
            self.digit(i, event);
        }
    }

    /// Converts leg `i`'s input frame to `rate` into `self.pcm`.
    pub(super) fn input_at(&mut self, i: usize, rate: u32) {
        self.pcm.clear();
        let Some(leg) = &self.legs[i] else {
            self.pcm.resize(frame_len(rate), 0);
            return;
        };
        let from = leg.rate();
        if from == rate {
            // A leg that never decoded anything (not negotiated, silent)
            // has no input frame yet: silence of the right length.
            self.pcm.extend_from_slice(&leg.input);
            self.pcm.resize(frame_len(rate), 0);
            return;
        }
        let r = match self.resamplers.entry((i, rate)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => match Resampler::new(from, rate) {
                Ok(r) => e.insert(r),
                Err(err) => {
                    tracing::warn!(error = %err, "no resampler");
                    self.pcm.resize(frame_len(rate), 0);
                    return;
                }
            },
        };
        r.process(&leg.input, &mut self.pcm);
        self.pcm.resize(frame_len(rate), 0);
    }

    pub(super) fn record(&mut self) {
        let Some((_, rate)) = &self.recorder else {
            return;
        };
        let rate = *rate;
        self.input_at(0, rate);
        let caller = std::mem::take(&mut self.pcm);
        self.input_at(1, rate);
        let result = match &mut self.recorder {
            Some((rec, _)) => rec.write(&caller, &self.pcm),
            None => Ok(()),
        };
        self.pcm = caller;
        if let Err(e) = result {
            tracing::warn!(error = %e, "recording stopped");
            (self.events)(MediaEvent::RecordingFailed {
                error: e.to_string(),
            });
            if let Some((rec, _)) = self.recorder.take() {
                let _ = rec.finish();
            }
        }
    }

    /// Sends leg `j` what it hears this tick, unless its packets are
    /// forwarded as they arrive.
    pub(super) fn produce_output(&mut self, j: usize) {
        if self.send_digit_tick(j) {
            return;
        }
        let Some(leg) = &self.legs[j] else { return };
        let Some(format) = leg.format else { return };
        let rate = leg.rate();
        if let Hears::Conference { room, member } = &leg.hears {
            let (room, member) = (room.clone(), *member);
            return self.conference_tick(j, &room, member);
        }
        let source_leg = match leg.hears {
            Hears::Other => Some(1 - j),
            Hears::Itself => Some(j),
            _ => None,
        };
        if let Some(i) = source_leg {
            let from = self.legs[i].as_ref().and_then(|l| l.format);
            match from {
                Some(from) if forwardable(from, format) => return,
                // Nothing heard from that leg this tick: send nothing either,
                // like a relay would (the phone keeps its own silence).
                _ if !self.legs[i].as_ref().is_some_and(|l| l.has_input) => return,
                _ => self.input_at(i, rate),
            }
        } else {
            self.pcm.clear();
            self.pcm.resize(frame_len(rate), 0);
        }
        let Some(leg) = &mut self.legs[j] else { return };
        if let Hears::Source { source, token } = &mut leg.hears {
            if source.fill(&mut self.pcm) == Fill::Done {
                let token = *token;
                leg.hears = Hears::Silence;
                let side = if j == 0 { Side::A } else { Side::B };
                (self.events)(MediaEvent::SourceDone { side, token });
            }
        }
        self.encode_and_send(j);
    }

    /// Leg `j`'s tick in a conference: its input into the room, the room's
    /// mix for it out to the phone (resampled when rates differ).
    pub(super) fn conference_tick(&mut self, j: usize, room: &Conference, member: MemberId) {
        let leg_rate = self.legs[j]
            .as_ref()
            .map_or(crate::audio::RATE_8K, Leg::rate);
        self.input_at(j, room.rate());
        let mut heard = Vec::with_capacity(frame_len(room.rate()));
        room.exchange(member, &self.pcm, &mut heard);
        self.pcm.clear();
        if room.rate() == leg_rate {
            self.pcm.extend_from_slice(&heard);
        } else {
            // Keyed apart from the leg's own input resamplers (0 and 1).
            let key = (2 + j, leg_rate);
            if let std::collections::hash_map::Entry::Vacant(e) = self.resamplers.entry(key) {
                match Resampler::new(room.rate(), leg_rate) {
                    Ok(r) => {
                        e.insert(r);
                    }
                    Err(err) => tracing::warn!(error = %err, "no resampler for the conference"),
                }
            }
            if let Some(r) = self.resamplers.get_mut(&key) {
                r.process(&heard, &mut self.pcm);
            }
        }
        self.pcm.resize(frame_len(leg_rate), 0);
        self.encode_and_send(j);
    }

    /// Encodes `self.pcm` for leg `j` and sends it as one frame.
    pub(super) fn encode_and_send(&mut self, j: usize) {
        let Some(leg) = &mut self.legs[j] else { return };
        let (Some(out), Some(format)) = (&mut leg.tx, leg.format) else {
            return;
        };
        out.payload.clear();
        out.encoder.encode(&self.pcm, &mut out.payload);
        let ts_units = format.codec.rtp_clock() / 1000 * FRAME_MS;
        out.sender.build(&out.payload, ts_units, &mut self.out);
        Self::transmit(leg, &self.out, &self.stats, &self.relay_stats);
    }
}
