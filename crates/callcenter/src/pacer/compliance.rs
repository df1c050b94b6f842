//! The rules a regulator checks on an outbound campaign, as pure checks
//! the dialer runs before every call (the Telemarketing Sales Rule's safe
//! harbour for abandoned calls, 16 CFR 310.4(b)(4), and the calling hours
//! of 310.4(c); Ofcom's persistent-misuse policy is stricter on redials).
//!
//! - a person who answers is connected to an agent within
//!   [`CONNECT_WITHIN_MS`] of their greeting, or hears a recorded message
//!   and the call counts as abandoned (the engine plays it; the pacer
//!   counts it);
//! - an unanswered call rings at least [`MIN_RING_MS`];
//! - a number whose call was abandoned is not dialed again within
//!   [`REDIAL_AFTER_ABANDON_MS`] unless an agent is reserved for it;
//! - calls are placed only within the calling hours of the callee's local
//!   time;
//! - numbers on the do-not-call list are never dialed.

use serde::{Deserialize, Serialize};

/// The longest a person who answered may wait for an agent (2 s).
pub const CONNECT_WITHIN_MS: i64 = 2_000;
/// The shortest an unanswered call may ring (15 s).
pub const MIN_RING_MS: i64 = 15_000;
/// No redial of an abandoned number within this time (72 h) unless an
/// agent is reserved for the call.
pub const REDIAL_AFTER_ABANDON_MS: i64 = 72 * 3_600_000;

const DAY_MS: i64 = 86_400_000;

/// The hours calls may be placed, in the callee's local time: from
/// `start_min` to `end_min` minutes after local midnight (8:00 to 21:00 by
/// default, the Telemarketing Sales Rule's hours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallingHours {
    /// First minute of the day calls may start.
    pub start_min: u32,
    /// The minute from which they may not (exclusive).
    pub end_min: u32,
}

impl Default for CallingHours {
    fn default() -> CallingHours {
        CallingHours {
            start_min: 8 * 60,
            end_min: 21 * 60,
        }
    }
}

impl CallingHours {
    /// Whether the hours are well formed (start before end, within a day).
    pub fn is_valid(&self) -> bool {
        self.start_min < self.end_min && self.end_min <= 24 * 60
    }

    /// The callee's local minute of the day at `now_ms` (unix ms) for a
    /// callee `utc_offset_min` minutes east of UTC.
    fn local_minute(now_ms: i64, utc_offset_min: i32) -> i64 {
        let local = now_ms + i64::from(utc_offset_min) * 60_000;
        local.rem_euclid(DAY_MS) / 60_000
    }

    /// Whether a call to a callee `utc_offset_min` east of UTC may start at
    /// `now_ms`.
    pub fn allows(&self, now_ms: i64, utc_offset_min: i32) -> bool {
        let m = Self::local_minute(now_ms, utc_offset_min);
        (i64::from(self.start_min)..i64::from(self.end_min)).contains(&m)
    }

    /// The first moment at or after `now_ms` when such a call may start.
    pub fn next_open(&self, now_ms: i64, utc_offset_min: i32) -> i64 {
        if self.allows(now_ms, utc_offset_min) {
            return now_ms;
        }
        let offset = i64::from(utc_offset_min) * 60_000;
        let local = now_ms + offset;
        let midnight = local - local.rem_euclid(DAY_MS);
        let mut open = midnight + i64::from(self.start_min) * 60_000;
        if open <= local {
            open += DAY_MS;
        }
        open - offset
    }
}

/// What the dialer knows of a number when it is about to dial it.
#[derive(Clone, Copy, Debug, Default)]
pub struct DialCheck {
    /// The number is on the do-not-call list (the store looked it up).
    pub do_not_call: bool,
    /// The callee's offset east of UTC, minutes.
    pub utc_offset_min: i32,
    /// When a call to the number was last abandoned, unix ms.
    pub last_abandoned_ms: Option<i64>,
    /// An agent is reserved for this call (preview dialing, or a callback
    /// an agent asked for): it cannot be abandoned.
    pub agent_reserved: bool,
}

/// Why a number may not be dialed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// On the do-not-call list: never.
    DoNotCall,
    /// Outside the callee's calling hours; may be dialed from `next_ms`.
    OutsideHours {
        /// When the hours open.
        next_ms: i64,
    },
    /// Its last call was abandoned less than 72 h ago; may be dialed with
    /// no agent reserved from `next_ms`.
    AbandonedRecently {
        /// When the 72 hours are over.
        next_ms: i64,
    },
}

impl Refusal {
    /// The reason as the records spell it.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::DoNotCall => "do_not_call",
            Refusal::OutsideHours { .. } => "outside_calling_hours",
            Refusal::AbandonedRecently { .. } => "abandoned_within_72h",
        }
    }
}

/// Whether the number of `check` may be dialed at `now_ms` within `hours`:
/// the first rule it breaks otherwise (the do-not-call list first: it is
/// never lifted).
pub fn may_dial(check: &DialCheck, hours: &CallingHours, now_ms: i64) -> Result<(), Refusal> {
    if check.do_not_call {
        return Err(Refusal::DoNotCall);
    }
    if !hours.allows(now_ms, check.utc_offset_min) {
        return Err(Refusal::OutsideHours {
            next_ms: hours.next_open(now_ms, check.utc_offset_min),
        });
    }
    if let Some(at) = check.last_abandoned_ms {
        let next = at.saturating_add(REDIAL_AFTER_ABANDON_MS);
        if now_ms < next && !check.agent_reserved {
            return Err(Refusal::AbandonedRecently { next_ms: next });
        }
    }
    Ok(())
}
