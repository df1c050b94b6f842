//! RTP telephone-event payloads (RFC 4733) off the wire: the event parser
//! and a receiver fed a sequence of packets must never panic, and the
//! receiver's counters must add up.
//!
//! Input: the whole input is first parsed as one payload. Then it is read as
//! packet records, each a control byte
//! (bit 0: marker; bits 1-2: timestamp 0 = same as the previous packet,
//! 1 = previous + next byte * 8, 2 = previous - next byte * 8,
//! 3 = the next 4 bytes big-endian; bits 3-5: payload length 0-7;
//! bits 6-7: 3 = `reset()` before the packet), a byte of milliseconds to
//! advance the virtual clock by, the timestamp bytes if any and the payload.
#![no_main]
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use media::dtmf::rfc4733::{Rfc4733Receiver, Rfc4733Stats, TelephoneEvent};
use media::dtmf::{normalize_digit, DigitEvent, DtmfSource};

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn check_digit(d: &DigitEvent) {
    assert_eq!(normalize_digit(d.digit), Some(d.digit), "{d:?}");
    assert_eq!(d.source, DtmfSource::Rfc4733, "{d:?}");
}

/// Every counter only grows.
fn check_monotonic(old: &Rfc4733Stats, new: &Rfc4733Stats) {
    let pairs = [
        (old.packets, new.packets),
        (old.malformed, new.malformed),
        (old.extra_bytes, new.extra_bytes),
        (old.ignored_events, new.ignored_events),
        (old.late, new.late),
        (old.duplicate_ends, new.duplicate_ends),
        (old.conflicting, new.conflicting),
        (old.digits, new.digits),
        (old.digits_without_end, new.digits_without_end),
    ];
    for (a, b) in pairs {
        assert!(b >= a, "counter went down: {old:?} -> {new:?}");
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

fuzz_target!(|data: &[u8]| {
    // The parser alone.
    let ev = TelephoneEvent::parse(data);
    assert_eq!(ev.is_some(), data.len() >= 4);
    if let Some(ev) = ev {
        assert!(ev.volume <= 63);
        assert_eq!(TelephoneEvent::parse(&data[..4]), Some(ev));
        assert_eq!(TelephoneEvent::parse(&ev.to_bytes()), Some(ev));
    }

    // The receiver on a packet sequence.
    let mut rx = Rfc4733Receiver::new(8000);
    let mut now = base();
    let mut ts: u32 = 0;
    let mut input = Input(data);
    let mut stats = rx.stats();
    let (mut calls, mut short, mut long, mut got) = (0u64, 0u64, 0u64, 0u64);
    let mut check = |rx: &Rfc4733Receiver, digit: Option<DigitEvent>, got: &mut u64| {
        if let Some(d) = digit {
            check_digit(&d);
            *got += 1;
        }
        let new = rx.stats();
        check_monotonic(&stats, &new);
        assert!(new.digits_without_end <= new.digits, "{new:?}");
        // Digits handed out never exceed digits counted (reset may drop
        // queued ones, so not equality).
        assert!(*got <= new.digits, "{got} > {new:?}");
        stats = new;
    };
    while let Some(ctl) = input.byte() {
        let dt = input.byte().unwrap_or(0);
        now += Duration::from_millis(u64::from(dt));
        ts = match (ctl >> 1) & 3 {
            0 => ts,
            1 => ts.wrapping_add(u32::from(input.byte().unwrap_or(0)) * 8),
            2 => ts.wrapping_sub(u32::from(input.byte().unwrap_or(0)) * 8),
            _ => {
                let b = input.take(4);
                let mut w = [0u8; 4];
                w[..b.len()].copy_from_slice(b);
                u32::from_be_bytes(w)
            }
        };
        if ctl >> 6 == 3 {
            rx.reset();
        }
        let payload = input.take(usize::from((ctl >> 3) & 7));
        calls += 1;
        short += u64::from(payload.len() < 4);
        long += u64::from(payload.len() > 4);
        let d = rx.on_packet(ts, ctl & 1 != 0, payload, now);
        check(&rx, d, &mut got);
        let s = rx.stats();
        assert_eq!(s.packets, calls, "{s:?}");
        assert_eq!(s.malformed, short, "{s:?}");
        assert_eq!(s.extra_bytes, long, "{s:?}");
        let d = rx.poll(now);
        check(&rx, d, &mut got);
    }
    // Long after the last packet: every digit is out and the queue drains.
    now += Duration::from_secs(1);
    for _ in 0..4 {
        let d = rx.poll(now);
        check(&rx, d, &mut got);
    }
    assert_eq!(rx.poll(now), None);
});
