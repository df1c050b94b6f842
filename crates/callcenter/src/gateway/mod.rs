//! Gateways (trunks to carriers and IMS cores, FEATURES T10): their
//! definition and validation ([`config`], manual 3.2.6), and the
//! registration client and the OPTIONS pinger, sans-IO, with the semantics
//! of FreeSWITCH mod_sofia's gateways (REFERENCE §3) and RFC 3261 §10.
//!
//! This module decides *what to send and when*; the engine owns the sockets,
//! builds the SIP messages (Call-ID, CSeq, Contact), computes the digest
//! answers and reports what came back. Time is an argument: each
//! [`Registration`], [`Pinger`] or [`GatewayClient`] says when it next wants to be
//! polled ([`GatewayClient::next_wakeup`]), so one task with one timer per gateway
//! drives hundreds of them. Every request carries an id, and an answer to a
//! request that is no longer the one in flight is ignored.
//!
//! Registration states (REFERENCE §3): NOREG when register=false; UNREGED →
//! TRYING (REGISTER sent, challenges answered) → REGISTER (2xx) → REGED,
//! which re-registers 15 s before the granted expiry (the server's Expires
//! wins; half-way for bindings of 30 s or less); a failure → FAILED →
//! FAIL_WAIT → UNREGED again after retry-seconds (503, timeout, transport
//! error, or a first failure), retry-seconds × failures for later ones
//! (capped, an hour by default), or a 503's Retry-After. A second 401/407
//! to freshly answered credentials (not stale) is FAILED with "401 after
//! auth"; a 423 is re-sent at once with Min-Expires. UNREGISTER sends
//! Expires 0 and ends DOWN whatever the answer.
//!
//! Where we differ from mod_sofia on purpose:
//! - a 503's Retry-After is honoured, and the back-off is capped;
//! - a ping failure while REGED re-registers at once (FreeSWITCH marks the
//!   gateway FAILED and waits retry-seconds);
//! - the first ping goes out at once rather than after one interval, and the
//!   ping verdict starts as UNKNOWN rather than DOWN.

mod combined;
pub mod config;
mod ping;
mod registration;
mod settings;

#[cfg(test)]
mod tests;

pub use combined::{GatewayAction, GatewayClient, GatewayStatus};
pub use ping::{
    may_ping, ping_succeeded, Health, PingAction, PingEvent, PingId, PingStatus, Pinger, PING_GUARD,
};
pub use registration::{
    refresh_delay, Challenge, ChallengeToAnswer, LastResponse, RegAction, RegResponse, RegState,
    RegStatus, Registration, RequestId, MAX_REQUESTS, TIMEOUT_CODE,
};
pub use settings::{
    ConfigError, GatewayConfig, PingConfig, RegConfig, DEFAULT_EXPIRE_SECS, DEFAULT_MAX_RETRY_SECS,
    DEFAULT_RETRY_SECS, DEFAULT_TIMEOUT_SECS, MIN_PING_SECS,
};
