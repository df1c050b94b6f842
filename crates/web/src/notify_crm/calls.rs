//! Notices about calls (issue 16, 7): a **missed call** to an extension,
//! and a **new voicemail** in its mailbox, e-mailed to the users bound to
//! that extension (their `extension` field), as the other notifications
//! are (kinds `missed_call` and `voicemail`, each may be switched off).
//!
//! The source is the engine's event bus, read by one task of its own:
//!
//! - a call is tracked from `CallStarted` when its dialled number routes to
//!   an extension (the engine's own routing, rules included, so a DID routed
//!   to an extension counts, and a queue's or IVR's number does not: a
//!   queue's unanswered offer to an agent is not the agent's missed call);
//! - `CallAnswered` ends the tracking, unless the voicemail application is
//!   what answered (the engine counts those as missed calls of the
//!   extension too);
//! - `CallEnded` with a cause of an unanswered call (the caller gave up
//!   while it rang, no answer, busy, not registered, declined) makes the
//!   notice. A call taken by voicemail makes one notice, not two: the
//!   voicemail notice when a message was left (`VoicemailLeft`, which may
//!   come before or, for a caller who hung up to end the message, up to a
//!   few seconds after the call's end: hence [`VOICEMAIL_GRACE`]), else a
//!   missed-call notice saying no message was left.
//!
//! Why the bus and not the CDRs: a CDR names the dialled number, not the
//! extension it reached, and reaches the database only at the call's end
//! in batches with no call ids on the bus; the events carry the call id
//! from start to end, and the answer by voicemail is visible only live.
//!
//! The task never waits on the database or the mail server (each notice is
//! prepared and sent by a task of its own, at most [`MAX_IN_FLIGHT`] at
//! once), its memory is bounded ([`MAX_TRACKED`] calls), and when it falls
//! behind the bus (events lost) it forgets the calls in flight rather than
//! guess whether they were answered.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use engine::base::events::Event;
use engine::Engine;
use tokio::sync::{broadcast, Mutex, Semaphore};

use crate::metrics::WebMetrics;
use crate::state::AppState;

/// Calls tracked at once (ringing an extension, or taken by its voicemail
/// and just ended); a call starting beyond this is not tracked (logged).
pub const MAX_TRACKED: usize = 10_000;

/// How long after the end of a call its voicemail took the message may
/// still arrive (the voicemail application finishes the recording of a
/// caller who hung up, up to 3 s, then stores it).
pub const VOICEMAIL_GRACE: Duration = Duration::from_secs(15);

/// Notices being prepared or sent at once; one beyond is dropped and
/// counted as failed, so a burst of missed calls cannot pile up tasks.
pub const MAX_IN_FLIGHT: usize = 256;

/// A tracked call not heard of for this long is forgotten: its end was
/// lost (a call rings for minutes at most).
const MAX_AGE: Duration = Duration::from_secs(6 * 3600);

/// How long the extension → users table is used before it is read again.
const OWNERS_TTL: Duration = Duration::from_secs(30);

/// The hangup causes (CDR text) of a call to an extension that nobody took.
const MISSED_CAUSES: &[&str] = &[
    "ORIGINATOR_CANCEL",
    "NO_ANSWER",
    "USER_BUSY",
    "USER_NOT_REGISTERED",
    "CALL_REJECTED",
];

/// What the watcher asks the engine besides its events.
pub trait CallFacts: Send + Sync + 'static {
    /// The extension a call to `number` rings, if it rings one (after the
    /// routing rules in force).
    fn extension_of(&self, number: &str) -> Option<String>;
    /// Whether live call `call` is answered by the voicemail application.
    fn voicemail_answers(&self, call: u64) -> bool;
}

