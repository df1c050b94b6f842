//! Process counters, rendered in the Prometheus text format on `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

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
    /// Complete CDRs written (the rows of calls in progress are not counted).
    pub cdrs_written: AtomicU64,
    /// CDR rows that could not be written (kept and retried).
    pub cdr_write_errors: AtomicU64,
    /// CDR rows waiting for the database (in memory and in the journal).
    pub cdr_backlog: AtomicU64,
    /// Of those, the rows in the journal file.
    pub cdr_journal_rows: AtomicU64,
    /// Calls hung up for lack of RTP.
    pub media_timeouts: AtomicU64,
    /// Calls refused with 488 because no codec could be given to both
    /// sides (the callee answered one the caller never offered and we
    /// cannot transcode, or the offer has no usable audio).
    pub codec_mismatches: AtomicU64,
    /// REFERs refused (bad Refer-To, unknown or unreachable target, a
    /// Replaces naming no dialog): the call stays up.
    pub refer_rejects: AtomicU64,
    /// Transfers carried out by REFER, blind or attended.
    pub transfers: AtomicU64,
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
