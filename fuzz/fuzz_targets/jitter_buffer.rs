//! The adaptive jitter buffer and the loss concealer driven by arbitrary
//! packet arrivals and play-out ticks on a virtual clock: never panic, keep
//! memory bounded, counters only grow, and the target depth stays within
//! its documented 20..=200 ms.
//!
//! Input: a sequence of operations, an op byte (taken modulo 6) then its
//! fields; missing bytes read as 0.
//! - 0 push: seq (2 bytes BE), timestamp (4 bytes BE), ssrc (1 byte),
//!   payload length (1 byte, modulo 64) and that many payload bytes;
//! - 1 push near the previous packet: seq delta (1 byte, signed), payload
//!   length (1 byte, modulo 64); timestamp moves with the seq (160 per
//!   frame), same ssrc;
//! - 2 pop: advance the clock 20 ms, pop;
//! - 3 wait: advance the clock by (1 byte) * 4 ms;
//! - 4 steady stream: (1 byte) frames of push next seq, advance 20 ms, pop;
//! - 5 burst: (1 byte) packets of the next seqs pushed 1 ms apart, no pops.
//!
//! Every popped frame is handed to a `Concealer` (bytes as 16-bit samples)
//! and every lost frame is concealed.
#![no_main]
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use media::jitter::{Concealer, JitterBuffer, JitterStats, Playout};

/// Counts live heap bytes so the target can check the buffer's footprint.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const FRAME_TS: u32 = 160;
/// Longest payload the input can ask for.
const MAX_PAYLOAD: usize = 63;
static ZEROS: [u8; MAX_PAYLOAD] = [0; MAX_PAYLOAD];
/// Samples per concealed frame.
const FRAME_SAMPLES: usize = 160;
/// Heap the buffer plus concealer may hold: the buffer keeps at most 64
/// packets (its CAPACITY) plus one on probation, each a map entry and a
/// payload; the concealer one frame. Generous for map nodes, far below what
/// an unbounded buffer reaches after a few bursts of 255 packets.
const MAX_LIVE: isize = 16 * 1024 + 66 * (MAX_PAYLOAD as isize + 128);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte();
        }
        out
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

struct Harness {
    jb: JitterBuffer,
    pcm: Concealer,
    now: Instant,
    seq: u16,
    ts: u32,
    ssrc: u32,
    pushes: u64,
    stats: JitterStats,
    /// Consecutive concealed frames, as the concealer should count them.
    losses: u32,
    baseline: isize,
}

impl Harness {
    fn push(&mut self, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) {
        self.jb.push(seq, ts, ssrc, payload, self.now);
        self.pushes += 1;
        (self.seq, self.ts, self.ssrc) = (seq, ts, ssrc);
        self.check();
    }

    fn push_next(&mut self, len: usize) {
        let (seq, ts) = (self.seq.wrapping_add(1), self.ts.wrapping_add(FRAME_TS));
        self.push(seq, ts, self.ssrc, &ZEROS[..len]);
    }

    fn pop(&mut self) {
        self.now += Duration::from_millis(20);
        match self.jb.pop(self.now) {
            Playout::Frame(payload) => {
                let mut frame = [0i16; MAX_PAYLOAD];
                let n = payload.len().min(MAX_PAYLOAD);
                for (s, &b) in frame.iter_mut().zip(&payload[..n]) {
                    *s = i16::from(b as i8) << 8;
                }
                drop(payload);
                self.pcm.remember(&frame[..n]);
                self.losses = 0;
                assert_eq!(self.pcm.losses(), 0);
            }
            Playout::Lost => {
                let mut out = [1i16; FRAME_SAMPLES];
                self.pcm.conceal(&mut out);
                self.losses = self.losses.saturating_add(1);
                assert_eq!(self.pcm.losses(), self.losses);
                // "the fifth loss in a row is silent"
                if self.losses >= 5 {
                    assert!(out.iter().all(|&s| s == 0), "loss {} not silent", self.losses);
                }
            }
            Playout::Empty => {}
        }
        self.check();
    }

    fn check(&mut self) {
        let new = self.jb.stats();
        let old = self.stats;
        assert_eq!(new.received, self.pushes, "{new:?}");
        let pairs = [
            (old.received, new.received),
            (old.late, new.late),
            (old.duplicate, new.duplicate),
            (old.lost, new.lost),
            (old.overflow, new.overflow),
            (old.shrunk, new.shrunk),
            (old.resyncs, new.resyncs),
        ];
        for (a, b) in pairs {
            assert!(b >= a, "counter went down: {old:?} -> {new:?}");
        }
        self.stats = new;
        let target = self.jb.target_depth_ms();
        assert!((20..=200).contains(&target), "target depth {target} ms");
        let j = self.jb.jitter_ms();
        assert!(j.is_finite() && j >= 0.0, "jitter {j}");
        let _ = (self.jb.buffered_ms(), self.jb.is_playing());
        let live = LIVE.load(Ordering::Relaxed) - self.baseline;
        assert!(live <= MAX_LIVE, "buffer holds {live} heap bytes (> {MAX_LIVE})");
    }
}

fuzz_target!(|data: &[u8]| {
    let jb = JitterBuffer::new(FRAME_TS);
    let pcm = Concealer::new();
    let mut h = Harness {
        jb,
        pcm,
        now: base(),
        seq: 0,
        ts: 0,
        ssrc: 0,
        pushes: 0,
        stats: JitterStats::default(),
        losses: 0,
        baseline: LIVE.load(Ordering::Relaxed),
    };
    let mut input = Input(data);
    while !input.0.is_empty() {
        match input.byte() % 6 {
            0 => {
                let seq = u16::from_be_bytes(input.bytes());
                let ts = u32::from_be_bytes(input.bytes());
                let ssrc = u32::from(input.byte());
                let len = usize::from(input.byte()) % (MAX_PAYLOAD + 1);
                let payload = input.take(len);
                h.push(seq, ts, ssrc, payload);
            }
            1 => {
                let delta = input.byte() as i8;
                let len = usize::from(input.byte()) % (MAX_PAYLOAD + 1);
                let seq = h.seq.wrapping_add_signed(i16::from(delta));
                let ts = h.ts.wrapping_add_signed(i32::from(delta) * FRAME_TS as i32);
                h.push(seq, ts, h.ssrc, &ZEROS[..len]);
            }
            2 => h.pop(),
            3 => h.now += Duration::from_millis(4 * u64::from(input.byte())),
            4 => {
                for _ in 0..input.byte() {
                    h.push_next(16);
                    h.pop();
                }
            }
            _ => {
                for _ in 0..input.byte() {
                    h.now += Duration::from_millis(1);
                    h.push_next(MAX_PAYLOAD);
                }
            }
        }
    }
    // Drain: once nothing more arrives the buffer must play out or give up
    // what it holds and stop. At most 64 packets, each at most 64 frames
    // after the previous one (a larger gap is skipped at once) and at most
    // 20 frames of timestamp ahead (a silence gap, waited out): well under
    // MAX_DRAIN ticks.
    const MAX_DRAIN: usize = 10_000;
    let mut ticks = 0;
    while h.jb.is_playing() || h.jb.buffered_ms() > 0 {
        assert!(ticks < MAX_DRAIN, "not drained after {MAX_DRAIN} ticks");
        h.pop();
        ticks += 1;
    }
    drop(h);
});
