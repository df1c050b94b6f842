//! Adaptive jitter buffer for one incoming RTP audio stream, and packet
//! loss concealment for the decoded audio.
//!
//! The buffer is codec-agnostic: it orders payloads by sequence number and
//! releases one per 20 ms tick ([`JitterBuffer::pop`]), saying when a frame
//! is missing ([`Playout::Lost`], to be concealed with [`Concealer`]) and
//! when there is simply nothing to play ([`Playout::Empty`]: not started,
//! a silence-suppression gap, or the stream stopped).
//!
//! Time is always passed in (`now`), never read from the clock, so the
//! behaviour is deterministic and testable.
//!
//! How it adapts:
//! - the RFC 3550 interarrival jitter estimate J sets the target depth,
//!   `ceil((3·J + 10 ms) / 20 ms)` frames, kept within 20..=200 ms (40 ms
//!   until enough packets have been seen);
//! - the depth actually held is measured every tick; once a second it is
//!   nudged one frame towards the target: one frame is dropped when the
//!   buffer has held more than target + 1 frames all along, one concealed
//!   frame is inserted when it never reached the target. A late packet
//!   also inserts a frame at once (up to the target), so a jitter burst
//!   costs one loss rather than one per packet;
//! - when the buffer runs dry the play-out clock keeps running and the next
//!   packet in sequence is still played when it comes (the delay grows); if
//!   nothing comes for 200 ms the stream is considered stopped, and the next
//!   packet starts a fresh talkspurt with the target depth;
//! - a new SSRC, or a sequence jump confirmed by a second packet, resyncs:
//!   the new packets are numbered on from the ones already buffered, so
//!   those still play and the new source follows them seamlessly instead
//!   of waiting for sequence numbers that will never come. Stragglers of
//!   the previous SSRC arriving just after the switch are dropped as late.
//!   A timestamp jump with contiguous sequence numbers re-anchors the
//!   play-out clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::audio::FRAME_MS;

/// Initial target depth.
const START_DEPTH_MS: u32 = 40;
/// Depth bounds.
const MIN_DEPTH_MS: u32 = 20;
const MAX_DEPTH_MS: u32 = 200;
/// Packets held at most (1.28 s of 20 ms frames); beyond, the oldest go.
const CAPACITY: usize = 64;
/// Sequence distances beyond which a packet is a jump, not reordering
/// (the RFC 3550 A.1 defaults).
const MAX_DROPOUT: i64 = 3000;
const MAX_MISORDER: i64 = 100;
/// Ticks between depth adjustments (one second).
const ADAPT_TICKS: u32 = 50;
/// Packets seen before the jitter estimate replaces the start depth.
const MIN_JITTER_SAMPLES: u32 = 25;
/// Offsets that keep extended sequence numbers and timestamps positive
/// whatever the first values and the direction of later jumps.
const SEQ_BASE: u64 = 1 << 32;
const TS_BASE: u64 = 1 << 40;
/// How long after an SSRC switch packets of the previous SSRC count as
/// stragglers rather than a switch back.
const STRAGGLER_WINDOW: Duration = Duration::from_millis(MAX_DEPTH_MS as u64);
/// A late packet at most this many frames behind makes the buffer deepen
/// at once; later ones are outliers left to the jitter estimate.
const LATE_GROW_FRAMES: u64 = 2;

/// What to play for one 20 ms tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The payload of the next frame.
    Frame(Vec<u8>),
    /// A frame is missing (lost, late, or the buffer briefly ran dry while
    /// packets are still expected): conceal it.
    Lost,
    /// Nothing to play: the buffer is still filling, the sender is in a
    /// silence gap, or the stream has stopped. Play silence (or comfort
    /// noise).
    Empty,
}

/// Counters of one jitter buffer, for call statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed.
    pub received: u64,
    /// Packets dropped for coming after their play-out time, including
    /// stragglers of the previous SSRC just after a switch and stray
    /// packets of an unconfirmed sequence jump.
    pub late: u64,
    /// Packets already buffered or already played, dropped.
    pub duplicate: u64,
    /// Frames that had no packet at their play-out time (sequence gaps).
    pub lost: u64,
    /// Packets dropped because the buffer was full.
    pub overflow: u64,
    /// Frames dropped on purpose to bring the depth down to the target.
    pub shrunk: u64,
    /// Restarts on a new SSRC or a sequence jump.
    pub resyncs: u64,
}

