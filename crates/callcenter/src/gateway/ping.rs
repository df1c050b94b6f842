//! OPTIONS pings of one gateway (REFERENCE §3): whether the carrier answers,
//! tracked UP/DOWN apart from registration, with mod_sofia's ping-max and
//! ping-min hysteresis (see [`PingConfig`]) and the last round-trip time.

use super::registration::{later, RegState};
use super::settings::PingConfig;
use serde::{Serialize, Serializer};
use std::fmt;
use std::time::{Duration, Instant};

/// How long a ping may stay unanswered and unreported before the pinger
/// counts it as lost: longer than a SIP non-INVITE transaction (Timer F,
/// 32 s), so the engine's own timeout report normally comes first. It only
/// keeps a ping whose end was never reported from stopping the pings.
pub const PING_GUARD: Duration = Duration::from_secs(40);

/// Identifies one OPTIONS ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PingId(pub u64);

/// Whether a gateway answers its pings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// No verdict yet (pings off, or not yet enough answers for ping-min).
    Unknown,
    /// The success counter is at or above ping-min.
    Up,
    /// The success counter fell below ping-min.
    Down,
}

impl Health {
    /// The name the status page, the API and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "UNKNOWN",
            Health::Up => "UP",
            Health::Down => "DOWN",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Health {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether pings go out in this registration state: only for a gateway that
/// does not register (NOREG) or is registered (REGED), as in mod_sofia.
pub fn may_ping(state: RegState) -> bool {
    matches!(state, RegState::NoReg | RegState::Reged)
}

/// Whether an answer to OPTIONS counts as the gateway being alive: any final
/// answer from 200 to 599 except 408 and 503 (REFERENCE §3, as mod_sofia:
/// a 6xx or an overloaded or timed-out peer is a failure).
pub fn ping_succeeded(code: u16) -> bool {
    (200..600).contains(&code) && code != 408 && code != 503
}

/// How one ping ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingEvent {
    /// The gateway answered (see [`ping_succeeded`]).
    pub ok: bool,
    /// The health changed to this.
    pub changed: Option<Health>,
    /// The ping failed while the gateway was REGED: the owner must call
    /// [`Registration::force_reregister`](super::Registration::force_reregister).
    pub reregister: bool,
}

/// What the pinger wants done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingAction {
    /// Send an OPTIONS; report how it ended with this id.
    Send(PingId),
    /// The ping in flight was never reported within [`PING_GUARD`]: it
    /// counted as failed, with this outcome.
    Lost {
        /// The lost ping.
        id: PingId,
        /// Its outcome, as if it had timed out.
        event: PingEvent,
    },
}

/// What the status page, the API and the metrics show of the pings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingStatus {
    /// UP, DOWN or no verdict yet.
    pub health: Health,
    /// The success counter (0 to ping-max).
    pub count: u32,
    /// The round-trip time of the last answered ping (none once DOWN).
    pub last_rtt: Option<Duration>,
    /// The code of the last answer, if the last ping was answered.
    pub last_code: Option<u16>,
    /// Why the last ping failed, if it did ("408", "timeout", ...).
    pub last_error: Option<String>,
    /// When the next ping is due (it waits while the state forbids pings).
    pub next_ping: Option<Instant>,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    id: PingId,
    sent_at: Instant,
    while_reged: bool,
}

/// The OPTIONS pinger of one gateway, sans-IO, driven like
/// [`Registration`](super::Registration) and told the registration state at
/// each poll.
#[derive(Clone, Debug)]
pub struct Pinger {
    cfg: PingConfig,
    health: Health,
    count: u32,
    next_id: u64,
    in_flight: Option<InFlight>,
    next_ping: Instant,
    last_rtt: Option<Duration>,
    last_code: Option<u16>,
    last_error: Option<String>,
}

