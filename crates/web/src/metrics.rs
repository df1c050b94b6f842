//! Counters of the web module, appended to the engine's `/metrics`: what
//! the HTTP listener refused or closed, and what sign-in refused. An
//! attack on the web admin shows here before anyone reads a log.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use engine::metrics::Exposition;

/// The web module's counters (all monotonic except `http_connections`).
#[derive(Debug, Default)]
pub struct WebMetrics {
    /// HTTP connections open now.
    pub http_connections: AtomicU64,
    /// Connections accepted since start.
    pub http_accepted: AtomicU64,
    /// Connections refused because `web.max_connections` were open.
    pub refused_total_limit: AtomicU64,
    /// Connections refused because the address had `web.max_connections_per_ip` open.
    pub refused_per_ip_limit: AtomicU64,
    /// `accept()` failures (e.g. out of file descriptors).
    pub accept_errors: AtomicU64,
    /// Connections closed because a request head did not arrive in time
    /// (slow or idle clients).
    pub header_timeouts: AtomicU64,
    /// Connections closed because nothing moved in either direction for
    /// `web.idle_timeout_secs`.
    pub idle_timeouts: AtomicU64,
    /// Failed sign-ins (wrong password, unknown or disabled user).
    pub login_failures: AtomicU64,
    /// Sign-ins refused by the throttle without checking the password.
    pub login_throttled: AtomicU64,
    /// Uploads refused as larger than `media.max_upload_bytes`.
    pub uploads_too_large: AtomicU64,
    /// CRM notifications (e-mail) sent.
    pub notifications_sent: AtomicU64,
    /// CRM notifications that could not be sent (the server refused, timed out).
    pub notifications_failed: AtomicU64,
    /// Recordings and voicemail asked for whose file is gone from disk (or
    /// unreadable, or outside its directory).
    pub recordings_missing: AtomicU64,
}

impl WebMetrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// The Prometheus text of these counters.
    pub fn render(&self) -> String {
        let mut e = Exposition::default();
        e.metric(
            "switchboard_web_connections",
            "gauge",
            "HTTP connections open.",
            self.http_connections.load(Relaxed),
        );
        e.metric(
            "switchboard_web_connections_accepted_total",
            "counter",
            "HTTP connections accepted.",
            self.http_accepted.load(Relaxed),
        );
        e.labelled(
            "switchboard_web_connections_refused_total",
            "counter",
            "HTTP connections closed at once because a connection limit was reached.",
            "limit",
            &[
                ("total", self.refused_total_limit.load(Relaxed)),
                ("per_ip", self.refused_per_ip_limit.load(Relaxed)),
            ],
        );
        e.metric(
            "switchboard_web_accept_errors_total",
            "counter",
            "HTTP accept() failures (for example no file descriptor left).",
            self.accept_errors.load(Relaxed),
        );
        e.labelled(
            "switchboard_web_connections_timed_out_total",
            "counter",
            "HTTP connections closed by a timeout: no complete request head in time, or no traffic.",
            "timeout",
            &[
                ("header", self.header_timeouts.load(Relaxed)),
                ("idle", self.idle_timeouts.load(Relaxed)),
            ],
        );
        e.metric(
            "switchboard_web_login_failures_total",
            "counter",
            "Failed web sign-ins.",
            self.login_failures.load(Relaxed),
        );
        e.metric(
            "switchboard_web_login_throttled_total",
            "counter",
            "Web sign-ins refused by the throttle (too many failures from that address).",
            self.login_throttled.load(Relaxed),
        );
        e.metric(
            "switchboard_web_uploads_too_large_total",
            "counter",
            "Media uploads refused as larger than media.max_upload_bytes.",
            self.uploads_too_large.load(Relaxed),
        );
        e.labelled(
            "switchboard_web_notifications_total",
            "counter",
            "CRM e-mail notifications (ticket assigned, replied, overdue; appointment due), by outcome.",
            "outcome",
            &[
                ("sent", self.notifications_sent.load(Relaxed)),
                ("failed", self.notifications_failed.load(Relaxed)),
            ],
        );
        e.metric(
            "switchboard_web_recordings_missing_total",
            "counter",
            "Call recordings and voicemail asked for whose file is no longer on disk (or not readable, or outside its directory).",
            self.recordings_missing.load(Relaxed),
        );
        e.finish()
    }
}
