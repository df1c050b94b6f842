//! RTP telephone-events (RFC 4733, which obsoletes RFC 2833): receiving and
//! sending DTMF digits as named events.
//!
//! Payload (RFC 4733 §2.3), 4 bytes per event:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! One event is one key press. All packets of an event carry the RTP
//! timestamp of the event's start, with a growing duration; the last one has
//! the E bit and is usually sent three times. Events longer than the 16-bit
//! duration field are cut into segments (§2.5.1.3), each new segment on a new
//! timestamp without the marker bit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{digit_of, event_code, DigitEvent, DtmfError, DtmfSource};

/// An event whose packets stop for longer than this without an end packet is
/// taken as ended (its end packets were lost).
pub const EVENT_TIMEOUT: Duration = Duration::from_millis(200);

/// How many times the sender repeats the end packet (RFC 4733 §2.5.1.4
/// recommends three).
pub const END_REPEATS: u8 = 3;

/// The sender's packet interval in milliseconds: one packet per media frame.
pub const TICK_MS: u32 = 20;

/// One telephone-event as carried in 4 payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-15 are DTMF digits, others (16 = flash...) are other
    /// telephony events.
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level of the tone, in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units, from the event (segment) start.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first event of a payload; `None` when it holds fewer than 4
    /// bytes. Bytes past the first 4 are not examined.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b = payload.get(..4)?;
        Some(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4 payload bytes of this event (the R bit is sent as zero).
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// Counters kept by [`Rfc4733Receiver`], for logs and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rfc4733Stats {
    /// Packets given to `on_packet`.
    pub packets: u64,
    /// Payloads shorter than 4 bytes, dropped.
    pub malformed: u64,
    /// Payloads longer than one event (RFC 2198 redundancy sent on the
    /// telephone-event payload type, or concatenated events); only the first
    /// event was used.
    pub extra_bytes: u64,
    /// Packets of events that are not DTMF digits (flash, modem tones...).
    pub ignored_events: u64,
    /// Packets for an older event than the newest one seen (reordered or late
    /// retransmissions), dropped.
    pub late: u64,
    /// Packets that repeat the end of an already reported event.
    pub duplicate_ends: u64,
    /// Packets whose event code differs from the event already running on the
    /// same timestamp, dropped.
    pub conflicting: u64,
    /// Digits reported.
    pub digits: u64,
    /// Of those, digits reported without having seen an end packet (timeout or
    /// superseded by the next event).
    pub digits_without_end: u64,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    /// RTP timestamp of the current segment.
    ts: u32,
    code: u8,
    /// Duration of previous segments of the same event, in timestamp units.
    base: u64,
    /// Longest duration seen in the current segment.
    seg_duration: u16,
    last_seen: Instant,
    reported: bool,
}

/// Turns the telephone-event packets of one RTP stream into digits, each
/// reported exactly once.
///
/// A digit is reported when its first end packet arrives; if all its end
/// packets are lost, when the next event starts or when [`Self::poll`] finds
/// it silent for more than [`EVENT_TIMEOUT`]. Call `poll` every frame or so:
/// it also hands out digits queued when one packet completed two events.
/// Create one receiver per stream and [`Self::reset`] it when the SSRC changes.
#[derive(Debug)]
pub struct Rfc4733Receiver {
    clock_rate: u32,
    /// Timestamp of the newest event seen (DTMF or not).
    newest_ts: Option<u32>,
    current: Option<Current>,
    pending: VecDeque<DigitEvent>,
    stats: Rfc4733Stats,
}

impl Rfc4733Receiver {
    /// A receiver for a telephone-event stream at `clock_rate` Hz (the rate of
    /// the `telephone-event/8000` rtpmap; 0 is taken as 8000).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: if clock_rate == 0 { 8000 } else { clock_rate },
            newest_ts: None,
            current: None,
            pending: VecDeque::new(),
            stats: Rfc4733Stats::default(),
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> Rfc4733Stats {
        self.stats
    }

