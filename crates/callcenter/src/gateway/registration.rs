//! The registration client of one gateway: REFERENCE §3's states (NOREG,
//! UNREGED, TRYING, REGISTER, REGED, FAILED, FAIL_WAIT, UNREGISTER, DOWN) and
//! RFC 3261 §10's client rules, deciding what to send and when. The engine
//! builds and sends the REGISTERs, computes the digest answers and reports
//! what came back.

use super::settings::RegConfig;
use crate::acd::UnknownName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The code FreeSWITCH shows for a registration that got no answer in time.
pub const TIMEOUT_CODE: u16 = 908;

/// The most requests one exchange may take (challenges, stale nonces and
/// 423s each cost one): a server that challenges forever fails instead of
/// being answered forever.
pub const MAX_REQUESTS: u32 = 6;

/// Identifies one request the engine sends for a [`Registration`]. Every
/// request gets a new one, increasing, so that an answer to an earlier
/// request (a retransmission, a late 200 after a timeout, a 401 to a request
/// already re-sent) is recognised and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request {}", self.0)
    }
}

/// Where a gateway's registration stands (mod_sofia's reg_state_t).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegState {
    /// register=false: never registers.
    NoReg,
    /// About to send a REGISTER (created, changed, refresh due, retry due).
    Unreged,
    /// A REGISTER is out (or its challenge is being answered).
    Trying,
    /// A 2xx just came back; becomes REGED at the next poll.
    Register,
    /// Registered; re-registers before the binding expires.
    Reged,
    /// The last attempt failed; becomes FAIL_WAIT at the next poll.
    Failed,
    /// Waiting out the back-off before the next attempt.
    FailWait,
    /// Removing the binding (REGISTER with Expires 0).
    Unregister,
    /// Removed or disabled: sends nothing any more.
    Down,
}

impl RegState {
    /// Every state, in REFERENCE §3's order.
    pub const ALL: &'static [RegState] = &[
        RegState::NoReg,
        RegState::Unreged,
        RegState::Trying,
        RegState::Register,
        RegState::Reged,
        RegState::Failed,
        RegState::FailWait,
        RegState::Unregister,
        RegState::Down,
    ];

    /// The FreeSWITCH name, as the status page and the API show it.
    pub fn as_str(self) -> &'static str {
        match self {
            RegState::NoReg => "NOREG",
            RegState::Unreged => "UNREGED",
            RegState::Trying => "TRYING",
            RegState::Register => "REGISTER",
            RegState::Reged => "REGED",
            RegState::Failed => "FAILED",
            RegState::FailWait => "FAIL_WAIT",
            RegState::Unregister => "UNREGISTER",
            RegState::Down => "DOWN",
        }
    }
}

impl fmt::Display for RegState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RegState {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        RegState::ALL
            .iter()
            .copied()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName {
                what: "registration state",
                value: s.to_string(),
                expected: RegState::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl Serialize for RegState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A challenge the engine must answer in the next request: it computes the
/// digest (MD5 or SHA-256, qop) from this header and the gateway's
/// credentials and sends it as Authorization (`proxy` false) or
/// Proxy-Authorization (`proxy` true).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeToAnswer {
    /// true for a 407's Proxy-Authenticate, false for a 401's WWW-Authenticate.
    pub proxy: bool,
    /// The raw WWW-Authenticate or Proxy-Authenticate value.
    pub header: String,
}

/// The challenge in a 401 or 407, as the engine parsed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// true for Proxy-Authenticate (normally in a 407), false for
    /// WWW-Authenticate (in a 401); the answer goes in the matching header.
    pub proxy: bool,
    /// The raw header value, handed back in [`ChallengeToAnswer`].
    pub header: String,
    /// The challenge says stale=true: the credentials were right, only the
    /// nonce had expired.
    pub stale: bool,
}

/// A final (or provisional) answer to a request, as far as registration
/// cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegResponse {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
    /// For a 2xx: the expires the server granted our Contact (its expires
    /// parameter, else the Expires header), if it said.
    pub expires: Option<u32>,
    /// For a 423: the Min-Expires header.
    pub min_expires: Option<u32>,
    /// For a 503: the Retry-After header, in seconds.
    pub retry_after: Option<u32>,
    /// For a 401 or 407: the challenge.
    pub challenge: Option<Challenge>,
}