impl CallFacts for Arc<Engine> {
    fn extension_of(&self, number: &str) -> Option<String> {
        let ctx = self.ctx();
        let settings = ctx.callcenter.get();
        let table = settings.route_table();
        // As the engine does: the moment matters only to rules' hours.
        let now = match table {
            Some(_) => engine::routing::local_now(),
            None => chrono::DateTime::UNIX_EPOCH.fixed_offset(),
        };
        // Quietly: the call's own routing already logs its steps.
        match engine::router::route_at(
            number,
            &ctx.directory,
            &ctx.cfg.apps,
            table,
            now,
            &mut engine::router::Quiet,
        ) {
            engine::router::Route::Extension(ext) => Some(ext),
            _ => None,
        }
    }

    fn voicemail_answers(&self, call: u64) -> bool {
        self.ctx()
            .calls
            .get(&call)
            .is_some_and(|c| c.value().1.app == Some("voicemail"))
    }
}

/// A notice to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A call to `extension` nobody took.
    Missed {
        /// The extension called.
        extension: String,
        /// Caller number.
        caller: String,
        /// When the call came, unix ms.
        at_ms: i64,
        /// Why it went unanswered: a hangup cause, or `VOICEMAIL` for a
        /// call the voicemail took without a message.
        cause: String,
    },
    /// A message left in `mailbox`.
    Voicemail {
        /// The mailbox (extension).
        mailbox: String,
        /// Caller number.
        caller: String,
        /// When it was left, unix ms.
        at_ms: i64,
        /// Its length, milliseconds.
        duration_ms: u64,
    },
}

impl Notice {
    /// The extension whose users are told.
    pub fn extension(&self) -> &str {
        match self {
            Notice::Missed { extension, .. } => extension,
            Notice::Voicemail { mailbox, .. } => mailbox,
        }
    }

    /// The calling number.
    pub fn caller(&self) -> &str {
        match self {
            Notice::Missed { caller, .. } | Notice::Voicemail { caller, .. } => caller,
        }
    }

    /// The kind of notification (see [`super::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::Missed { .. } => "missed_call",
            Notice::Voicemail { .. } => "voicemail",
        }
    }
}

/// A call ringing an extension, as tracked.
struct Tracked {
    extension: String,
    caller: String,
    at_ms: i64,
    /// Last heard of.
    seen: Instant,
    /// The voicemail answered it.
    voicemail: bool,
    /// A message was left on it.
    message_left: bool,
}

/// The watcher's state: events in, notices out. Pure (no I/O), so it is
/// tested event by event.
pub struct Watch<F> {
    facts: F,
    calls: HashMap<u64, Tracked>,
    /// Calls the voicemail took that ended without a message yet: (until
    /// when a message may still come, call id, the missed-call notice).
    after_voicemail: VecDeque<(Instant, u64, Notice)>,
    /// Calls not tracked because [`MAX_TRACKED`] were.
    pub untracked: u64,
}

impl<F: CallFacts> Watch<F> {
    /// A watcher asking `facts`.
    pub fn new(facts: F) -> Self {
        Watch {
            facts,
            calls: HashMap::new(),
            after_voicemail: VecDeque::new(),
            untracked: 0,
        }
    }

    /// Calls tracked now.
    pub fn tracked(&self) -> usize {
        self.calls.len() + self.after_voicemail.len()
    }