    /// Forgets the event in progress and queued digits (new SSRC, re-INVITE),
    /// keeping the counters.
    pub fn reset(&mut self) {
        self.newest_ts = None;
        self.current = None;
        self.pending.clear();
    }

    /// Handles one packet of the telephone-event payload type: its RTP
    /// timestamp and marker bit, its payload and the arrival time. Returns a
    /// digit when one is complete.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        now: Instant,
    ) -> Option<DigitEvent> {
        self.stats.packets += 1;
        let Some(ev) = TelephoneEvent::parse(payload) else {
            self.stats.malformed += 1;
            return None;
        };
        if payload.len() > 4 {
            self.stats.extra_bytes += 1;
        }
        match self.newest_ts {
            Some(newest) if newest == timestamp => self.same_event(ev, now),
            Some(newest) if self.is_older(timestamp, newest) => self.stats.late += 1,
            _ => self.new_event(timestamp, marker, ev, now),
        }
        self.pending.pop_front()
    }

    /// Reports a digit whose packets stopped more than [`EVENT_TIMEOUT`] ago
    /// without an end packet, or a digit queued by `on_packet`.
    pub fn poll(&mut self, now: Instant) -> Option<DigitEvent> {
        if let Some(cur) = self.current {
            if !cur.reported && now.saturating_duration_since(cur.last_seen) > EVENT_TIMEOUT {
                self.report(false);
            }
        }
        self.pending.pop_front()
    }

    /// Whether `ts` is an earlier timestamp than `newest`, by RFC 1982 serial
    /// arithmetic (so across the 32-bit wrap). A jump back of more than 30 s
    /// is taken as a sender restart, not as a late packet.
    fn is_older(&self, ts: u32, newest: u32) -> bool {
        let back = newest.wrapping_sub(ts);
        back != 0 && u64::from(back) < u64::from(self.clock_rate) * 30
    }

    fn new_event(&mut self, ts: u32, marker: bool, ev: TelephoneEvent, now: Instant) {
        let prev_ts = self.newest_ts.replace(ts);
        if let (Some(cur), Some(prev)) = (self.current.as_mut(), prev_ts) {
            // A long event's next segment: same event, no marker, starting
            // where the previous segment's duration ended (allowing for a
            // couple of lost packets).
            let step = ts.wrapping_sub(prev);
            let slack = self.clock_rate / 25;
            if !marker
                && !cur.reported
                && cur.code == ev.event
                && step <= u32::from(cur.seg_duration) + slack
            {
                cur.base += u64::from(step);
                cur.ts = ts;
                cur.seg_duration = 0;
                self.same_event(ev, now);
                return;
            }
        }
        if self.current.is_some_and(|c| !c.reported) {
            self.report(false);
        }
        if digit_of(ev.event).is_none() {
            self.stats.ignored_events += 1;
            self.current = None;
            return;
        }
        self.current = Some(Current {
            ts,
            code: ev.event,
            base: 0,
            seg_duration: 0,
            last_seen: now,
            reported: false,
        });
        self.same_event(ev, now);
    }

    fn same_event(&mut self, ev: TelephoneEvent, now: Instant) {
        let Some(cur) = self.current.as_mut() else {
            // The newest event is a non-DTMF one.
            self.stats.ignored_events += 1;
            return;
        };
        if cur.code != ev.event {
            self.stats.conflicting += 1;
            return;
        }
        cur.seg_duration = cur.seg_duration.max(ev.duration);
        cur.last_seen = now;
        if ev.end {
            if cur.reported {
                self.stats.duplicate_ends += 1;
            } else {
                self.report(true);
            }
        }
    }

    /// Queues the current event's digit and marks it reported.
    fn report(&mut self, ended: bool) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        cur.reported = true;
        let Some(digit) = digit_of(cur.code) else {
            return;
        };
        let units = cur.base + u64::from(cur.seg_duration);
        let ms = units * 1000 / u64::from(self.clock_rate);
        self.pending.push_back(DigitEvent {
            digit,
            duration_ms: u32::try_from(ms).unwrap_or(u32::MAX),
            source: DtmfSource::Rfc4733,
        });
        self.stats.digits += 1;
        if !ended {
            self.stats.digits_without_end += 1;
        }
    }
}