impl RegResponse {
    /// A response with only a code and reason.
    pub fn new(code: u16, reason: &str) -> Self {
        RegResponse {
            code,
            reason: reason.to_string(),
            expires: None,
            min_expires: None,
            retry_after: None,
            challenge: None,
        }
    }

    /// A 200 OK granting `expires` seconds.
    pub fn ok(expires: Option<u32>) -> Self {
        RegResponse {
            expires,
            ..RegResponse::new(200, "OK")
        }
    }

    /// A 401 (`proxy` false) or 407 (`proxy` true) with this challenge.
    pub fn challenge(proxy: bool, header: &str, stale: bool) -> Self {
        let (code, reason) = if proxy {
            (407, "Proxy Authentication Required")
        } else {
            (401, "Unauthorized")
        };
        RegResponse {
            challenge: Some(Challenge {
                proxy,
                header: header.to_string(),
                stale,
            }),
            ..RegResponse::new(code, reason)
        }
    }
}

/// What the engine must send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegAction {
    /// A REGISTER asking for `expires` seconds, with an Authorization or
    /// Proxy-Authorization for each challenge in `answers` (at most one of
    /// each: a proxy's 407 and then the registrar's 401 are both answered).
    Register {
        /// Report the outcome with this id.
        id: RequestId,
        /// The Expires to ask for.
        expires: u32,
        /// The challenges to answer.
        answers: Vec<ChallengeToAnswer>,
    },
    /// A REGISTER with Expires 0 removing our binding.
    Unregister {
        /// Report the outcome with this id.
        id: RequestId,
        /// The challenges to answer.
        answers: Vec<ChallengeToAnswer>,
    },
}

impl RegAction {
    /// The id to report the outcome with.
    pub fn id(&self) -> RequestId {
        match self {
            RegAction::Register { id, .. } | RegAction::Unregister { id, .. } => *id,
        }
    }

    /// The challenges to answer.
    pub fn answers(&self) -> &[ChallengeToAnswer] {
        match self {
            RegAction::Register { answers, .. } | RegAction::Unregister { answers, .. } => answers,
        }
    }
}

/// The last final answer from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastResponse {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
}

/// What the status page, the API and the metrics show of a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegStatus {
    /// The state.
    pub state: RegState,
    /// The last final answer from the server, if any came.
    pub last_response: Option<LastResponse>,
    /// Why the last attempt failed ("401 after auth", "timeout",
    /// "403 Forbidden", ...); cleared by a successful registration.
    pub failure: Option<String>,
    /// The code behind `failure` (908 for a timeout, none for a transport
    /// error).
    pub failure_code: Option<u16>,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// When the next REGISTER goes out (refresh or retry), if one is planned.
    pub next_attempt: Option<Instant>,
    /// Until when the server holds our binding, as far as we know.
    pub registered_until: Option<Instant>,
    /// The expires the server granted last.
    pub granted_expires: Option<u32>,
    /// The expires the next REGISTER asks for (expire-seconds, or a
    /// server's Min-Expires above it).
    pub requested_expires: u32,
}

/// What the current exchange is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// Where the current exchange is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// A request is due (since then).
    Send(Instant),
    /// This request is out.
    Await(RequestId),
}

/// One REGISTER exchange: the first request and the ones answering its
/// challenges or 423s.
#[derive(Clone, Debug)]
struct Exchange {
    purpose: Purpose,
    expires: u32,
    answers: Vec<ChallengeToAnswer>,
    /// The kind (proxy or not) of the answer built from the challenge to the
    /// previous request: a second challenge of that kind, not stale, means
    /// the credentials were refused. Answers carried over from earlier
    /// requests do not count (their nonce may simply have run out).
    fresh: Option<bool>,
    step: Step,
    requests: u32,
    deadline: Instant,
}

/// How long to wait after a failure.
#[derive(Clone, Copy, Debug)]
enum Backoff {
    /// retry-seconds (503, timeout, transport error).
    Flat,
    /// retry-seconds times the failures so far.
    Grow,
    /// What the server's Retry-After said.
    After(u32),
}