impl Pinger {
    /// A pinger whose first ping goes out as soon as the registration state
    /// allows (FreeSWITCH waits one interval; a verdict early is worth more).
    pub fn new(cfg: PingConfig, now: Instant) -> Self {
        Pinger {
            cfg,
            health: Health::Unknown,
            count: 0,
            next_id: 1,
            in_flight: None,
            next_ping: now,
            last_rtt: None,
            last_code: None,
            last_error: None,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &PingConfig {
        &self.cfg
    }

    /// UP, DOWN or no verdict yet.
    pub fn health(&self) -> Health {
        self.health
    }

    /// What to do now, given the registration state, if anything.
    pub fn poll(&mut self, now: Instant, reg: RegState) -> Option<PingAction> {
        if !self.cfg.enabled() {
            return None;
        }
        if let Some(f) = self.in_flight {
            if now.saturating_duration_since(f.sent_at) >= PING_GUARD {
                let event = self.finish(now, false, None, "timeout".into());
                return Some(PingAction::Lost { id: f.id, event });
            }
            return None;
        }
        if !may_ping(reg) || now < self.next_ping {
            return None;
        }
        let id = PingId(self.next_id);
        self.next_id += 1;
        self.in_flight = Some(InFlight {
            id,
            sent_at: now,
            while_reged: reg == RegState::Reged,
        });
        Some(PingAction::Send(id))
    }

    /// When [`poll`](Self::poll) has something to do next in registration
    /// state `reg`, if ever (until an input or a state change).
    pub fn next_wakeup(&self, reg: RegState) -> Option<Instant> {
        if !self.cfg.enabled() {
            return None;
        }
        match self.in_flight {
            Some(f) => Some(later_by(f.sent_at, PING_GUARD)),
            None if may_ping(reg) => Some(self.next_ping),
            None => None,
        }
    }

    /// The answer to ping `id`. `None` when `id` is not the ping in flight
    /// or the answer is provisional.
    pub fn on_response(&mut self, now: Instant, id: PingId, code: u16) -> Option<PingEvent> {
        if !self.is_in_flight(id) || code < 200 {
            return None;
        }
        let ok = ping_succeeded(code);
        Some(self.finish(now, ok, Some(code), code.to_string()))
    }

    /// Ping `id` got no answer. `None` when it is not the ping in flight.
    pub fn on_timeout(&mut self, now: Instant, id: PingId) -> Option<PingEvent> {
        if !self.is_in_flight(id) {
            return None;
        }
        Some(self.finish(now, false, None, "timeout".into()))
    }

    /// Ping `id` could not be sent. `None` when it is not the ping in flight.
    pub fn on_transport_error(&mut self, now: Instant, id: PingId, why: &str) -> Option<PingEvent> {
        if !self.is_in_flight(id) {
            return None;
        }
        Some(self.finish(now, false, None, format!("transport error: {why}")))
    }

    /// New settings. Turning pings off forgets the verdict; turning them on
    /// (or shortening the interval) pings soon; a lower ping-max lowers the
    /// counter to it.
    pub fn reconfigure(&mut self, cfg: PingConfig, now: Instant) {
        if !cfg.enabled() {
            self.in_flight = None;
            self.health = Health::Unknown;
            self.count = 0;
            self.last_rtt = None;
        } else if !self.cfg.enabled() {
            self.next_ping = now;
        } else {
            self.next_ping = self.next_ping.min(later(now, cfg.interval_secs.into()));
        }
        self.count = self.count.min(cfg.max());
        self.cfg = cfg;
    }

    /// The verdict, the counter, the last round trip and the next ping.
    pub fn status(&self) -> PingStatus {
        PingStatus {
            health: self.health,
            count: self.count,
            last_rtt: self.last_rtt,
            last_code: self.last_code,
            last_error: self.last_error.clone(),
            next_ping: self.cfg.enabled().then_some(self.next_ping),
        }
    }

    fn is_in_flight(&self, id: PingId) -> bool {
        self.in_flight.is_some_and(|f| f.id == id)
    }

    fn finish(&mut self, now: Instant, ok: bool, code: Option<u16>, what: String) -> PingEvent {
        let flight = self.in_flight.take();
        self.next_ping = later(now, self.cfg.interval_secs.into());
        self.last_code = code;
        let mut changed = None;
        if ok {
            self.last_error = None;
            self.count = self.count.saturating_add(1).min(self.cfg.max());
            if let Some(f) = flight {
                self.last_rtt = Some(now.saturating_duration_since(f.sent_at));
            }
            if self.count >= self.cfg.min() && self.health != Health::Up {
                self.health = Health::Up;
                changed = Some(Health::Up);
            }
        } else {
            self.last_error = Some(what);
            self.count = self.count.saturating_sub(1);
            if self.count < self.cfg.min() && self.health != Health::Down {
                self.health = Health::Down;
                self.last_rtt = None;
                changed = Some(Health::Down);
            }
        }
        PingEvent {
            ok,
            changed,
            reregister: !ok && flight.is_some_and(|f| f.while_reged),
        }
    }
}

fn later_by(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or(at)
}