    /// Applies one event at `now`; returns the notices it makes.
    pub fn apply(&mut self, ev: &Event, now: Instant) -> Vec<Notice> {
        match ev {
            Event::CallStarted {
                id, caller, callee, ..
            } => {
                let Some(extension) = self.facts.extension_of(callee) else {
                    return Vec::new();
                };
                // Calling one's own extension misses nothing.
                if extension == *caller {
                    return Vec::new();
                }
                if self.tracked() >= MAX_TRACKED {
                    self.untracked += 1;
                    return Vec::new();
                }
                self.calls.insert(
                    *id,
                    Tracked {
                        extension,
                        caller: caller.clone(),
                        at_ms: chrono::Utc::now().timestamp_millis(),
                        seen: now,
                        voicemail: false,
                        message_left: false,
                    },
                );
            }
            Event::CallAnswered { id } => {
                if let Some(t) = self.calls.get_mut(id) {
                    if !t.voicemail && self.facts.voicemail_answers(*id) {
                        t.voicemail = true;
                        t.seen = now;
                    } else if !t.voicemail {
                        // A person took it (or picked it up).
                        self.calls.remove(id);
                    }
                }
            }
            Event::CallEnded { id, cause, .. } => {
                let Some(t) = self.calls.remove(id) else {
                    return Vec::new();
                };
                if t.voicemail {
                    if !t.message_left {
                        self.after_voicemail.push_back((
                            now + VOICEMAIL_GRACE,
                            *id,
                            Notice::Missed {
                                extension: t.extension,
                                caller: t.caller,
                                at_ms: t.at_ms,
                                cause: "VOICEMAIL".into(),
                            },
                        ));
                    }
                } else if MISSED_CAUSES.contains(cause) {
                    return vec![Notice::Missed {
                        extension: t.extension,
                        caller: t.caller,
                        at_ms: t.at_ms,
                        cause: (*cause).to_string(),
                    }];
                }
            }
            Event::VoicemailLeft {
                call,
                mailbox,
                caller,
                duration_ms,
                at_ms,
                ..
            } => {
                // The voicemail notice stands for the missed call.
                if let Some(t) = self.calls.get_mut(call) {
                    t.message_left = true;
                }
                self.after_voicemail.retain(|(_, c, _)| c != call);
                return vec![Notice::Voicemail {
                    mailbox: mailbox.clone(),
                    caller: caller.clone(),
                    at_ms: *at_ms,
                    duration_ms: *duration_ms,
                }];
            }
            _ => {}
        }
        Vec::new()
    }

    /// The missed-call notices of calls the voicemail took whose grace
    /// ended without a message; forgets calls not heard of for too long.
    pub fn due(&mut self, now: Instant) -> Vec<Notice> {
        let mut out = Vec::new();
        while self
            .after_voicemail
            .front()
            .is_some_and(|(until, _, _)| *until <= now)
        {
            if let Some((_, _, n)) = self.after_voicemail.pop_front() {
                out.push(n);
            }
        }
        self.calls
            .retain(|_, t| now.saturating_duration_since(t.seen) < MAX_AGE);
        out
    }

    /// Events were lost: whether the calls in flight were answered is
    /// unknown, so they are forgotten (no notice rather than a wrong one).
    /// Calls already ended and waiting for a message keep their notice.
    pub fn lagged(&mut self) {
        self.calls.clear();
    }
}

/// Starts the watcher on `engine`'s events (the web module's start).
pub fn start(state: &AppState, engine: &Arc<Engine>) {
    let events = engine.subscribe();
    tokio::spawn(run(state.clone(), events, engine.clone()));
}

/// Runs the watcher until the bus closes: applies each event, sends the
/// notices in the background.
pub async fn run<F: CallFacts>(
    state: AppState,
    mut events: broadcast::Receiver<Arc<Event>>,
    facts: F,
) {
    let mut watch = Watch::new(facts);
    let owners = Arc::new(Mutex::new(Owners::default()));
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut untracked = 0;
    loop {
        let notices = tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => watch.apply(&ev, Instant::now()),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("call notices: {n} engine events missed; calls in flight forgotten");
                    watch.lagged();
                    Vec::new()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => watch.due(Instant::now()),
        };
        if watch.untracked != untracked {
            untracked = watch.untracked;
            tracing::warn!(
                "call notices: {MAX_TRACKED} calls tracked already, {untracked} not tracked so far"
            );
        }
        for n in notices {
            dispatch(&state, n, &owners, &slots);
        }
    }
}

/// Prepares and sends `notice` in a task of its own (if one of the
/// [`MAX_IN_FLIGHT`] slots is free).
fn dispatch(state: &AppState, notice: Notice, owners: &Arc<Mutex<Owners>>, slots: &Arc<Semaphore>) {
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        WebMetrics::inc(&state.metrics().notifications_failed);
        tracing::warn!(
            "notification {} for {}: {MAX_IN_FLIGHT} being sent already, dropped",
            notice.kind(),
            notice.extension()
        );
        return;
    };
    let state = state.clone();
    let owners = owners.clone();
    tokio::spawn(async move {
        let _permit = permit;
        send(&state, &notice, &owners).await;
    });
}

