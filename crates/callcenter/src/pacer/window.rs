//! The rolling window of a campaign's live answers and abandons, the
//! measure the abandon cap is set on.

use std::collections::VecDeque;

/// Counts per bucket of time: a 30-day window in one-minute buckets holds
/// at most 43,200 entries however many calls there are.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    start_ms: i64,
    live: u64,
    abandoned: u64,
}

/// Live answers and abandons of one campaign over a rolling window.
///
/// A *live answer* is a call a person answered, connected to an agent or
/// not; an *abandon* is a live answer no agent took within the connect
/// limit. The rate is abandons ÷ live answers, as the Telemarketing Sales
/// Rule defines it (the abandons count in the denominator too).
#[derive(Clone, Debug)]
pub struct AbandonWindow {
    window_ms: i64,
    bucket_ms: i64,
    buckets: VecDeque<Bucket>,
    live: u64,
    abandoned: u64,
}

impl AbandonWindow {
    /// An empty window `window_ms` long, counted in buckets of `bucket_ms`
    /// (both at least 1 ms; the bucket at most the window).
    pub fn new(window_ms: i64, bucket_ms: i64) -> AbandonWindow {
        let window_ms = window_ms.max(1);
        AbandonWindow {
            window_ms,
            bucket_ms: bucket_ms.clamp(1, window_ms),
            buckets: VecDeque::new(),
            live: 0,
            abandoned: 0,
        }
    }

    /// The window's length.
    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Counts a live answer at `now_ms` (`abandoned`: no agent took it).
    pub fn record(&mut self, now_ms: i64, abandoned: bool) {
        self.expire(now_ms);
        let start = now_ms - now_ms.rem_euclid(self.bucket_ms);
        match self.buckets.back_mut() {
            Some(b) if b.start_ms == start => {
                b.live += 1;
                b.abandoned += u64::from(abandoned);
            }
            _ => self.buckets.push_back(Bucket {
                start_ms: start,
                live: 1,
                abandoned: u64::from(abandoned),
            }),
        }
        self.live += 1;
        self.abandoned += u64::from(abandoned);
    }

    /// Drops the buckets that have left the window at `now_ms`. A bucket
    /// stays until all of it is older than the window: an abandon is
    /// counted a little longer rather than a little shorter.
    fn expire(&mut self, now_ms: i64) {
        while let Some(b) = self.buckets.front() {
            if b.start_ms + self.bucket_ms > now_ms - self.window_ms {
                break;
            }
            self.live -= b.live;
            self.abandoned -= b.abandoned;
            self.buckets.pop_front();
        }
    }

    /// Live answers and abandons in the window at `now_ms`.
    pub fn counts(&mut self, now_ms: i64) -> (u64, u64) {
        self.expire(now_ms);
        (self.live, self.abandoned)
    }

    /// Abandons over live answers in the window at `now_ms`; 0 with no
    /// live answer.
    pub fn rate(&mut self, now_ms: i64) -> f64 {
        let (live, abandoned) = self.counts(now_ms);
        if live == 0 {
            0.0
        } else {
            abandoned as f64 / live as f64
        }
    }

    /// How many more abandons the campaign may risk at `now_ms` and keep
    /// its rate at or under `cap_ppm` (parts per million: 3 % is 30,000)
    /// until `lookahead_ms` from now, with no more live answers than it
    /// has: the live answers that leave the window within the lookahead do
    /// not count (a bucket counts only if all of it is still in the window
    /// then), the abandons all do. Each new abandon is a live answer too:
    /// `k` more are allowed when `(abandoned + k) ≤ cap × (live + k)`, in
    /// integers so that "at or under" is exact.
    pub fn budget(&mut self, now_ms: i64, cap_ppm: u64, lookahead_ms: i64) -> u64 {
        self.expire(now_ms);
        if cap_ppm >= PPM {
            return u64::MAX;
        }
        let cutoff = now_ms + lookahead_ms.max(0) - self.window_ms;
        let leaving: u64 = self
            .buckets
            .iter()
            .take_while(|b| b.start_ms <= cutoff)
            .map(|b| b.live)
            .sum();
        let backing = u128::from(self.live - leaving);
        let room = (u128::from(cap_ppm) * backing)
            .saturating_sub(u128::from(PPM) * u128::from(self.abandoned));
        u64::try_from(room / u128::from(PPM - cap_ppm)).unwrap_or(u64::MAX)
    }
}

/// Parts per million: rates and caps are kept in them where "at or under
/// the cap" must be exact.
pub const PPM: u64 = 1_000_000;

/// Whether `abandoned` of `live` is at or under `cap_ppm`, exactly.
pub fn within_cap(abandoned: u64, live: u64, cap_ppm: u64) -> bool {
    u128::from(abandoned) * u128::from(PPM) <= u128::from(cap_ppm) * u128::from(live)
}