#[derive(Debug)]
struct Slot {
    ts: u64,
    payload: Vec<u8>,
}

/// Adaptive jitter buffer for one RTP stream; see the module documentation
/// for the policy.
#[derive(Debug)]
pub struct JitterBuffer {
    frame_ts: u32,
    ssrc: Option<u32>,
    /// The SSRC before the last switch, and when the switch happened.
    prev_ssrc: Option<(u32, Instant)>,
    /// When the last packet was pushed (to tell a restart from a late packet).
    last_push: Option<Instant>,
    /// Highest sequence number and timestamp of the current source,
    /// unwrapped (the references for unwrapping the next ones).
    max_raw_seq: u64,
    max_raw_ts: u64,
    /// Added to unwrapped values of the current source to number them on
    /// from earlier sources: the play-out ("extended") numbering.
    seq_off: u64,
    ts_off: u64,
    /// Highest extended sequence number and timestamp so far.
    hi_seq: Option<u64>,
    hi_ts: u64,
    packets: BTreeMap<u64, Slot>,
    playing: bool,
    /// Extended sequence number due next; `None` until the stream first plays.
    next_seq: Option<u64>,
    /// Extended timestamp the current tick plays.
    play_ts: u64,
    /// Bit i set: sequence `next_seq - 1 - i` was played (to tell a
    /// duplicate of a played packet from a late one).
    played: u64,
    /// Arrival of the first packet of the current buffering phase.
    first_arrival: Option<Instant>,
    dry_ticks: u32,
    /// A packet far outside the expected sequence range, kept until the
    /// next packet confirms (or refutes) the jump.
    probation: Option<(u16, u32, Vec<u8>)>,
    // RFC 3550 jitter estimate, in timestamp units.
    clock_origin: Option<Instant>,
    last_transit: Option<f64>,
    jitter: f64,
    jitter_samples: u32,
    target_frames: u32,
    // Depth measured over the current adaptation window.
    window_ticks: u32,
    window_min: u64,
    window_max: u64,
    grow_now: bool,
    stats: JitterStats,
}

fn frames_for_ms(ms: u32) -> u32 {
    ms.div_ceil(FRAME_MS)
}

impl JitterBuffer {
    /// A buffer for a stream whose packets each carry one 20 ms frame of
    /// `frame_ts` RTP timestamp units (160 for G.711 and G.722, 960 for Opus).
    pub fn new(frame_ts: u32) -> JitterBuffer {
        JitterBuffer {
            frame_ts: frame_ts.max(1),
            ssrc: None,
            prev_ssrc: None,
            last_push: None,
            max_raw_seq: SEQ_BASE,
            max_raw_ts: TS_BASE,
            seq_off: 0,
            ts_off: 0,
            hi_seq: None,
            hi_ts: 0,
            packets: BTreeMap::new(),
            playing: false,
            next_seq: None,
            play_ts: 0,
            played: 0,
            first_arrival: None,
            dry_ticks: 0,
            probation: None,
            clock_origin: None,
            last_transit: None,
            jitter: 0.0,
            jitter_samples: 0,
            target_frames: frames_for_ms(START_DEPTH_MS),
            window_ticks: 0,
            window_min: u64::MAX,
            window_max: 0,
            grow_now: false,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Depth the buffer currently aims for, in milliseconds.
    pub fn target_depth_ms(&self) -> u32 {
        self.target_frames * FRAME_MS
    }

    /// Audio currently buffered ahead of play-out, in milliseconds
    /// (including missing frames between buffered ones).
    pub fn buffered_ms(&self) -> u32 {
        (self.span() * u64::from(FRAME_MS)).min(u64::from(u32::MAX)) as u32
    }

    /// Current RFC 3550 interarrival jitter estimate, in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * f64::from(FRAME_MS) / f64::from(self.frame_ts)
    }

    /// Whether frames are being played out (false while filling, after the
    /// stream stopped, or after a resync).
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// Frames from the one due now to the newest buffered.
    fn span(&self) -> u64 {
        match (self.packets.last_key_value(), self.next_seq) {
            (Some((&last, _)), Some(next)) => (last + 1).saturating_sub(next),
            (Some(_), None) => self.packets.len() as u64,
            (None, _) => 0,
        }
    }

    /// Adds a received packet. Packets may come in any order; late,
    /// duplicate and overflowing ones are dropped and counted.
    pub fn push(&mut self, seq: u16, timestamp: u32, ssrc: u32, payload: &[u8], now: Instant) {
        self.stats.received += 1;
        let new_source = self.ssrc != Some(ssrc);
        if new_source {
            if let Some((prev, at)) = self.prev_ssrc {
                if prev == ssrc && now.saturating_duration_since(at) < STRAGGLER_WINDOW {
                    self.stats.late += 1;
                    return;
                }
            }
            if let Some(old) = self.ssrc {
                self.stats.resyncs += 1;
                self.prev_ssrc = Some((old, now));
            }
            self.ssrc = Some(ssrc);
            self.rebase(seq, timestamp);
        }

        let delta = i64::from(seq.wrapping_sub(self.max_raw_seq as u16) as i16);
        // A sender that went quiet and starts again with its sequence
        // numbers reset but the same SSRC (some phones after hold or a
        // re-INVITE): after a pause, a packet at or behind the newest one is
        // a new talkspurt, not a late packet, or the whole stream would be
        // dropped as late until it caught up with the old numbers.
        let paused = self
            .last_push
            .is_some_and(|at| now.saturating_duration_since(at) >= STRAGGLER_WINDOW);
        self.last_push = Some(now);
        if paused && delta <= 0 && !new_source {
            self.stats.resyncs += 1;
            self.rebase(seq, timestamp);
            self.accept(seq, timestamp, payload.to_vec(), now);
            return;
        }
        if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&delta) {
            match self.probation.take() {
                Some((pseq, pts, ppayload)) if pseq.wrapping_add(1) == seq => {
                    // Two packets in a row agree: the sender jumped.
                    self.stats.resyncs += 1;
                    self.rebase(pseq, pts);
                    self.accept(pseq, pts, ppayload, now);
                }
                stale => {
                    if stale.is_some() {
                        self.stats.late += 1;
                    }
                    self.probation = Some((seq, timestamp, payload.to_vec()));
                    return;
                }
            }
        } else if self.probation.take().is_some() {
            self.stats.late += 1;
        }
        self.accept(seq, timestamp, payload.to_vec(), now);
    }

