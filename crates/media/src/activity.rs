//! The media inactivity clock of one call, shared between the task that
//! reads the call's sockets and the call actor that hangs up silent calls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// When media last flowed, and whether the call is on hold (a held phone may
/// legitimately send nothing for a long time, so the clock does not run).
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last accepted RTP packet, or of the
    /// last hold change / start, so the idle clock restarts from there.
    last_ms: AtomicU64,
    on_hold: AtomicBool,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            on_hold: AtomicBool::new(false),
        }
    }

    /// `now` as milliseconds since this clock started.
    pub(crate) fn now_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Records media at `now_ms` (from [`Activity::now_ms`]).
    pub(crate) fn touch(&self, now_ms: u64) {
        self.last_ms.fetch_max(now_ms, Relaxed);
    }

    /// Marks the call held or resumed; either way the clock restarts.
    pub(crate) fn set_hold(&self, on_hold: bool) {
        self.on_hold.store(on_hold, Relaxed);
        self.touch(self.now_ms(Instant::now()));
    }

    /// Time since the last media (or start, or hold change); `None` on hold.
    pub(crate) fn idle_for(&self, now: Instant) -> Option<Duration> {
        if self.on_hold.load(Relaxed) {
            return None;
        }
        let last = self.last_ms.load(Relaxed);
        Some(Duration::from_millis(self.now_ms(now).saturating_sub(last)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_clock_runs_and_stops_on_hold() {
        let a = Activity::new();
        let later = a.epoch + Duration::from_millis(1500);
        assert_eq!(a.idle_for(later), Some(Duration::from_millis(1500)));
        a.touch(1000);
        assert_eq!(a.idle_for(later), Some(Duration::from_millis(500)));
        a.set_hold(true);
        assert_eq!(a.idle_for(later), None);
    }
}