/// One telephone-event packet to send, produced by [`Rfc4733Sender::next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// The RTP payload.
    pub payload: [u8; 4],
    /// Set the RTP marker bit: the first packet of the event.
    pub marker: bool,
    /// This is an end packet (E bit set); the last three packets are.
    pub end: bool,
    /// RTP timestamp of this packet relative to the event start, in clock
    /// units: 0 for every packet of an event shorter than the 16-bit duration
    /// field (8.19 s at 8 kHz); later segments of longer events get the offset
    /// of their segment start. The caller sends with
    /// `timestamp = event_start_ts.wrapping_add(event_ts_offset)` and advances
    /// the RTP sequence number for every packet.
    pub event_ts_offset: u32,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    code: u8,
    volume: u8,
    /// Total event duration in clock units.
    total: u64,
    /// Duration covered by the packets sent so far.
    elapsed: u64,
    /// Start of the current segment.
    seg_start: u64,
    first: bool,
    /// End packets sent so far.
    ends_sent: u8,
    stop: bool,
}

/// Produces the telephone-event packets of one digit, one per 20 ms tick.
///
/// Each packet's duration covers the event up to the end of its tick. The end
/// packet is sent [`END_REPEATS`] times, one per tick (so the three copies are
/// spread over 40 ms, riding out a short burst of loss); then `next` returns
/// `None` and the sender is free for the next digit.
#[derive(Debug)]
pub struct Rfc4733Sender {
    clock_rate: u32,
    tick: u64,
    state: Option<Sending>,
}

impl Rfc4733Sender {
    /// A sender for a `telephone-event` payload type at `clock_rate` Hz
    /// (0 is taken as 8000).
    pub fn new(clock_rate: u32) -> Self {
        let clock_rate = if clock_rate == 0 { 8000 } else { clock_rate };
        Self {
            clock_rate,
            tick: (u64::from(clock_rate) * u64::from(TICK_MS) / 1000).max(1),
            state: None,
        }
    }

    /// Starts sending `digit` for `duration_ms` at `volume` (-dBm0, clamped to
    /// 0-63; 10 is usual). Fails for a non-DTMF character, a zero duration, or
    /// while the previous digit is still being sent.
    pub fn start(&mut self, digit: char, duration_ms: u32, volume: u8) -> Result<(), DtmfError> {
        let code = event_code(digit).ok_or(DtmfError::NotADigit(digit))?;
        if duration_ms == 0 {
            return Err(DtmfError::ZeroDuration);
        }
        if self.is_busy() {
            return Err(DtmfError::Busy);
        }
        let total = (u64::from(duration_ms) * u64::from(self.clock_rate)).div_ceil(1000);
        self.state = Some(Sending {
            code,
            volume: volume.min(63),
            total: total.max(1),
            elapsed: 0,
            seg_start: 0,
            first: true,
            ends_sent: 0,
            stop: false,
        });
        Ok(())
    }

    /// Ends the digit early: the next packet is the end packet, with the
    /// duration sent so far (at least one tick).
    pub fn stop(&mut self) {
        if let Some(s) = self.state.as_mut() {
            s.stop = true;
        }
    }

    /// Whether a digit is being sent (its packets, end repeats included, are
    /// not all out yet).
    pub fn is_busy(&self) -> bool {
        self.state.is_some()
    }