    /// Starts numbering a new source (or a source that jumped) so that its
    /// packet `seq`/`timestamp` comes right after everything numbered so far.
    fn rebase(&mut self, seq: u16, timestamp: u32) {
        self.max_raw_seq = SEQ_BASE + u64::from(seq);
        self.max_raw_ts = TS_BASE + u64::from(timestamp);
        match self.hi_seq {
            None => {
                self.seq_off = 0;
                self.ts_off = 0;
            }
            Some(hi) => {
                let first = (hi + 1).max(self.next_seq.unwrap_or(0));
                self.seq_off = first.wrapping_sub(self.max_raw_seq);
                let first_ts = (self.hi_ts + u64::from(self.frame_ts)).max(self.play_ts);
                self.ts_off = first_ts.wrapping_sub(self.max_raw_ts);
            }
        }
        self.probation = None;
        // The new source's transit time has nothing to do with the old one's.
        self.last_transit = None;
    }

    fn accept(&mut self, seq: u16, timestamp: u32, payload: Vec<u8>, now: Instant) {
        let raw = self
            .max_raw_seq
            .wrapping_add_signed(i64::from(seq.wrapping_sub(self.max_raw_seq as u16) as i16));
        let raw_ts = self.max_raw_ts.wrapping_add_signed(i64::from(
            timestamp.wrapping_sub(self.max_raw_ts as u32) as i32,
        ));
        self.max_raw_seq = self.max_raw_seq.max(raw);
        self.max_raw_ts = self.max_raw_ts.max(raw_ts);
        let ext = raw.wrapping_add(self.seq_off);
        let ext_ts = raw_ts.wrapping_add(self.ts_off);
        if self.hi_seq.is_none_or(|hi| ext > hi) {
            self.hi_seq = Some(ext);
        }
        self.hi_ts = self.hi_ts.max(ext_ts);

        if let Some(next) = self.next_seq {
            if ext < next {
                let back = next - 1 - ext;
                if back < 64 && self.played & (1 << back) != 0 {
                    self.stats.duplicate += 1;
                } else {
                    self.stats.late += 1;
                    self.update_jitter(ext_ts, now);
                    // Slightly late: one more frame of depth would have
                    // caught it, so add that frame now.
                    if back < LATE_GROW_FRAMES && self.span() <= u64::from(self.target_frames) {
                        self.grow_now = true;
                    }
                }
                return;
            }
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicate += 1;
            return;
        }
        self.update_jitter(ext_ts, now);
        if !self.playing && self.packets.is_empty() {
            self.first_arrival = Some(now);
        }
        self.packets.insert(
            ext,
            Slot {
                ts: ext_ts,
                payload,
            },
        );

        while self.packets.len() > CAPACITY {
            if let Some((key, slot)) = self.packets.pop_first() {
                self.stats.overflow += 1;
                if let Some(next) = self.next_seq {
                    if key >= next {
                        self.skip_to(key + 1, false);
                        self.play_ts = slot.ts + u64::from(self.frame_ts);
                    }
                }
            }
        }
    }