/// The registration client of one gateway, sans-IO.
///
/// Drive it with [`poll`](Self::poll) whenever [`next_wakeup`](Self::next_wakeup)
/// is reached and after every input, until it returns `None`; report what
/// happened to each [`RegAction`] with [`on_response`](Self::on_response),
/// [`on_timeout`](Self::on_timeout) or [`on_transport_error`](Self::on_transport_error).
/// It holds no timer of its own, so one task can drive any number of them.
#[derive(Clone, Debug)]
pub struct Registration {
    cfg: RegConfig,
    state: RegState,
    since: Instant,
    next_id: u64,
    exchange: Option<Exchange>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    registered_until: Option<Instant>,
    granted: Option<u32>,
    min_expires: Option<u32>,
    failures: u32,
    failure: Option<(Option<u16>, String)>,
    last_response: Option<LastResponse>,
    after_unregister: RegState,
}

/// `now + secs`, never panicking (a server may grant four billion seconds).
pub(super) fn later(now: Instant, secs: u64) -> Instant {
    now.checked_add(Duration::from_secs(secs))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// When to refresh a binding granted for `granted` seconds: 15 s before it
/// runs out, or half-way for a binding of 30 s or less (where 15 s early
/// would be most of it), and never sooner than 1 s.
pub fn refresh_delay(granted: u32) -> u32 {
    if granted > 30 {
        granted - 15
    } else {
        (granted / 2).max(1)
    }
}

impl Registration {
    /// A gateway's registration as configured: UNREGED (registers at the
    /// first poll) or NOREG.
    pub fn new(cfg: RegConfig, now: Instant) -> Self {
        let state = if cfg.register {
            RegState::Unreged
        } else {
            RegState::NoReg
        };
        Registration {
            cfg,
            state,
            since: now,
            next_id: 1,
            exchange: None,
            refresh_at: None,
            retry_at: None,
            registered_until: None,
            granted: None,
            min_expires: None,
            failures: 0,
            failure: None,
            last_response: None,
            after_unregister: RegState::Down,
        }
    }

    /// The state.
    pub fn state(&self) -> RegState {
        self.state
    }

    /// The settings in force.
    pub fn config(&self) -> &RegConfig {
        &self.cfg
    }

    /// Whether the server holds our binding at `now`, as far as we know (a
    /// refresh in progress or failing does not end it before it expires).
    pub fn is_registered(&self, now: Instant) -> bool {
        self.registered_until.is_some_and(|until| now < until)
    }

    /// What to send now, if anything. Call it when [`next_wakeup`](Self::next_wakeup)
    /// is reached and after any input; call again until it returns `None`.
    pub fn poll(&mut self, now: Instant) -> Option<RegAction> {
        loop {
            match self.state {
                RegState::NoReg | RegState::Down => return None,
                RegState::Unreged => {
                    self.start(now, Purpose::Register);
                    self.enter(RegState::Trying, now);
                }
                RegState::Trying | RegState::Unregister => {
                    let Some(ex) = self.exchange.as_ref() else {
                        // Cannot happen (both states keep an exchange);
                        // recover by starting over rather than stalling.
                        self.lost_exchange(now);
                        continue;
                    };
                    if now >= ex.deadline {
                        self.exchange_failed(now, Some(TIMEOUT_CODE), "timeout".into());
                        continue;
                    }
                    return match ex.step {
                        Step::Send(_) => self.send(),
                        Step::Await(_) => None,
                    };
                }
                RegState::Register => self.enter(RegState::Reged, now),
                RegState::Reged => match self.refresh_at {
                    Some(at) if now < at => return None,
                    _ => self.enter(RegState::Unreged, now),
                },
                RegState::Failed => self.enter(RegState::FailWait, now),
                RegState::FailWait => match self.retry_at {
                    Some(at) if now < at => return None,
                    _ => {
                        self.retry_at = None;
                        self.enter(RegState::Unreged, now);
                    }
                },
            }
        }
    }

    /// When [`poll`](Self::poll) has something to do next, if ever (until
    /// an input arrives). Instants in the past mean "now".
    pub fn next_wakeup(&self) -> Option<Instant> {
        match self.state {
            RegState::NoReg | RegState::Down => None,
            RegState::Unreged | RegState::Register | RegState::Failed => Some(self.since),
            RegState::Trying | RegState::Unregister => match self.exchange.as_ref() {
                Some(ex) => match ex.step {
                    Step::Send(at) => Some(at.min(ex.deadline)),
                    Step::Await(_) => Some(ex.deadline),
                },
                None => Some(self.since),
            },
            RegState::Reged => Some(self.refresh_at.unwrap_or(self.since)),
            RegState::FailWait => Some(self.retry_at.unwrap_or(self.since)),
        }
    }

    /// A response to request `id`. Returns false (and changes nothing) when
    /// `id` is not the request in flight: an answer to an earlier attempt.
    pub fn on_response(&mut self, now: Instant, id: RequestId, r: &RegResponse) -> bool {
        if !self.awaiting(id) {
            return false;
        }
        if r.code < 200 {
            return true;
        }
        self.last_response = Some(LastResponse {
            code: r.code,
            reason: r.reason.clone(),
        });
        let purpose = self.exchange.as_ref().map(|ex| ex.purpose);
        match (purpose, r.code) {
            (_, 401 | 407) => self.challenged(now, r),
            (Some(Purpose::Unregister), _) => self.finish_unregister(now),
            (_, 200..=299) => self.registered(now, r.expires),
            (_, 423) => self.interval_too_brief(now, r),
            (_, 503) => {
                let backoff = r.retry_after.map_or(Backoff::Flat, Backoff::After);
                self.fail(now, Some(r.code), describe(r), backoff);
            }
            _ => self.fail(now, Some(r.code), describe(r), Backoff::Grow),
        }
        true
    }

    /// Request `id` got no final answer (the transaction timed out).
    /// Returns false when `id` is not the request in flight.
    pub fn on_timeout(&mut self, now: Instant, id: RequestId) -> bool {
        if !self.awaiting(id) {
            return false;
        }
        self.exchange_failed(now, Some(TIMEOUT_CODE), "timeout".into());
        true
    }

    /// Request `id` could not be sent or its connection broke. Returns false
    /// when `id` is not the request in flight.
    pub fn on_transport_error(&mut self, now: Instant, id: RequestId, why: &str) -> bool {
        if !self.awaiting(id) {
            return false;
        }
        self.exchange_failed(now, None, format!("transport error: {why}"));
        true
    }

    /// The gateway's settings changed. Registering: a fresh REGISTER goes
    /// out at the next poll (the failure count and back-off start over, a
    /// request in flight is forgotten). Not registering any more: the
    /// binding, if there may be one, is removed first, then NOREG.
    ///
    /// The engine sends the new REGISTER with the gateway's new identity. If
    /// the registrar or the address of record changed, the old binding is
    /// not replaced by it: then `unregister` this one and make a new
    /// [`Registration`] instead (as FreeSWITCH does, deleting and re-adding).
    pub fn reconfigure(&mut self, cfg: RegConfig, now: Instant) {
        let live = self.binding_may_exist(now);
        self.cfg = cfg;
        self.min_expires = None;
        self.failures = 0;
        self.failure = None;
        self.retry_at = None;
        if self.cfg.register {
            self.exchange = None;
            self.refresh_at = None;
            self.after_unregister = RegState::Down;
            self.enter(RegState::Unreged, now);
        } else if self.state == RegState::Unregister {
            self.after_unregister = RegState::NoReg;
        } else if live {
            self.begin_unregister(now, RegState::NoReg);
        } else {
            self.forget_binding();
            self.exchange = None;
            self.enter(RegState::NoReg, now);
        }
    }

    /// The gateway was removed or disabled: remove the binding (REGISTER
    /// with Expires 0, challenges answered) and go DOWN whatever the answer;
    /// when there is no binding to remove, go DOWN at once without sending.
    pub fn unregister(&mut self, now: Instant) {
        match self.state {
            RegState::Down => {}
            RegState::Unregister => self.after_unregister = RegState::Down,
            _ if self.binding_may_exist(now) => self.begin_unregister(now, RegState::Down),
            _ => {
                self.exchange = None;
                self.refresh_at = None;
                self.retry_at = None;
                self.forget_binding();
                self.enter(RegState::Down, now);
            }
        }
    }

    /// Registers again now, whatever the refresh or back-off timer says
    /// (e.g. an OPTIONS ping failed while REGED, or an operator asked).
    /// Nothing happens while a REGISTER is already under way, when the
    /// gateway does not register, or once it is being removed.
    pub fn force_reregister(&mut self, now: Instant) {
        match self.state {
            RegState::Register | RegState::Reged | RegState::Failed | RegState::FailWait => {
                self.exchange = None;
                self.refresh_at = None;
                self.retry_at = None;
                self.enter(RegState::Unreged, now);
            }
            RegState::NoReg
            | RegState::Unreged
            | RegState::Trying
            | RegState::Unregister
            | RegState::Down => {}
        }
    }

    /// The state, the last answer, why it failed and what comes next.
    pub fn status(&self) -> RegStatus {
        let next_attempt = match self.state {
            RegState::Unreged => Some(self.since),
            RegState::Reged => self.refresh_at,
            RegState::Failed | RegState::FailWait => self.retry_at,
            _ => None,
        };
        RegStatus {
            state: self.state,
            last_response: self.last_response.clone(),
            failure: self.failure.as_ref().map(|(_, text)| text.clone()),
            failure_code: self.failure.as_ref().and_then(|(code, _)| *code),
            failures: self.failures,
            next_attempt,
            registered_until: self.registered_until,
            granted_expires: self.granted,
            requested_expires: self.requested_expires(),
        }
    }

    fn requested_expires(&self) -> u32 {
        self.cfg.expire().max(self.min_expires.unwrap_or(0))
    }

    fn enter(&mut self, state: RegState, now: Instant) {
        self.state = state;
        self.since = now;
    }

    fn awaiting(&self, id: RequestId) -> bool {
        self.exchange
            .as_ref()
            .is_some_and(|ex| ex.step == Step::Await(id))
    }

    fn binding_may_exist(&self, now: Instant) -> bool {
        let registering = matches!(self.state, RegState::Trying | RegState::Register)
            && self
                .exchange
                .as_ref()
                .is_none_or(|ex| ex.purpose == Purpose::Register);
        registering || self.is_registered(now)
    }

    fn forget_binding(&mut self) {
        self.registered_until = None;
        self.granted = None;
    }

    fn start(&mut self, now: Instant, purpose: Purpose) {
        self.exchange = Some(Exchange {
            purpose,
            expires: self.requested_expires(),
            answers: Vec::new(),
            fresh: None,
            step: Step::Send(now),
            requests: 0,
            deadline: later(now, self.cfg.timeout().into()),
        });
    }

    fn begin_unregister(&mut self, now: Instant, after: RegState) {
        self.after_unregister = after;
        self.refresh_at = None;
        self.retry_at = None;
        self.start(now, Purpose::Unregister);
        self.enter(RegState::Unregister, now);
    }

    fn send(&mut self) -> Option<RegAction> {
        let id = RequestId(self.next_id);
        let ex = self.exchange.as_mut()?;
        self.next_id += 1;
        ex.step = Step::Await(id);
        ex.requests += 1;
        Some(match ex.purpose {
            Purpose::Register => RegAction::Register {
                id,
                expires: ex.expires,
                answers: ex.answers.clone(),
            },
            Purpose::Unregister => RegAction::Unregister {
                id,
                answers: ex.answers.clone(),
            },
        })
    }

    /// Sends the next request of the exchange, unless it has taken too many.
    fn resend(&mut self, now: Instant) {
        let Some(ex) = self.exchange.as_mut() else {
            return;
        };
        if ex.requests >= MAX_REQUESTS {
            let text = format!("no final answer after {} requests", ex.requests);
            self.exchange_failed(now, self.last_response.as_ref().map(|r| r.code), text);
        } else {
            ex.step = Step::Send(now);
        }
    }

    fn challenged(&mut self, now: Instant, r: &RegResponse) {
        let Some(challenge) = r.challenge.as_ref() else {
            let header = if r.code == 407 {
                "Proxy-Authenticate"
            } else {
                "WWW-Authenticate"
            };
            let text = format!("{} without {header}", describe(r));
            return self.exchange_failed(now, Some(r.code), text);
        };
        // The header the challenge came in decides the header of the answer.
        let proxy = challenge.proxy;
        let Some(ex) = self.exchange.as_mut() else {
            return;
        };
        if ex.fresh == Some(proxy) && !challenge.stale {
            return self.exchange_failed(now, Some(r.code), format!("{} after auth", r.code));
        }
        ex.answers.retain(|a| a.proxy != proxy);
        ex.answers.push(ChallengeToAnswer {
            proxy,
            header: challenge.header.clone(),
        });
        ex.fresh = Some(proxy);
        self.resend(now);
    }

    fn interval_too_brief(&mut self, now: Instant, r: &RegResponse) {
        let Some(ex) = self.exchange.as_mut() else {
            return;
        };
        match r.min_expires {
            Some(min) if min > ex.expires => {
                ex.expires = min;
                ex.fresh = None;
                self.min_expires = Some(min);
                self.resend(now);
            }
            Some(min) => {
                let text = format!(
                    "{} with Min-Expires {min} not above {}",
                    describe(r),
                    ex.expires
                );
                self.fail(now, Some(r.code), text, Backoff::Grow);
            }
            None => {
                let text = format!("{} without Min-Expires", describe(r));
                self.fail(now, Some(r.code), text, Backoff::Grow);
            }
        }
    }

    fn registered(&mut self, now: Instant, expires: Option<u32>) {
        let asked = self
            .exchange
            .take()
            .map_or(self.requested_expires(), |ex| ex.expires);
        // A 200 granting 0 would mean our binding is gone; servers that say
        // so to a refresh are broken, and treating it as "what we asked"
        // (as FreeSWITCH does) keeps the gateway usable.
        let granted = expires.filter(|e| *e > 0).unwrap_or(asked);
        self.granted = Some(granted);
        self.registered_until = Some(later(now, granted.into()));
        self.refresh_at = Some(later(now, refresh_delay(granted).into()));
        self.retry_at = None;
        self.failures = 0;
        self.failure = None;
        self.enter(RegState::Register, now);
    }

    /// The exchange ended without success: a registration fails on the
    /// flat schedule, an unregistration simply ends.
    fn exchange_failed(&mut self, now: Instant, code: Option<u16>, text: String) {
        match self.exchange.as_ref().map(|ex| ex.purpose) {
            Some(Purpose::Unregister) => {
                self.failure = Some((code, text));
                self.finish_unregister(now);
            }
            _ => {
                let backoff = if code == Some(TIMEOUT_CODE) || code.is_none() {
                    Backoff::Flat
                } else {
                    Backoff::Grow
                };
                self.fail(now, code, text, backoff);
            }
        }
    }

    fn fail(&mut self, now: Instant, code: Option<u16>, text: String, backoff: Backoff) {
        self.exchange = None;
        self.failures = self.failures.saturating_add(1);
        let retry = self.cfg.retry();
        let secs = match backoff {
            Backoff::Flat => retry,
            Backoff::Grow => retry.saturating_mul(self.failures),
            Backoff::After(secs) => secs.max(1),
        }
        .min(self.cfg.max_retry());
        self.retry_at = Some(later(now, secs.into()));
        self.refresh_at = None;
        self.failure = Some((code, text));
        self.enter(RegState::Failed, now);
    }

    fn finish_unregister(&mut self, now: Instant) {
        self.exchange = None;
        self.refresh_at = None;
        self.retry_at = None;
        self.forget_binding();
        let after = self.after_unregister;
        self.enter(after, now);
    }

    fn lost_exchange(&mut self, now: Instant) {
        if self.state == RegState::Unregister {
            self.finish_unregister(now);
        } else {
            self.enter(RegState::Unreged, now);
        }
    }
}

/// "403 Forbidden", or "503 Service Unavailable (Retry-After 120 s)".
fn describe(r: &RegResponse) -> String {
    let mut text = if r.reason.is_empty() {
        r.code.to_string()
    } else {
        format!("{} {}", r.code, r.reason)
    };
    if let (503, Some(secs)) = (r.code, r.retry_after) {
        text.push_str(&format!(" (Retry-After {secs} s)"));
    }
    text
}
