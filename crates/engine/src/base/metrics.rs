//! Process counters, rendered in the Prometheus text format on `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a call ended, for `switchboard_calls_total{outcome=...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (whatever happened after).
    Answered,
    /// Callee busy (486/600).
    Busy,
    /// Rang until the no-answer timer.
    NoAnswer,
    /// Callee not registered or unreachable (480, 408 from the phone).
    Unavailable,
    /// No such number (404).
    NotFound,
    /// Caller hung up before answer.
    Cancelled,
    /// Refused by policy (403: ACL, auth) or by the callee (603).
    Rejected,
    /// Anything else (5xx, no ports, ...).
    Failed,
}

impl Outcome {
    /// All outcomes, in the order they are printed.
    pub const ALL: [Outcome; 8] = [
        Outcome::Answered,
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::Unavailable,
        Outcome::NotFound,
        Outcome::Cancelled,
        Outcome::Rejected,
        Outcome::Failed,
    ];

    /// Label value.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::Unavailable => "unavailable",
            Outcome::NotFound => "not_found",
            Outcome::Cancelled => "cancelled",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

/// Engine-level counters (transport and relay counters live with their owners).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Calls in progress.
    pub active_calls: AtomicI64,
    calls: [AtomicU64; 8],
    /// Digest verifications that failed (wrong password, bad nonce, wrong user).
    pub auth_failures: AtomicU64,
    /// Requests dropped because their source is banned.
    pub banned_drops: AtomicU64,
    /// Successful REGISTERs (including refreshes and removals).
    pub registers_ok: AtomicU64,
    /// Requests refused on the trunk port by the ACL.
    pub acl_rejects: AtomicU64,
    /// In-dialog requests (and CANCELs) refused: unknown dialog, wrong tags,
    /// wrong profile or a source the dialog was not set up with.
    pub dialog_rejects: AtomicU64,
    /// Correct credentials used a second time (replayed nonce or nonce count),
    /// or with a digest URI other than the Request-URI.
    pub auth_replays: AtomicU64,
    /// INVITEs refused because the caller is blacklisted.
    pub blacklist_rejects: AtomicU64,
    /// Requests over WebSocket (REGISTER, INVITE...) refused with 403
    /// because the extension does not have WebRTC enabled.
    pub webrtc_rejects: AtomicU64,
    /// Registrations dropped because the WebSocket connection they were
    /// made over closed.
    pub ws_bindings_dropped: AtomicU64,
    /// Complete CDRs written (the rows of calls in progress are not counted).
    pub cdrs_written: AtomicU64,
    /// CDR rows that could not be written (kept and retried).
    pub cdr_write_errors: AtomicU64,
    /// CDR rows waiting for the database (in memory and in the journal).
    pub cdr_backlog: AtomicU64,
    /// Of those, the rows in the journal file.
    pub cdr_journal_rows: AtomicU64,
    /// From a call's final record reaching the CDR writer to its row being
    /// committed (a database outage shows as the time it lasted).
    pub cdr_write_latency: Histogram<CdrWriteBuckets>,
    /// Calls hung up for lack of RTP.
    pub media_timeouts: AtomicU64,
    /// Calls ended because a browser's WebRTC leg failed (ICE, DTLS).
    pub webrtc_failures: AtomicU64,
    /// Calls refused with 488 because no codec could be given to both
    /// sides (the callee answered one the caller never offered and we
    /// cannot transcode, or the offer has no usable audio).
    pub codec_mismatches: AtomicU64,
    /// Calls refused with 488 because their RTP/SAVP offer had no
    /// `a=crypto` line we can honour.
    pub srtp_refused: AtomicU64,
    /// Call legs whose media is SRTP (keys agreed by SDES).
    pub srtp_legs: AtomicU64,
    /// REFERs refused (bad Refer-To, unknown or unreachable target, a
    /// Replaces naming no dialog): the call stays up.
    pub refer_rejects: AtomicU64,
    /// Transfers carried out by REFER, blind or attended.
    pub transfers: AtomicU64,
    /// Gateway registration or ping state changes (REGED to FAILED, UP to
    /// DOWN, ...).
    pub gateway_state_changes: AtomicU64,
}

impl Metrics {
    /// Count a finished call.
    pub fn call_ended(&self, o: Outcome) {
        self.calls[o as usize].fetch_add(1, Relaxed);
    }

    /// Calls ended with this outcome so far.
    pub fn calls(&self, o: Outcome) -> u64 {
        self.calls[o as usize].load(Relaxed)
    }
}

/// The bucket bounds of one histogram (upper bounds in seconds, ascending).
pub trait Buckets {
    /// The bounds; +Inf is implied after the last.
    const BOUNDS: &'static [f64];
}

/// The CDR write latency buckets: from a batch's few milliseconds to the
/// minutes of a database outage.
#[derive(Debug)]
pub struct CdrWriteBuckets;

impl Buckets for CdrWriteBuckets {
    const BOUNDS: &'static [f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
    ];
}

/// A latency histogram with the bucket bounds of `B`, updated from any task
/// without a lock.
#[derive(Debug)]
pub struct Histogram<B: Buckets> {
    /// Counts per bucket of `B::BOUNDS`; the last slot is +Inf.
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    _bounds: std::marker::PhantomData<B>,
}

impl<B: Buckets> Default for Histogram<B> {
    fn default() -> Self {
        Histogram {
            counts: (0..=B::BOUNDS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            _bounds: std::marker::PhantomData,
        }
    }
}

impl<B: Buckets> Histogram<B> {
    /// Counts one observation.
    pub fn observe(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let slot = B::BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(B::BOUNDS.len());
        self.counts[slot].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Writes it in the Prometheus text format.
    pub fn expose(&self, e: &mut Exposition, name: &str, help: &str) {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        e.histogram(name, help, B::BOUNDS, &counts, sum);
    }
}

/// Builder for the Prometheus text format.
#[derive(Default)]
pub struct Exposition(String);

impl Exposition {
    /// A counter or gauge without labels.
    pub fn metric(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        let _ = writeln!(
            self.0,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }

    /// A histogram: cumulative counts per upper bound (`le`), +Inf last,
    /// then the sum (in the unit of the bounds) and the count.
    pub fn histogram(&mut self, name: &str, help: &str, bounds: &[f64], counts: &[u64], sum: f64) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut total = 0u64;
        for (i, c) in counts.iter().enumerate() {
            total += c;
            let le = bounds.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(self.0, "{name}_bucket{{le=\"{le}\"}} {total}");
        }
        let _ = writeln!(self.0, "{name}_sum {sum}\n{name}_count {total}");
    }

    /// A family with one label.
    pub fn labelled(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        values: &[(&str, u64)],
    ) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (l, v) in values {
            let _ = writeln!(self.0, "{name}{{{label}=\"{l}\"}} {v}");
        }
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.0
    }
}