/// Sends `notice` to each user bound to its extension.
pub async fn send(state: &AppState, notice: &Notice, owners: &Mutex<Owners>) {
    let users = owners.lock().await.of(state, notice.extension()).await;
    for user in users {
        // The contact's name as this user may see it (their CRM scope).
        let name = contact_name(state, &user, notice.caller()).await;
        let (subject, body) = compose(notice, name.as_deref());
        super::deliver(state, notice.kind(), &[user.id], &subject, &body).await;
    }
}

/// The users bound to each extension, read at most every [`OWNERS_TTL`]
/// (one read of the users for many notices).
#[derive(Default)]
pub struct Owners {
    read_at: Option<Instant>,
    by_extension: HashMap<String, Vec<store::User>>,
}

impl Owners {
    /// The enabled users bound to `extension`.
    async fn of(&mut self, state: &AppState, extension: &str) -> Vec<store::User> {
        if self.read_at.is_none_or(|t| t.elapsed() >= OWNERS_TTL) {
            match state.store().all_users().await {
                Ok(users) => {
                    self.by_extension.clear();
                    for u in users {
                        if u.enabled && !u.extension.is_empty() {
                            self.by_extension
                                .entry(u.extension.clone())
                                .or_default()
                                .push(u);
                        }
                    }
                    self.read_at = Some(Instant::now());
                }
                // The last table (if any) serves until the store answers.
                Err(e) => tracing::warn!("call notices: reading the users: {e}"),
            }
        }
        self.by_extension
            .get(extension)
            .cloned()
            .unwrap_or_default()
    }
}

/// The name of the contact (else customer) whose number `number` is,
/// within what `user` may see of the CRM; None without the permission to
/// see contacts, or when none matches.
async fn contact_name(state: &AppState, user: &store::User, number: &str) -> Option<String> {
    use crate::auth::permissions::{Grants, CRM_CONTACTS_VIEW};
    if !crate::desk::pop::lookup_number(number) {
        return None;
    }
    let keys = if user.is_admin {
        Default::default()
    } else {
        state
            .store()
            .user_grants(user.id)
            .await
            .ok()?
            .into_iter()
            .collect()
    };
    // The user's identity as a request of theirs would have it, to reuse
    // the CRM's scope rules (no session or token is involved).
    let who = crate::auth::Identity {
        user: user.clone(),
        grants: Grants {
            admin: user.is_admin,
            keys,
        },
        via: crate::auth::Via::Token { id: 0 },
    };
    if !who.allows(CRM_CONTACTS_VIEW) {
        return None;
    }
    let scope = crate::api::crm_scope_of(state, &who).await.ok()?;
    let found = state.store().lookup_number(number, &scope).await.ok()?;
    found
        .contacts
        .iter()
        .filter(|c| !c.fields.voided)
        .map(|c| c.fields.name.clone())
        .chain(found.customers.iter().map(|c| c.fields.name.clone()))
        .find(|n| !n.trim().is_empty())
}

/// Unix ms as local `YYYY-MM-DD HH:MM:SS`.
fn local_time(ms: i64) -> String {
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// A length in both languages: `1 min 5 s / 1分5秒`.
fn length(ms: u64) -> String {
    let secs = (ms + 500) / 1000;
    if secs < 60 {
        format!("{secs} s / {secs}秒")
    } else {
        let (m, s) = (secs / 60, secs % 60);
        format!("{m} min {s} s / {m}分{s}秒")
    }
}

/// Why a call went unanswered, in both languages.
fn reason(cause: &str) -> &'static str {
    match cause {
        "ORIGINATOR_CANCEL" => "the caller hung up while it rang / 来电方在振铃时挂断",
        "NO_ANSWER" => "not answered / 无人接听",
        "USER_BUSY" => "busy / 忙线",
        "USER_NOT_REGISTERED" => "the phone was not reachable / 话机不在线",
        "CALL_REJECTED" => "declined / 已拒接",
        "VOICEMAIL" => "sent to voicemail, no message left / 已转语音信箱，未留言",
        _ => "not answered / 未接听",
    }
}