    /// RFC 3550 §6.4.1 interarrival jitter, in timestamp units.
    fn update_jitter(&mut self, ext_ts: u64, now: Instant) {
        let origin = *self.clock_origin.get_or_insert(now);
        let units_per_sec = f64::from(self.frame_ts) * 1000.0 / f64::from(FRAME_MS);
        let arrival = now.saturating_duration_since(origin).as_secs_f64() * units_per_sec;
        let transit = arrival - ext_ts as f64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            // A jump of more than a second is a source change, not jitter.
            if d < units_per_sec {
                self.jitter += (d - self.jitter) / 16.0;
                self.jitter_samples = self.jitter_samples.saturating_add(1);
            }
        }
        self.last_transit = Some(transit);
        if self.jitter_samples >= MIN_JITTER_SAMPLES {
            let needed_ms = 3.0 * self.jitter_ms() + f64::from(FRAME_MS) / 2.0;
            let frames = (needed_ms / f64::from(FRAME_MS)).ceil() as u32;
            self.target_frames =
                frames.clamp(frames_for_ms(MIN_DEPTH_MS), frames_for_ms(MAX_DEPTH_MS));
        }
    }

    /// Moves the next expected sequence number to `next`, recording
    /// whether the frame just before it was played.
    fn skip_to(&mut self, next: u64, played_last: bool) {
        let old = self.next_seq.unwrap_or(next);
        let shift = next.saturating_sub(old);
        self.played = if shift >= 64 { 0 } else { self.played << shift };
        if played_last {
            self.played |= 1;
        }
        self.next_seq = Some(next);
    }

    fn reset_window(&mut self) {
        self.window_ticks = 0;
        self.window_min = u64::MAX;
        self.window_max = 0;
    }

    /// Gives what to play for the current 20 ms tick. Call exactly once per
    /// tick.
    pub fn pop(&mut self, now: Instant) -> Playout {
        if !self.playing && !self.start(now) {
            return Playout::Empty;
        }
        let frame = u64::from(self.frame_ts);

        // Depth control: measure, and once per window step towards target.
        let span = self.span();
        self.window_min = self.window_min.min(span);
        self.window_max = self.window_max.max(span);
        self.window_ticks += 1;
        let target = u64::from(self.target_frames);
        let mut shrink = false;
        if self.window_ticks >= ADAPT_TICKS {
            if self.window_min > target + 1 {
                shrink = true;
            } else if self.window_max < target {
                self.grow_now = true;
            }
            self.reset_window();
        }
        if std::mem::take(&mut self.grow_now) {
            // Play nothing this tick: everything buffered waits one frame longer.
            self.play_ts += frame;
            return Playout::Lost;
        }
        if shrink {
            if let Some(next) = self.next_seq {
                if self.packets.remove(&next).is_some() {
                    self.stats.shrunk += 1;
                    self.skip_to(next + 1, false);
                    self.play_ts += frame;
                }
            }
        }

        let Some(next) = self.next_seq else {
            return Playout::Empty;
        };
        let Some((&key, slot)) = self.packets.first_key_value() else {
            self.play_ts += frame;
            self.dry_ticks += 1;
            if self.dry_ticks * FRAME_MS >= MAX_DEPTH_MS {
                // Nothing for a while: the stream stopped or went silent.
                self.playing = false;
                self.reset_window();
                return Playout::Empty;
            }
            return Playout::Lost;
        };
        self.dry_ticks = 0;
        let slot_ts = slot.ts;
        let max_ahead = frame * u64::from(frames_for_ms(2 * MAX_DEPTH_MS));

        // Buffered keys are never below `next` (older packets are refused
        // on arrival); `<=` just keeps that assumption from mattering.
        if key <= next {
            if slot_ts > self.play_ts && slot_ts - self.play_ts <= max_ahead {
                // Contiguous sequence, later timestamp: the sender skipped
                // time (silence suppression). Wait for it.
                self.play_ts += frame;
                return Playout::Empty;
            }
            // Due, overdue (the buffer had run dry), or a timestamp
            // discontinuity: play it and re-anchor the clock on it.
            return self.play(key);
        }

        // `next` is missing.
        let gap = key.saturating_sub(next);
        if slot_ts <= self.play_ts || gap > CAPACITY as u64 {
            // Already behind (or a hole too large to conceal frame by
            // frame): give the missing ones up and play what we have.
            self.stats.lost += gap;
            self.skip_to(key, false);
            return self.play(key);
        }
        self.stats.lost += 1;
        self.skip_to(next + 1, false);
        self.play_ts += frame;
        Playout::Lost
    }

    /// Decides whether a filling buffer has enough to start.
    fn start(&mut self, now: Instant) -> bool {
        let Some((&key, slot)) = self.packets.first_key_value() else {
            return false;
        };
        let waited = self
            .first_arrival
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let target_ms = self.target_depth_ms();
        if waited < Duration::from_millis(u64::from(target_ms))
            && self.span() <= u64::from(self.target_frames)
        {
            return false;
        }
        self.play_ts = slot.ts;
        self.skip_to(key, false);
        self.playing = true;
        self.dry_ticks = 0;
        self.reset_window();
        true
    }

    fn play(&mut self, key: u64) -> Playout {
        match self.packets.remove(&key) {
            Some(slot) => {
                self.skip_to(key + 1, true);
                self.play_ts = slot.ts + u64::from(self.frame_ts);
                Playout::Frame(slot.payload)
            }
            None => Playout::Lost,
        }
    }
}