    /// The packet for this 20 ms tick, or `None` when no digit is being sent.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<EventPacket> {
        let tick = self.tick;
        let s = self.state.as_mut()?;
        if s.ends_sent == 0 {
            let mut elapsed = (s.elapsed + tick).min(s.total);
            if s.stop {
                elapsed = s.elapsed.max(tick.min(s.total));
                s.total = elapsed;
            }
            if elapsed - s.seg_start > u64::from(u16::MAX) {
                // The duration field would overflow: the previous packet closed
                // its segment, this one opens the next at its end.
                s.seg_start = s.elapsed;
            }
            s.elapsed = elapsed;
        }
        let end = s.elapsed >= s.total;
        let event = TelephoneEvent {
            event: s.code,
            end,
            volume: s.volume,
            duration: u16::try_from(s.elapsed - s.seg_start).unwrap_or(u16::MAX),
        };
        let packet = EventPacket {
            payload: event.to_bytes(),
            marker: s.first,
            end,
            event_ts_offset: u32::try_from(s.seg_start).unwrap_or(u32::MAX),
        };
        s.first = false;
        if end {
            s.ends_sent += 1;
            if s.ends_sent >= END_REPEATS {
                self.state = None;
            }
        }
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Packets of one event (digit `code`) sent at 20 ms intervals, with end
    /// packets tripled, as (payload, marker).
    fn event_packets(code: u8, durations: &[u16]) -> Vec<([u8; 4], bool)> {
        let mut out = Vec::new();
        for (i, &d) in durations.iter().enumerate() {
            let last = i + 1 == durations.len();
            let ev = TelephoneEvent {
                event: code,
                end: last,
                volume: 10,
                duration: d,
            };
            let n = if last { 3 } else { 1 };
            for _ in 0..n {
                out.push((ev.to_bytes(), i == 0));
            }
        }
        out
    }

    #[test]
    fn parse_and_encode_payload() {
        // Event 9, E bit, volume 10, duration 1600 (200 ms at 8 kHz).
        let ev = TelephoneEvent::parse(&[0x09, 0x8a, 0x06, 0x40]).unwrap();
        assert_eq!(
            ev,
            TelephoneEvent {
                event: 9,
                end: true,
                volume: 10,
                duration: 1600
            }
        );
        assert_eq!(ev.to_bytes(), [0x09, 0x8a, 0x06, 0x40]);
        // The R bit is ignored, volume keeps its 6 bits.
        let ev = TelephoneEvent::parse(&[0x0b, 0x7f, 0xff, 0xff]).unwrap();
        assert_eq!(
            (ev.event, ev.end, ev.volume, ev.duration),
            (11, false, 63, 65535)
        );
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
    }