/// The subject and plain-text body of `notice`, with the caller's contact
/// name if known. Bilingual like the other notifications: the mail goes
/// out before anyone's language is known.
pub fn compose(notice: &Notice, contact: Option<&str>) -> (String, String) {
    let who = match contact {
        Some(name) => format!("{name} ({})", notice.caller()),
        None => notice.caller().to_string(),
    };
    let caller = if notice.caller().is_empty() {
        "unknown / 未知".to_string()
    } else {
        notice.caller().to_string()
    };
    let contact_line = contact
        .map(|n| format!("Contact / 联系人: {n}\n"))
        .unwrap_or_default();
    match notice {
        Notice::Missed {
            extension,
            at_ms,
            cause,
            ..
        } => (
            format!("Missed call from {who} / 未接来电：{who}"),
            format!(
                "Caller / 来电号码: {caller}\n{contact_line}Time / 时间: {}\n\
                 Extension / 分机: {extension}\nOutcome / 结果: {}\n",
                local_time(*at_ms),
                reason(cause)
            ),
        ),
        Notice::Voicemail {
            mailbox,
            at_ms,
            duration_ms,
            ..
        } => (
            format!("New voicemail from {who} / 新语音留言：{who}"),
            format!(
                "Caller / 来电号码: {caller}\n{contact_line}Time / 时间: {}\n\
                 Length / 时长: {}\nMailbox / 信箱: {mailbox}\n",
                local_time(*at_ms),
                length(*duration_ms)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The basic rule only (3-4 digits are extensions); calls in `vm` are
    /// answered by voicemail.
    struct Facts {
        vm: Vec<u64>,
    }

    impl CallFacts for Facts {
        fn extension_of(&self, number: &str) -> Option<String> {
            (matches!(number.len(), 3 | 4) && number.bytes().all(|b| b.is_ascii_digit()))
                .then(|| number.to_string())
        }

        fn voicemail_answers(&self, call: u64) -> bool {
            self.vm.contains(&call)
        }
    }

    fn started(id: u64, caller: &str, callee: &str) -> Event {
        Event::CallStarted {
            id,
            caller: caller.into(),
            callee: callee.into(),
            direction: "internal",
        }
    }

    fn ended(id: u64, cause: &'static str) -> Event {
        Event::CallEnded {
            id,
            cause,
            sip_code: 487,
            hangup_by: "caller",
        }
    }

    fn left(call: u64) -> Event {
        Event::VoicemailLeft {
            call,
            message: 1,
            mailbox: "1001".into(),
            caller: "1000".into(),
            duration_ms: 65_400,
            at_ms: 0,
        }
    }

    fn kinds(n: &[Notice]) -> Vec<&'static str> {
        n.iter().map(Notice::kind).collect()
    }

    #[test]
    fn unanswered_calls_to_an_extension_are_missed_and_answered_ones_are_not() {
        let mut w = Watch::new(Facts { vm: vec![] });
        let now = Instant::now();
        // The caller gave up while it rang.
        assert!(w.apply(&started(1, "1000", "1001"), now).is_empty());
        let n = w.apply(&ended(1, "ORIGINATOR_CANCEL"), now);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].extension(), "1001");
        assert_eq!(n[0].caller(), "1000");
        // Answered, then hung up: nothing.
        w.apply(&started(2, "1000", "1001"), now);
        w.apply(&Event::CallAnswered { id: 2 }, now);
        assert!(w.apply(&ended(2, "NORMAL_CLEARING"), now).is_empty());
        // A queue's or an application's number is nobody's missed call.
        w.apply(&started(3, "1000", "support-queue"), now);
        assert!(w.apply(&ended(3, "ORIGINATOR_CANCEL"), now).is_empty());
        // Busy and not registered are missed; a codec mismatch is not.
        w.apply(&started(4, "1000", "1001"), now);
        assert_eq!(w.apply(&ended(4, "USER_BUSY"), now).len(), 1);
        w.apply(&started(5, "1000", "1001"), now);
        assert!(w
            .apply(&ended(5, "INCOMPATIBLE_DESTINATION"), now)
            .is_empty());
        // Calling oneself is not tracked.
        w.apply(&started(6, "1001", "1001"), now);
        assert!(w.apply(&ended(6, "NO_ANSWER"), now).is_empty());
        assert_eq!(w.tracked(), 0);
    }

    #[test]
    fn a_call_taken_by_voicemail_makes_one_notice() {
        let now = Instant::now();
        let mut w = Watch::new(Facts { vm: vec![1, 2, 3] });
        // The message is stored before the call ends (# pressed): the
        // voicemail notice only.
        w.apply(&started(1, "1000", "1001"), now);
        w.apply(&Event::CallAnswered { id: 1 }, now);
        assert_eq!(kinds(&w.apply(&left(1), now)), ["voicemail"]);
        assert!(w.apply(&ended(1, "NORMAL_CLEARING"), now).is_empty());
        // The caller hung up to end the message: it is stored after the
        // call's end, within the grace.
        w.apply(&started(2, "1000", "1001"), now);
        w.apply(&Event::CallAnswered { id: 2 }, now);
        assert!(w.apply(&ended(2, "NORMAL_CLEARING"), now).is_empty());
        assert_eq!(kinds(&w.apply(&left(2), now)), ["voicemail"]);
        assert!(w.due(now + VOICEMAIL_GRACE).is_empty());
        // No message: a missed call, once the grace is over.
        w.apply(&started(3, "1000", "1001"), now);
        w.apply(&Event::CallAnswered { id: 3 }, now);
        w.apply(&ended(3, "NORMAL_CLEARING"), now);
        assert!(w.due(now).is_empty());
        let n = w.due(now + VOICEMAIL_GRACE);
        assert_eq!(kinds(&n), ["missed_call"]);
        assert!(compose(&n[0], None).1.contains("no message left"));
        assert_eq!(w.tracked(), 0);
    }

    #[test]
    fn memory_is_bounded_and_lost_events_forget_the_calls_in_flight() {
        let now = Instant::now();
        let mut w = Watch::new(Facts { vm: vec![] });
        for id in 0..(MAX_TRACKED as u64 + 5) {
            w.apply(&started(id, "1000", "1001"), now);
        }
        assert_eq!(w.tracked(), MAX_TRACKED);
        assert_eq!(w.untracked, 5);
        w.lagged();
        assert_eq!(w.tracked(), 0);
        // An end whose start was forgotten makes no notice.
        assert!(w.apply(&ended(1, "NO_ANSWER"), now).is_empty());
        // Calls whose end was lost are forgotten in time.
        w.apply(&started(1, "1000", "1001"), now);
        w.due(now + MAX_AGE);
        assert_eq!(w.tracked(), 0);
    }

    #[test]
    fn the_mail_names_the_caller_the_contact_the_time_and_the_length() {
        let n = Notice::Voicemail {
            mailbox: "1001".into(),
            caller: "13800138000".into(),
            at_ms: 1_700_000_000_000,
            duration_ms: 65_400,
        };
        let (subject, body) = compose(&n, Some("Zhang San"));
        assert_eq!(
            subject,
            "New voicemail from Zhang San (13800138000) / 新语音留言：Zhang San (13800138000)"
        );
        assert!(body.contains("Caller / 来电号码: 13800138000\n"), "{body}");
        assert!(body.contains("Contact / 联系人: Zhang San\n"), "{body}");
        assert!(body.contains("Length / 时长: 1 min 5 s / 1分5秒"), "{body}");
        assert!(body.contains(&local_time(1_700_000_000_000)), "{body}");
        assert!(body.contains("2023-11-1"), "{body}");
    }
}