/// Packet loss concealment on decoded audio: repeats the last good frame,
/// fading a little more with each consecutive loss (to 80 %, 50 %, 20 %,
/// then out), so the fifth loss in a row is silent.
#[derive(Debug, Clone, Default)]
pub struct Concealer {
    last: Vec<i16>,
    losses: u32,
    gain: f32,
}

impl Concealer {
    /// A concealer with no history (conceals with silence until it has
    /// seen a frame).
    pub fn new() -> Concealer {
        Concealer::default()
    }

    /// Records a good decoded frame; call after every frame that played.
    pub fn remember(&mut self, frame: &[i16]) {
        self.last.clear();
        self.last.extend_from_slice(frame);
        self.losses = 0;
        self.gain = 1.0;
    }

    /// Consecutive frames concealed since the last good one.
    pub fn losses(&self) -> u32 {
        self.losses
    }

    /// Fills `out` with a stand-in for a lost frame.
    pub fn conceal(&mut self, out: &mut [i16]) {
        self.losses = self.losses.saturating_add(1);
        let end_gain = match self.losses {
            1 => 0.8,
            2 => 0.5,
            3 => 0.2,
            _ => 0.0,
        };
        if self.last.is_empty() || self.gain == 0.0 {
            out.fill(0);
            self.gain = end_gain;
            return;
        }
        // Ramp the gain across the frame so the fade has no steps.
        let start = self.gain;
        let n = out.len().max(1) as f32;
        for (i, (o, &s)) in out.iter_mut().zip(self.last.iter().cycle()).enumerate() {
            let g = start + (end_gain - start) * (i as f32 + 1.0) / n;
            *o = (f32::from(s) * g).round() as i16;
        }
        self.gain = end_gain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 160;

    fn ms(base: Instant, t: u64) -> Instant {
        base + Duration::from_millis(t)
    }

    fn payload(seq: u16) -> Vec<u8> {
        seq.to_be_bytes().to_vec()
    }

    fn seq_of(p: &Playout) -> Option<u16> {
        match p {
            Playout::Frame(v) => Some(u16::from_be_bytes([v[0], v[1]])),
            _ => None,
        }
    }

    /// Drives a buffer with timed events: packets (arrival ms, seq, ts,
    /// ssrc) and a pop every 20 ms at `pop_phase` ms past each multiple of 20.
    fn run(
        jb: &mut JitterBuffer,
        base: Instant,
        mut arrivals: Vec<(u64, u16, u32, u32)>,
        ticks: u64,
        pop_phase: u64,
    ) -> Vec<Playout> {
        arrivals.sort_by_key(|a| a.0);
        let mut out = Vec::new();
        let mut it = arrivals.into_iter().peekable();
        for tick in 0..ticks {
            let t = tick * 20 + pop_phase;
            while let Some(&(at, seq, ts, ssrc)) = it.peek() {
                if at > t {
                    break;
                }
                jb.push(seq, ts, ssrc, &payload(seq), ms(base, at));
                it.next();
            }
            out.push(jb.pop(ms(base, t)));
        }
        out
    }

    fn steady(n: u16, seq0: u16, ts0: u32, ssrc: u32, t0: u64) -> Vec<(u64, u16, u32, u32)> {
        (0..n)
            .map(|i| {
                (
                    t0 + u64::from(i) * 20,
                    seq0.wrapping_add(i),
                    ts0.wrapping_add(u32::from(i) * TS),
                    ssrc,
                )
            })
            .collect()
    }

    fn frames(out: &[Playout]) -> Vec<u16> {
        out.iter().filter_map(seq_of).collect()
    }

    #[test]
    fn in_order_stream_plays_every_frame() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let out = run(&mut jb, base, steady(500, 1000, 5000, 1, 0), 520, 1);
        // Starts after the 40 ms start depth.
        assert_eq!(out[..2], [Playout::Empty, Playout::Empty]);
        assert!(matches!(out[2], Playout::Frame(_)));
        let played = frames(&out);
        let st = jb.stats();
        // A perfectly regular stream lets the depth drop from 40 to 20 ms,
        // which costs exactly one frame; every other frame plays, in order.
        assert_eq!(st.shrunk, 1);
        assert_eq!(played.len(), 499);
        assert!(played.windows(2).all(|w| w[1] > w[0]));
        let last_frame = out.iter().rposition(|p| seq_of(p).is_some()).unwrap_or(0);
        assert!(!out[..last_frame].contains(&Playout::Lost));
        assert_eq!(
            (st.received, st.lost, st.late, st.duplicate),
            (500, 0, 0, 0)
        );
        assert_eq!(jb.target_depth_ms(), 20);
        // Then the stream ends: a few concealed ticks, then Empty.
        assert_eq!(out.last(), Some(&Playout::Empty));
    }