    #[test]
    fn triple_end_gives_one_digit() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let mut got = Vec::new();
        let packets = event_packets(5, &[160, 320, 480, 640, 800, 800]);
        for (i, (p, m)) in packets.iter().enumerate() {
            let now = t0 + ms(20 * i as u64);
            got.extend(rx.on_packet(1000, *m, p, now));
            got.extend(rx.poll(now));
        }
        got.extend(rx.poll(t0 + ms(2000)));
        assert_eq!(
            got,
            vec![DigitEvent {
                digit: '5',
                duration_ms: 100,
                source: DtmfSource::Rfc4733
            }]
        );
        let st = rx.stats();
        assert_eq!(st.digits, 1);
        assert_eq!(st.duplicate_ends, 2);
        assert_eq!(st.digits_without_end, 0);
    }

    #[test]
    fn digit_reported_when_first_end_arrives() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let p = |d: u16, e: bool| {
            TelephoneEvent {
                event: 1,
                end: e,
                volume: 10,
                duration: d,
            }
            .to_bytes()
        };
        assert_eq!(rx.on_packet(50, true, &p(160, false), t0), None);
        assert_eq!(rx.on_packet(50, false, &p(320, false), t0 + ms(20)), None);
        let ev = rx.on_packet(50, false, &p(480, true), t0 + ms(40)).unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('1', 60));
    }

    #[test]
    fn lost_end_packets_reported_by_poll() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let packets = event_packets(7, &[160, 320, 480, 640]);
        // Drop the three end packets.
        for (i, (p, m)) in packets.iter().take(3).enumerate() {
            assert_eq!(rx.on_packet(4000, *m, p, t0 + ms(20 * i as u64)), None);
        }
        let last = t0 + ms(40);
        assert_eq!(rx.poll(last + ms(100)), None);
        assert_eq!(rx.poll(last + ms(200)), None);
        let ev = rx.poll(last + ms(201)).unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('7', 60));
        assert_eq!(rx.poll(last + ms(500)), None);
        // A straggling end packet afterwards does not repeat the digit.
        assert_eq!(
            rx.on_packet(4000, false, &packets[3].0, last + ms(600)),
            None
        );
        assert_eq!(rx.stats().digits, 1);
        assert_eq!(rx.stats().digits_without_end, 1);
    }

    #[test]
    fn lost_end_packets_reported_by_next_event() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let first = event_packets(2, &[160, 320, 480]);
        for (p, m) in first.iter().take(2) {
            assert_eq!(rx.on_packet(8000, *m, p, t0), None);
        }
        let second = event_packets(3, &[160, 320]);
        let ev = rx
            .on_packet(8000 + 1600, true, &second[0].0, t0 + ms(60))
            .unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('2', 40));
        let mut got = Vec::new();
        for (p, m) in &second[1..] {
            got.extend(rx.on_packet(8000 + 1600, *m, p, t0 + ms(80)));
        }
        assert_eq!(got.iter().map(|e| e.digit).collect::<String>(), "3");
        // A late packet of the first event changes nothing.
        assert_eq!(rx.on_packet(8000, false, &first[4].0, t0 + ms(90)), None);
        assert_eq!(rx.stats().late, 1);
    }

    #[test]
    fn same_digit_twice_is_two_digits() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let mut got = Vec::new();
        for (k, ts) in [100u32, 2100].into_iter().enumerate() {
            for (p, m) in event_packets(0, &[160, 320, 400]) {
                got.extend(rx.on_packet(ts, m, &p, t0 + ms(300 * k as u64)));
            }
        }
        assert_eq!(got.iter().map(|e| e.digit).collect::<String>(), "00");
    }

    #[test]
    fn end_only_event_after_lost_end_gives_both_digits() {
        // The first event loses its ends, the second arrives as ends only:
        // one packet completes two digits, the second comes from poll.
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let p1 = event_packets(4, &[160, 320]);
        assert_eq!(rx.on_packet(10, true, &p1[0].0, t0), None);
        let p2 = event_packets(6, &[400]);
        let a = rx.on_packet(1000, false, &p2[0].0, t0 + ms(120)).unwrap();
        assert_eq!(a.digit, '4');
        let b = rx.poll(t0 + ms(121)).unwrap();
        assert_eq!((b.digit, b.duration_ms), ('6', 50));
        assert_eq!(rx.poll(t0 + ms(1000)), None);
    }

    #[test]
    fn long_press_updates_give_one_digit() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        // 3 s press: 150 packets with growing duration, some retransmitted
        // twice and some reordered.
        let mut got = Vec::new();
        let mut durations: Vec<u16> = (1..=150).map(|k| k * 160).collect();
        durations.swap(40, 41);
        for (i, d) in durations.iter().enumerate() {
            let p = TelephoneEvent {
                event: 10,
                end: false,
                volume: 10,
                duration: *d,
            }
            .to_bytes();
            let now = t0 + ms(20 * i as u64);
            for _ in 0..(1 + i % 2) {
                got.extend(rx.on_packet(77, i == 0, &p, now));
            }
            got.extend(rx.poll(now));
        }
        assert!(got.is_empty());
        let end = TelephoneEvent {
            event: 10,
            end: true,
            volume: 10,
            duration: 24000,
        }
        .to_bytes();
        for _ in 0..3 {
            got.extend(rx.on_packet(77, false, &end, t0 + ms(3000)));
        }
        got.extend(rx.poll(t0 + ms(5000)));
        assert_eq!(
            got,
            vec![DigitEvent {
                digit: '*',
                duration_ms: 3000,
                source: DtmfSource::Rfc4733
            }]
        );
    }

    #[test]
    fn timestamp_wrap() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let mut got = Vec::new();
        for (k, ts) in [u32::MAX - 100, 1500, 3500].into_iter().enumerate() {
            for (p, m) in event_packets(k as u8 + 1, &[160, 320]) {
                got.extend(rx.on_packet(ts, m, &p, t0 + ms(250 * k as u64)));
            }
        }
        // A late duplicate from before the wrap is recognised as old.
        let old = event_packets(1, &[320]);
        got.extend(rx.on_packet(u32::MAX - 100, false, &old[0].0, t0 + ms(800)));
        assert_eq!(got.iter().map(|e| e.digit).collect::<String>(), "123");
        assert_eq!(rx.stats().late, 1);
    }

    #[test]
    fn non_dtmf_events_ignored() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        let mut got = Vec::new();
        for (p, m) in event_packets(16, &[160, 320, 800]) {
            got.extend(rx.on_packet(500, m, &p, t0));
        }
        got.extend(rx.poll(t0 + ms(1000)));
        assert!(got.is_empty());
        assert_eq!(rx.stats().ignored_events, 5);
        // A flash after a digit whose ends were lost still releases the digit.
        let d = event_packets(8, &[160, 320]);
        rx.on_packet(5000, true, &d[0].0, t0 + ms(1100));
        let flash = event_packets(16, &[160]);
        let ev = rx
            .on_packet(6000, true, &flash[0].0, t0 + ms(1200))
            .unwrap();
        assert_eq!(ev.digit, '8');
        assert_eq!(rx.poll(t0 + ms(3000)), None);
    }

    #[test]
    fn malformed_and_odd_payloads_never_panic() {
        let mut rx = Rfc4733Receiver::new(8000);
        let t0 = Instant::now();
        for len in 0..4 {
            assert_eq!(rx.on_packet(1, false, &[0xff; 3][..len], t0), None);
        }
        assert_eq!(rx.stats().malformed, 4);
        // Redundancy-like payload: several events concatenated; the first one
        // counts, the rest is ignored.
        let mut payload = Vec::new();
        payload.extend_from_slice(&[3, 0x8a, 0x03, 0x20]);
        payload.extend_from_slice(&[4, 0x8a, 0x03, 0x20, 0xde, 0xad]);
        let ev = rx.on_packet(9, true, &payload, t0).unwrap();
        assert_eq!((ev.digit, ev.duration_ms), ('3', 100));
        assert_eq!(rx.stats().extra_bytes, 1);
        // A different event on the same timestamp is dropped, not confused.
        assert_eq!(rx.on_packet(9, false, &[5, 0x8a, 0, 10], t0), None);
        assert_eq!(rx.stats().conflicting, 1);
        // Pseudo-random garbage of every length.
        let mut rng = fastrand::Rng::with_seed(7);
        for i in 0..5000u64 {
            let len = rng.usize(0..12);
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let now = t0 + ms(i);
            let _ = rx.on_packet(rng.u32(..), rng.bool(), &bytes, now);
            let _ = rx.poll(now);
        }
        // Zero clock rate does not divide by zero.
        let mut rx0 = Rfc4733Receiver::new(0);
        assert!(rx0.on_packet(1, true, &[1, 0x80, 0, 80], t0).is_some());
    }

    #[test]
    fn sender_packet_sequence() {
        let mut tx = Rfc4733Sender::new(8000);
        assert!(!tx.is_busy());
        assert_eq!(tx.next(), None);
        tx.start('#', 100, 10).unwrap();
        assert!(tx.is_busy());
        assert_eq!(tx.start('1', 100, 10), Err(DtmfError::Busy));
        let packets: Vec<EventPacket> = std::iter::from_fn(|| tx.next()).collect();
        assert!(!tx.is_busy());
        // 100 ms = 5 ticks, the fifth being the end, then two repeats.
        assert_eq!(packets.len(), 7);
        let durations: Vec<u16> = packets
            .iter()
            .map(|p| TelephoneEvent::parse(&p.payload).unwrap().duration)
            .collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        assert_eq!(packets.iter().filter(|p| p.end).count(), 3);
        assert!(packets[4..]
            .iter()
            .all(|p| p.end && p.payload == packets[4].payload));
        assert!(packets.iter().all(|p| p.event_ts_offset == 0));
        assert_eq!(packets[0].payload, [11, 10, 0, 160]);
        assert_eq!(packets[4].payload, [11, 0x8a, 0x03, 0x20]);
        // Free again.
        tx.start('1', 30, 70).unwrap();
        let p: Vec<EventPacket> = std::iter::from_fn(|| tx.next()).collect();
        assert_eq!(p.len(), 4);
        assert_eq!(p[1].payload, [1, 0x80 | 63, 0, 240]);
    }

    #[test]
    fn sender_rejects_bad_input() {
        let mut tx = Rfc4733Sender::new(8000);
        assert_eq!(tx.start('x', 100, 10), Err(DtmfError::NotADigit('x')));
        assert_eq!(tx.start('1', 0, 10), Err(DtmfError::ZeroDuration));
        assert!(!tx.is_busy());
    }

    #[test]
    fn sender_stop_ends_early() {
        let mut tx = Rfc4733Sender::new(8000);
        tx.start('9', 2000, 10).unwrap();
        tx.next();
        tx.next();
        tx.stop();
        let rest: Vec<EventPacket> = std::iter::from_fn(|| tx.next()).collect();
        assert_eq!(rest.len(), 3);
        assert!(rest.iter().all(|p| p.end));
        assert_eq!(
            TelephoneEvent::parse(&rest[0].payload).unwrap().duration,
            320
        );
    }

    /// Plays the sender's packets into a receiver, 20 ms apart, every packet
    /// on `start_ts + event_ts_offset`.
    fn round_trip(
        clock_rate: u32,
        digit: char,
        duration_ms: u32,
        start_ts: u32,
    ) -> Vec<DigitEvent> {
        let mut tx = Rfc4733Sender::new(clock_rate);
        let mut rx = Rfc4733Receiver::new(clock_rate);
        tx.start(digit, duration_ms, 10).unwrap();
        let t0 = Instant::now();
        let mut got = Vec::new();
        let mut i = 0u64;
        while let Some(p) = tx.next() {
            let now = t0 + ms(20 * i);
            let ts = start_ts.wrapping_add(p.event_ts_offset);
            got.extend(rx.on_packet(ts, p.marker, &p.payload, now));
            got.extend(rx.poll(now));
            i += 1;
        }
        got.extend(rx.poll(t0 + ms(20 * i + 1000)));
        assert_eq!(rx.stats().digits_without_end, 0);
        got
    }

    #[test]
    fn sender_receiver_round_trip_all_digits() {
        for rate in [8000, 16000, 48000] {
            for (k, digit) in "0123456789*#ABCD".chars().enumerate() {
                let duration = 40 + 30 * k as u32;
                let got = round_trip(rate, digit, duration, 0xffff_ff00 + k as u32);
                assert_eq!(
                    got,
                    vec![DigitEvent {
                        digit,
                        duration_ms: duration,
                        source: DtmfSource::Rfc4733
                    }],
                    "{digit} at {rate}"
                );
            }
        }
    }

    #[test]
    fn long_event_is_segmented_and_reassembled() {
        // 10 s at 8 kHz = 80000 units: more than one 16-bit segment.
        let mut tx = Rfc4733Sender::new(8000);
        tx.start('D', 10_000, 10).unwrap();
        let packets: Vec<EventPacket> = std::iter::from_fn(|| tx.next()).collect();
        let offsets: Vec<u32> = packets.iter().map(|p| p.event_ts_offset).collect();
        assert_eq!(offsets[0], 0);
        let seg2 = *offsets.last().unwrap();
        assert!(seg2 > 60000 && seg2 <= 65535, "{seg2}");
        for p in &packets {
            let d = TelephoneEvent::parse(&p.payload).unwrap().duration;
            assert!(d > 0);
        }
        assert_eq!(packets.iter().filter(|p| p.marker).count(), 1);
        let got = round_trip(8000, 'D', 10_000, 123);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].digit, got[0].duration_ms), ('D', 10_000));
    }

    /// Minimal pcap reader: the UDP payloads of a capture (Ethernet or Linux
    /// cooked link layer, IPv4), with their capture time in microseconds.
    fn pcap_udp_payloads(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        assert!(data.len() >= 24, "short pcap");
        let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let (le, nanos) = match magic {
            0xa1b2_c3d4 => (true, false),
            0xd4c3_b2a1 => (false, false),
            0xa1b2_3c4d => (true, true),
            0x4d3c_b2a1 => (false, true),
            m => panic!("not a pcap file (magic {m:#x})"),
        };
        let u32_at = |b: &[u8], i: usize| {
            let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            if le {
                u32::from_le_bytes(w)
            } else {
                u32::from_be_bytes(w)
            }
        };
        let linktype = u32_at(data, 20);
        let mut out = Vec::new();
        let mut off = 24;
        while off + 16 <= data.len() {
            let secs = u64::from(u32_at(data, off));
            let frac = u64::from(u32_at(data, off + 4));
            let incl = u32_at(data, off + 8) as usize;
            let frame = &data[off + 16..(off + 16 + incl).min(data.len())];
            off += 16 + incl;
            let micros = secs * 1_000_000 + if nanos { frac / 1000 } else { frac };
            let (mut ethertype, mut l3) = match linktype {
                1 if frame.len() >= 14 => (u16::from_be_bytes([frame[12], frame[13]]), 14),
                113 if frame.len() >= 16 => (u16::from_be_bytes([frame[14], frame[15]]), 16),
                1 | 113 => continue,
                other => panic!("unsupported pcap link type {other}"),
            };
            if ethertype == 0x8100 && frame.len() >= l3 + 4 {
                ethertype = u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]);
                l3 += 4;
            }
            let ip = &frame[l3..];
            if ethertype != 0x0800 || ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
                continue;
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
            if total < ihl + 8 {
                continue;
            }
            out.push((micros, ip[ihl + 8..total].to_vec()));
        }
        out
    }

    #[test]
    fn sipp_capture_files() {
        let dir = std::path::Path::new("/usr/share/sip-tester");
        let files = [
            ("0", '0'),
            ("1", '1'),
            ("2", '2'),
            ("3", '3'),
            ("4", '4'),
            ("5", '5'),
            ("6", '6'),
            ("7", '7'),
            ("8", '8'),
            ("9", '9'),
            ("star", '*'),
            ("pound", '#'),
        ];
        let first = dir.join("dtmf_2833_0.pcap");
        if !first.exists() {
            eprintln!(
                "skipped: {} not found (install sip-tester)",
                first.display()
            );
            return;
        }
        for (name, digit) in files {
            let path = dir.join(format!("dtmf_2833_{name}.pcap"));
            let data = std::fs::read(&path).unwrap();
            let mut rx = Rfc4733Receiver::new(8000);
            let t0 = Instant::now();
            let mut got = Vec::new();
            let mut base = None;
            let mut last = t0;
            for (micros, rtp) in pcap_udp_payloads(&data) {
                if rtp.len() < 12 || rtp[0] >> 6 != 2 {
                    continue;
                }
                let pt = rtp[1] & 0x7f;
                assert_eq!(pt, 101, "{name}: telephone-event PT");
                let marker = rtp[1] & 0x80 != 0;
                let ts = u32::from_be_bytes([rtp[4], rtp[5], rtp[6], rtp[7]]);
                let header = 12 + 4 * usize::from(rtp[0] & 0x0f);
                let base = *base.get_or_insert(micros);
                last = t0 + Duration::from_micros(micros - base);
                got.extend(rx.on_packet(ts, marker, &rtp[header..], last));
                got.extend(rx.poll(last));
            }
            got.extend(rx.poll(last + ms(1000)));
            assert_eq!(got.len(), 1, "{name}: {got:?}");
            assert_eq!(got[0].digit, digit, "{name}");
            // These captures hold 280 ms events (2240 units at 8 kHz).
            assert_eq!(got[0].duration_ms, 280, "{name}");
            assert_eq!(rx.stats().duplicate_ends, 2, "{name}");
        }
    }
}