    #[test]
    fn reordered_packets_come_out_in_order() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(40, 0, 0, 1, 0);
        // Swap arrival times of neighbours: 5<->6, 20<->21, and 30 after 32.
        for (a, b) in [(5, 6), (20, 21), (30, 32)] {
            let t = arrivals[a].0;
            arrivals[a].0 = arrivals[b].0;
            arrivals[b].0 = t;
        }
        let out = run(&mut jb, base, arrivals, 45, 1);
        assert_eq!(frames(&out), (0..40).collect::<Vec<_>>());
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn lost_packet_gives_lost_once_and_late_one_is_dropped() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(30, 0, 0, 1, 0);
        // Packet 10 arrives 100 ms late, long after its play-out time.
        arrivals[10].0 += 100;
        let out = run(&mut jb, base, arrivals, 35, 1);
        // (After the last frame the stream has ended: ignore that tail.)
        let last_frame = out.iter().rposition(|p| seq_of(p).is_some()).unwrap_or(0);
        let lost = out[..last_frame]
            .iter()
            .filter(|p| **p == Playout::Lost)
            .count();
        assert_eq!(lost, 1);
        let played = frames(&out);
        assert!(!played.contains(&10));
        assert_eq!(played.len(), 29);
        // The loss sits where packet 10 belonged.
        let i = out.iter().position(|p| *p == Playout::Lost).unwrap_or(0);
        assert_eq!(seq_of(&out[i - 1]), Some(9));
        assert_eq!(seq_of(&out[i + 1]), Some(11));
        let st = jb.stats();
        assert_eq!((st.lost, st.late), (1, 1));
    }

    #[test]
    fn duplicates_are_dropped() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(20, 0, 0, 1, 0);
        // One duplicate while still buffered, one long after being played.
        arrivals.push((61, 3, 3 * TS, 1));
        arrivals.push((300, 4, 4 * TS, 1));
        let out = run(&mut jb, base, arrivals, 25, 1);
        assert_eq!(frames(&out), (0..20).collect::<Vec<_>>());
        let st = jb.stats();
        assert_eq!((st.duplicate, st.late, st.received), (2, 0, 22));
    }

    #[test]
    fn sequence_and_timestamp_wrap() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let arrivals = steady(40, 65520, u32::MAX - 10 * TS, 1, 0);
        let out = run(&mut jb, base, arrivals, 45, 1);
        let expected: Vec<u16> = (0..40u16).map(|i| 65520u16.wrapping_add(i)).collect();
        assert_eq!(frames(&out), expected);
        assert!(!out[..42].contains(&Playout::Lost));
    }

    #[test]
    fn ssrc_change_resyncs() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(20, 100, 0, 1, 0);
        // A new source with unrelated numbering takes over at once.
        arrivals.extend(steady(20, 40000, 123_456_789, 2, 400));
        let out = run(&mut jb, base, arrivals, 45, 1);
        // Everything of the first source still plays, the second follows.
        let expected: Vec<u16> = (100..120).chain(40000..40020).collect();
        assert_eq!(frames(&out), expected);
        assert!(!out[..42].contains(&Playout::Lost));
        assert_eq!(jb.stats().resyncs, 1);
        assert_eq!(jb.stats().late, 0);
    }

    #[test]
    fn stragglers_of_the_previous_ssrc_are_late_but_a_switch_back_works() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(20, 100, 0, 1, 0);
        arrivals.extend(steady(20, 500, 9000, 2, 400));
        // Packet 119 of source 1, reordered behind source 2's first packet.
        arrivals[19].0 = 401;
        // Source 1 comes back later, where it left off.
        arrivals.extend(steady(20, 120, 20 * TS, 1, 1200));
        let out = run(&mut jb, base, arrivals, 90, 1);
        let expected: Vec<u16> = (100..119).chain(500..520).chain(120..140).collect();
        assert_eq!(frames(&out), expected);
        let st = jb.stats();
        assert_eq!((st.late, st.resyncs), (1, 2));
    }

    #[test]
    fn sequence_jump_resyncs_after_confirmation() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(20, 100, 0, 1, 0);
        // Same SSRC, sequence jumps by 20000 and timestamps by a lot.
        arrivals.extend(steady(20, 20100, 99_000_000, 1, 400));
        // A single stray packet far away must not disturb anything.
        arrivals.push((210, 50000, 7, 1));
        let out = run(&mut jb, base, arrivals, 45, 1);
        let expected: Vec<u16> = (100..120).chain(20100..20120).collect();
        assert_eq!(frames(&out), expected);
        assert_eq!(jb.stats().resyncs, 1);
        assert_eq!(jb.stats().late, 1, "the stray packet");
    }

    #[test]
    fn silence_gap_then_new_talkspurt() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        // 20 frames, 1 s of silence suppression (sequence contiguous,
        // timestamps skip 50 frames), 20 more frames.
        let mut arrivals = steady(20, 0, 0, 1, 0);
        arrivals.extend(steady(20, 20, 70 * TS, 1, 1400));
        let out = run(&mut jb, base, arrivals, 110, 1);
        assert_eq!(frames(&out), (0..40).collect::<Vec<_>>());
        assert_eq!(jb.stats().lost, 0);
        // The gap is mostly Empty: the buffer conceals for at most 200 ms
        // before deciding the sender went quiet.
        let last_of_first = out.iter().position(|p| seq_of(p) == Some(19)).unwrap_or(0);
        let first_of_second = out.iter().position(|p| seq_of(p) == Some(20)).unwrap_or(0);
        let gap = &out[last_of_first + 1..first_of_second];
        let lost = gap.iter().filter(|p| **p == Playout::Lost).count();
        assert!(lost < 10, "{lost} concealed ticks");
        assert!(gap.len() - lost >= 40, "{} silent ticks", gap.len() - lost);
    }

    #[test]
    fn timestamp_jump_with_contiguous_sequence_does_not_stall() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut arrivals = steady(20, 0, 0, 1, 0);
        arrivals.extend(steady(20, 20, 3_000_000_000, 1, 400));
        let out = run(&mut jb, base, arrivals, 45, 1);
        assert_eq!(frames(&out), (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn jitter_grows_the_depth_and_calm_shrinks_it() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        let mut rng = fastrand::Rng::with_seed(42);
        // 10 s with each packet delayed by 0..80 ms at random.
        let mut arrivals: Vec<_> = steady(500, 0, 0, 1, 0)
            .into_iter()
            .map(|(t, s, ts, ssrc)| (t + rng.u64(0..80), s, ts, ssrc))
            .collect();
        // Then 10 s with no jitter at all.
        arrivals.extend(steady(500, 500, 500 * TS, 1, 10_000 + 80));
        arrivals.sort_by_key(|a| a.0);

        let out = run(&mut jb, base, arrivals.clone(), 500, 5);
        assert!(jb.jitter_ms() > 15.0, "jitter {}", jb.jitter_ms());
        assert!(
            jb.target_depth_ms() >= 80,
            "target {}",
            jb.target_depth_ms()
        );
        assert!(jb.buffered_ms() >= 60, "buffered {}", jb.buffered_ms());
        // Once grown, nearly everything in the last 5 s plays.
        let tail_frames = out[250..].iter().filter(|p| seq_of(p).is_some()).count();
        assert!(tail_frames >= 240, "only {tail_frames} of 250 ticks played");

        // Continue the same run through the calm part.
        let mut jb2 = JitterBuffer::new(TS);
        let out = run(&mut jb2, base, arrivals, 1000, 5);
        assert!(jb2.jitter_ms() < 1.0, "jitter {}", jb2.jitter_ms());
        assert_eq!(jb2.target_depth_ms(), 20);
        assert!(jb2.buffered_ms() <= 40, "buffered {}", jb2.buffered_ms());
        let played = frames(&out);
        assert!(played.windows(2).all(|w| w[1] > w[0]));
        let st = jb2.stats();
        // Every packet received is accounted for exactly once.
        assert_eq!(
            played.len() as u64 + st.late + st.shrunk + st.overflow + jb2.packets.len() as u64,
            st.received
        );
    }

    #[test]
    fn overflow_drops_oldest() {
        let base = Instant::now();
        let mut jb = JitterBuffer::new(TS);
        // 100 packets at once, nobody popping.
        for i in 0..100u16 {
            jb.push(i, u32::from(i) * TS, 9, &payload(i), base);
        }
        let st = jb.stats();
        assert_eq!(st.overflow, 100 - CAPACITY as u64);
        assert_eq!(jb.buffered_ms(), CAPACITY as u32 * FRAME_MS);
        // Play-out starts with the oldest kept packet.
        assert_eq!(seq_of(&jb.pop(base)), Some(100 - CAPACITY as u16));
    }

    #[test]
    fn concealer_repeats_and_fades_to_silence() {
        let mut c = Concealer::new();
        let mut out = [1i16; 160];
        c.conceal(&mut out);
        assert!(out.iter().all(|&s| s == 0), "no history: silence");

        let frame: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 10000 } else { -10000 })
            .collect();
        c.remember(&frame);
        let mut levels = Vec::new();
        for _ in 0..5 {
            c.conceal(&mut out);
            levels.push(crate::audio::level_dbov(&out));
            // Same waveform, scaled.
            assert!(out
                .iter()
                .zip(&frame)
                .all(|(&o, &f)| o == 0 || o.signum() == f.signum()));
        }
        assert!(
            levels.windows(2).all(|w| w[1] < w[0] || w[1] == -96.0),
            "{levels:?}"
        );
        assert!(
            levels[0] > -12.0,
            "first concealed frame nearly full: {levels:?}"
        );
        assert!(
            levels[3] < -20.0,
            "fading out on the fourth loss: {levels:?}"
        );
        assert_eq!(levels[4], -96.0, "silent from the fifth loss");
        assert_eq!(c.losses(), 5);
        // The first sample continues from the last good one without a jump.
        c.remember(&frame);
        c.conceal(&mut out);
        assert!((i32::from(out[0]) - 10000).abs() < 200);
    }

    #[test]
    fn a_sender_restarting_its_sequence_after_a_pause_is_played_not_dropped() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut jb = JitterBuffer::new(160);
        // 50 packets, then 600 ms of nothing, then the same SSRC from seq 0.
        for i in 0..50u16 {
            jb.push(i, u32::from(i) * 160, 9, &[1], at(u64::from(i) * 20));
            let _ = jb.pop(at(u64::from(i) * 20 + 10));
        }
        let mut t = 1000 + 600;
        let mut played = 0;
        for i in 0..50u16 {
            jb.push(i, u32::from(i) * 160, 9, &[2], at(t));
            if matches!(jb.pop(at(t + 10)), Playout::Frame(ref p) if p[0] == 2) {
                played += 1;
            }
            t += 20;
        }
        assert!(played >= 45, "only {played} of 50 restarted frames played");
    }
}
