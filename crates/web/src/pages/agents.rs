//! The floor's live pages for supervisors (manual 11.1 / 11.2, permission
//! `records:view`):
//!
//! - `/records/agents`: every agent (or those online, `?online=1`) with
//!   their extension's registration, status, state and time in it, and
//!   their figures of the day (calls, missed, talk time, average talk);
//!   JSON twin `GET /api/agents/live` ([`crate::api::agents::live`]).
//! - `/records/traffic`: today's calls per hour (in, out, internal,
//!   answered, missed) as an SVG chart and a table, and the floor's
//!   counters.
//! - `/records/wallboard`: a tile per agent coloured by state, callers
//!   waiting, the longest wait, the service level so far today; `?tv=1` is
//!   the same without the menu, in big type on a dark background.
//! - `/records/missed`: calls nobody answered, newest first, paged.
//!
//! The live parts are server-sent events like the other live pages, but
//! they wake on the desk hub's change signal (rate-limited to one render
//! per [`MIN_GAP`]) as well as on the one-second tick, so a change reaches
//! the wallboard well within a second while an idle floor costs one
//! render a second (the clocks of time in state move). Figures that come
//! from the store are cached in the hub ([`LiveCache`]): an agent's figures
//! are read again only when records about them were stored, the service
//! level and the current hour's traffic at most every few seconds.
//!
//! A user without `records:all` sees only their own extension's row, tile,
//! figures and calls; the floor's counters stay the floor's.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{Local, TimeZone, Timelike};
use minijinja::{context, Value};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::api::records::query_of;
use crate::auth::permissions::{RECORDS_ALL, RECORDS_VIEW};
use crate::auth::{require, Identity};
use crate::charts::{bars, Bar};
use crate::desk::pop::start_of_day;
use crate::form::{encode, QueryFields};
use crate::pages::voice::status::{
    clock, render_live, wants_fragment, wants_stream, LIVE_EVERY_MS,
};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// A live part is rendered at most this often when changes come fast:
/// a burst of events costs one render per gap, and a change waits at most
/// this long (plus rendering) before it is sent.
pub const MIN_GAP: Duration = Duration::from_millis(200);

/// A live stream ends after this long and the browser opens a new one (as
/// for the other live pages: the new request is signed in again).
const STREAM_SECS: u64 = 120;

/// The service-level target of the wallboard (seconds), and the
/// short-abandon threshold left out of it, as the report's defaults.
const SL_TARGET_S: i64 = 20;
const SL_SHORT_S: i64 = 5;

/// How long the service level of the day and the current hour's traffic
/// are reused before the store is asked again.
const STORE_EVERY: Duration = Duration::from_secs(5);

/// An agent's figures are read again after this long even without a
/// "records stored" signal (one may be lost when the hub lags).
const FIGURES_MAX_AGE: Duration = Duration::from_secs(300);

/// This page group's routes, each behind `records:view`.
pub fn routes() -> Router<AppState> {
    require(
        RECORDS_VIEW,
        Router::new()
            .route("/records/agents", get(agents_page))
            .route("/records/traffic", get(traffic_page))
            .route("/records/wallboard", get(wallboard_page))
            .route("/records/missed", get(missed_page))
            .route("/records/wallboard.css", get(style))
            .route("/records/wallboard.js", get(script)),
    )
}

// ---------------------------------------------------------------------
// Sans-IO parts: tile classification and the day's hours.

/// What a tile (and a row) shows an agent doing, by colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tile {
    /// On a call (a queue call or a direct one that was answered).
    Talking,
    /// A queue offer is ringing the agent.
    Ringing,
    /// Available and waiting for a call.
    Ready,
    /// Logged in but on break (not ready).
    NotReady,
    /// Available but not offered anything (after an on-demand call, or
    /// reserved by hand).
    Idle,
    /// Logged out, or not known to the ACD.
    Offline,
}

impl Tile {
    /// The class and message-key suffix (`agents.tile_<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Tile::Talking => "talking",
            Tile::Ringing => "ringing",
            Tile::Ready => "ready",
            Tile::NotReady => "not_ready",
            Tile::Idle => "idle",
            Tile::Offline => "offline",
        }
    }
}

/// Classifies an agent from the floor's status and state names (the ACD's
/// FreeSWITCH-style names) and whether they are on an answered call. Being
/// on a call wins over the status: an agent who logged out mid-call is
/// still talking.
pub fn classify(status: Option<&str>, state: Option<&str>, on_call: bool) -> Tile {
    if on_call || state == Some("In a queue call") {
        return Tile::Talking;
    }
    if state == Some("Receiving") {
        return Tile::Ringing;
    }
    match status {
        None | Some("Logged Out") => Tile::Offline,
        Some("On Break") => Tile::NotReady,
        _ if matches!(state, Some("Idle" | "Reserved")) => Tile::Idle,
        _ => Tile::Ready,
    }
}

/// The start (unix ms) of each hour of the local day that starts at
/// `day_start`, up to and including the hour of `now_ms`, and where each
/// ends (the next one's start). A day with a clock change has 23 or 25
/// hours: hours are counted from the day's start, not by the clock.
pub fn hours_of_day(day_start: i64, now_ms: i64) -> Vec<(i64, i64)> {
    const HOUR: i64 = 3_600_000;
    if now_ms < day_start {
        return Vec::new();
    }
    let n = ((now_ms - day_start) / HOUR + 1).min(25);
    (0..n)
        .map(|i| (day_start + i * HOUR, day_start + (i + 1) * HOUR))
        .collect()
}

/// The label of an hour that starts at `start_ms`: its local clock hour.
fn hour_label(start_ms: i64) -> String {
    match Local.timestamp_millis_opt(start_ms).earliest() {
        Some(t) => format!("{:02}", t.hour()),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------
// Caches kept in the desk hub.

/// One hour's calls (complete calls that started in it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HourCounts {
    /// Unix ms of the hour's start.
    pub start_ms: i64,
    /// Calls in every direction.
    pub total: i64,
    /// From outside.
    pub inbound: i64,
    /// To outside.
    pub outbound: i64,
    /// Between extensions.
    pub internal: i64,
    /// Taken by a person.
    pub answered: i64,
    /// Taken by nobody.
    pub missed: i64,
}

#[derive(Clone, Debug)]
struct FiguresEntry {
    day: i64,
    generation: u64,
    at: Instant,
    figures: store::AgentFigures,
}

/// The day's hours of one data scope (None: every call), by day start.
type TrafficByScope = HashMap<Option<String>, (i64, Vec<HourEntry>)>;

#[derive(Clone, Debug)]
struct HourEntry {
    counts: HourCounts,
    at: Instant,
    fetched_ms: i64,
}

/// The store's figures the live pages show, cached (see the module
/// documentation). One per desk hub.
#[derive(Default)]
pub struct LiveCache {
    figures: Mutex<HashMap<String, FiguresEntry>>,
    /// (day start, when read, the service-level row of the day).
    sl: Mutex<Option<(i64, Instant, crate::api::reports::SlRow)>>,
    /// Per data scope (None: every call): the day's hours.
    traffic: Mutex<TrafficByScope>,
    /// The extensions registered now, read at most once a second.
    registered: Mutex<Option<(Instant, Arc<HashSet<String>>)>>,
    /// One refresh from the store at a time: viewers that come while one
    /// runs wait for it and find the cache fresh. The agents' figures (up to
    /// four queries per agent on a first view) have their own, so that the
    /// wallboard's service level never waits behind them.
    refreshing: tokio::sync::Mutex<()>,
    refreshing_figures: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The extensions registered now (None without an engine).
fn registered(state: &AppState) -> Option<Arc<HashSet<String>>> {
    let engine = state.engine()?;
    let hub = state.desk();
    let mut slot = lock(&hub.live_cache.registered);
    if let Some((at, set)) = slot.as_ref() {
        if at.elapsed() < Duration::from_secs(1) {
            return Some(set.clone());
        }
    }
    let set: Arc<HashSet<String>> =
        Arc::new(engine.registered().into_iter().map(|r| r.user).collect());
    *slot = Some((Instant::now(), set.clone()));
    Some(set)
}

/// The figures of the day of `agents`, read from the store where the
/// cache is stale. An agent whose figures cannot be read is left out (the
/// page shows no figures for them; the error is logged).
async fn figures_of(state: &AppState, agents: &[String]) -> HashMap<String, store::AgentFigures> {
    let hub = state.desk();
    let cache = &hub.live_cache;
    let day = start_of_day(Local::now());
    let stale = |cache: &HashMap<String, FiguresEntry>, a: &String| match cache.get(a) {
        Some(e) => {
            e.day != day
                || e.generation != hub.stored_generation(a)
                || e.at.elapsed() > FIGURES_MAX_AGE
        }
        None => true,
    };
    let needed: Vec<String> = {
        let c = lock(&cache.figures);
        agents.iter().filter(|a| stale(&c, a)).cloned().collect()
    };
    if !needed.is_empty() {
        let _one = cache.refreshing_figures.lock().await;
        for a in needed {
            if !stale(&lock(&cache.figures), &a) {
                continue;
            }
            // The generation before the read: records stored during it
            // make the entry stale again, never lost.
            let generation = hub.stored_generation(&a);
            match state.store().agent_figures(&a, day).await {
                Ok(figures) => {
                    lock(&cache.figures).insert(
                        a,
                        FiguresEntry {
                            day,
                            generation,
                            at: Instant::now(),
                            figures,
                        },
                    );
                }
                Err(e) => tracing::warn!("figures of agent {a}: {e}"),
            }
        }
    }
    let c = lock(&cache.figures);
    agents
        .iter()
        .filter_map(|a| {
            c.get(a)
                .filter(|e| e.day == day)
                .map(|e| (a.clone(), e.figures))
        })
        .collect()
}

/// The service level of every queue together so far today (target
/// [`SL_TARGET_S`]), cached for [`STORE_EVERY`].
async fn sl_today(state: &AppState) -> Option<crate::api::reports::SlRow> {
    let hub = state.desk();
    let cache = &hub.live_cache;
    let day = start_of_day(Local::now());
    let fresh = |slot: &Option<(i64, Instant, crate::api::reports::SlRow)>| {
        slot.as_ref()
            .filter(|(d, at, _)| *d == day && at.elapsed() < STORE_EVERY)
            .map(|(_, _, row)| row.clone())
    };
    if let Some(row) = fresh(&lock(&cache.sl)) {
        return Some(row);
    }
    let _one = cache.refreshing.lock().await;
    if let Some(row) = fresh(&lock(&cache.sl)) {
        return Some(row);
    }
    let now = crate::auth::now_ms();
    match state
        .store()
        .queue_counts(day, now + 1, SL_TARGET_S, SL_SHORT_S, None)
        .await
    {
        Ok(rows) => {
            let mut all = store::QueueCounts::default();
            for r in &rows {
                all.offered += r.offered;
                all.answered += r.answered;
                all.answered_in_target += r.answered_in_target;
                all.answer_wait_secs += r.answer_wait_secs;
                all.longest_wait_secs = all.longest_wait_secs.max(r.longest_wait_secs);
                all.abandoned += r.abandoned;
                all.short_abandoned += r.short_abandoned;
                all.ended += r.ended;
                all.talk_secs += r.talk_secs;
            }
            let row = crate::api::reports::sl_row(&all);
            *lock(&cache.sl) = Some((day, Instant::now(), row.clone()));
            Some(row)
        }
        Err(e) => {
            tracing::warn!("service level of the day: {e}");
            None
        }
    }
}

/// Counts the complete calls of `[from, to)` in `scope` with a direction
/// and an outcome filter (empty: any).
async fn count_calls(
    state: &AppState,
    scope: &Option<String>,
    (from, to): (i64, i64),
    direction: &str,
    outcome: &str,
) -> Result<i64, store::StoreError> {
    let q = store::CdrQuery {
        from: Some(from),
        to: Some(to),
        direction: direction.to_string(),
        outcome: outcome.to_string(),
        extension: scope.clone(),
        limit: 0,
        ..Default::default()
    };
    Ok(state.store().search_cdrs(&q).await?.total)
}

/// Whether an hour's counts read at `fetched_ms` (an [`Instant`] `at`)
/// must be read again at `now_ms`: the current hour every [`STORE_EVERY`];
/// an hour that ended less than an hour before it was read every minute
/// (a call is recorded when it ends, in the hour it started); older ones
/// are final.
fn hour_stale(end_ms: i64, fetched_ms: i64, at: Instant, now_ms: i64) -> bool {
    if now_ms < end_ms {
        return at.elapsed() >= STORE_EVERY;
    }
    fetched_ms < end_ms + 3_600_000 && at.elapsed() >= Duration::from_secs(60)
}

/// Today's calls per hour in `scope` (see [`hour_stale`] for when each
/// hour is read again).
async fn traffic_today(state: &AppState, scope: &Option<String>) -> Vec<HourCounts> {
    let hub = state.desk();
    let cache = &hub.live_cache;
    let day = start_of_day(Local::now());
    let now = crate::auth::now_ms();
    let hours = hours_of_day(day, now);
    let stale_hours = |t: &TrafficByScope| -> Vec<usize> {
        let entries = t.get(scope).filter(|(d, _)| *d == day).map(|(_, v)| v);
        hours
            .iter()
            .enumerate()
            .filter(|(i, (_, end))| match entries.and_then(|v| v.get(*i)) {
                Some(e) => hour_stale(*end, e.fetched_ms, e.at, now),
                None => true,
            })
            .map(|(i, _)| i)
            .collect()
    };
    if !stale_hours(&lock(&cache.traffic)).is_empty() {
        let _one = cache.refreshing.lock().await;
        let todo = stale_hours(&lock(&cache.traffic));
        for i in todo {
            let range = hours[i];
            let read = async {
                Ok::<_, store::StoreError>(HourCounts {
                    start_ms: range.0,
                    total: count_calls(state, scope, range, "", "").await?,
                    inbound: count_calls(state, scope, range, "inbound", "").await?,
                    outbound: count_calls(state, scope, range, "outbound", "").await?,
                    internal: count_calls(state, scope, range, "internal", "").await?,
                    answered: 0,
                    missed: count_calls(state, scope, range, "", "missed").await?,
                })
            };
            match read.await {
                Ok(mut counts) => {
                    counts.answered = counts.total - counts.missed;
                    let mut t = lock(&cache.traffic);
                    let entry = t.entry(scope.clone()).or_insert((day, Vec::new()));
                    if entry.0 != day {
                        *entry = (day, Vec::new());
                    }
                    let v = &mut entry.1;
                    while v.len() <= i {
                        v.push(HourEntry {
                            counts: HourCounts::default(),
                            at: Instant::now(),
                            fetched_ms: 0,
                        });
                    }
                    v[i] = HourEntry {
                        counts,
                        at: Instant::now(),
                        fetched_ms: now,
                    };
                }
                Err(e) => {
                    tracing::warn!("today's traffic: {e}");
                    break;
                }
            }
        }
    }
    let t = lock(&cache.traffic);
    t.get(scope)
        .filter(|(d, _)| *d == day)
        .map(|(_, v)| v.iter().map(|e| e.counts).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------
// Snapshots.

/// The agents a user may see: every agent with `records:all`, their own
/// extension otherwise (none when they have none).
fn scope_of(who: &Identity) -> Option<String> {
    if who.allows(RECORDS_ALL) {
        None
    } else {
        Some(who.user.extension.clone())
    }
}

/// One agent of the live pages (and of `GET /api/agents/live`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AgentLive {
    /// Agent id (its extension).
    pub id: String,
    /// Its extension is registered now (null without an engine).
    pub registered: Option<bool>,
    /// ACD status (`Available`, `On Break`, `Logged Out`, ...).
    pub status: Option<String>,
    /// ACD state (`Waiting`, `Receiving`, `In a queue call`, ...).
    pub state: Option<String>,
    /// What the wallboard shows: talking, ringing, ready, not_ready, idle,
    /// offline.
    pub tile: String,
    /// Seconds in the current status / state (null until a change was
    /// seen since the server started).
    pub state_secs: Option<u64>,
    /// The caller on the agent's call or ringing them, if any.
    pub caller: Option<String>,
    /// The queue of the offer ringing them, if any.
    pub queue: Option<String>,
    /// Calls handled today: answered (queue and direct) and made.
    pub calls_today: Option<i64>,
    /// Queue offers and direct calls missed today.
    pub missed_today: Option<i64>,
    /// Seconds talked today.
    pub talk_secs_today: Option<i64>,
    /// Average talk time of the calls handled today, seconds.
    pub avg_talk_secs: Option<i64>,
}

/// The agents of the floor the user may see (`online`: not logged out
/// only), with figures when `with_figures`.
async fn agents_live(
    state: &AppState,
    scope: &Option<String>,
    online: bool,
    with_figures: bool,
) -> Vec<AgentLive> {
    let registered = registered(state);
    let mut rows: Vec<AgentLive> = state
        .desk()
        .floor()
        .into_iter()
        .filter_map(|r| {
            let id = r["id"].as_str()?.to_string();
            if scope.as_ref().is_some_and(|s| *s != id) {
                return None;
            }
            let status = r["status"].as_str().map(str::to_string);
            let st = r["state"].as_str().map(str::to_string);
            let on_call = r["call"]["answered"].as_bool() == Some(true);
            let tile = classify(status.as_deref(), st.as_deref(), on_call);
            if online && matches!(status.as_deref(), None | Some("Logged Out")) && !on_call {
                return None;
            }
            let caller = r["call"]["caller"]
                .as_str()
                .or_else(|| r["offer"]["caller"].as_str())
                .map(str::to_string);
            Some(AgentLive {
                registered: registered.as_ref().map(|s| s.contains(&id)),
                id,
                status,
                state: st,
                tile: tile.name().to_string(),
                state_secs: r["state_ms"].as_u64().map(|ms| ms / 1000),
                caller: caller.filter(|c| !c.is_empty()),
                queue: r["offer"]["queue"].as_str().map(str::to_string),
                calls_today: None,
                missed_today: None,
                talk_secs_today: None,
                avg_talk_secs: None,
            })
        })
        .collect();
    if with_figures {
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let figures = figures_of(state, &ids).await;
        for r in &mut rows {
            if let Some(f) = figures.get(&r.id) {
                r.calls_today = Some(f.handled());
                r.missed_today = Some(f.missed());
                r.talk_secs_today = Some(f.talk_secs());
                r.avg_talk_secs = Some(f.average_handle_secs());
            }
        }
    }
    rows
}

/// How many agents are in each tile class.
fn tile_counts(agents: &[AgentLive]) -> HashMap<String, usize> {
    let mut m: HashMap<String, usize> = [
        "talking",
        "ringing",
        "ready",
        "not_ready",
        "idle",
        "offline",
    ]
    .iter()
    .map(|k| (k.to_string(), 0))
    .collect();
    for a in agents {
        *m.entry(a.tile.clone()).or_default() += 1;
    }
    m
}

/// The waiting callers: how many and the longest wait (seconds).
fn waiting_now(state: &AppState) -> (usize, u64) {
    let w = state.desk().waiting();
    (w.len(), w.first().map_or(0, |x| x.2))
}

/// The JSON of `GET /api/agents/live` (also what the agents page shows).
pub async fn live_json(state: &AppState, who: &Identity, online: bool) -> serde_json::Value {
    let scope = scope_of(who);
    let agents = agents_live(state, &scope, online, true).await;
    let (waiting, longest) = waiting_now(state);
    json!({
        "agents": agents,
        "counters": state.desk().counters(),
        "tiles": tile_counts(&agents),
        "waiting": waiting,
        "longest_wait_s": longest,
    })
}

fn rows_value(agents: &[AgentLive]) -> Vec<serde_json::Value> {
    agents
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            v["in_state"] = json!(a.state_secs.map(clock));
            v["talk_today"] = json!(a
                .talk_secs_today
                .map(|s| clock(u64::try_from(s).unwrap_or(0))));
            v["avg_talk"] = json!(a
                .avg_talk_secs
                .map(|s| clock(u64::try_from(s).unwrap_or(0))));
            v
        })
        .collect()
}

async fn agents_snapshot(state: AppState, scope: Option<String>, online: bool) -> Value {
    let agents = agents_live(&state, &scope, online, true).await;
    let (waiting, longest) = waiting_now(&state);
    Value::from_serialize(json!({
        "agents": rows_value(&agents),
        "tiles": tile_counts(&agents),
        "counters": state.desk().counters(),
        "waiting": waiting,
        "longest": clock(longest),
        "online": online,
        "live_every": LIVE_EVERY_MS,
    }))
}

async fn wallboard_snapshot(state: AppState, scope: Option<String>, tv: bool) -> Value {
    let agents = agents_live(&state, &scope, false, false).await;
    let (waiting, longest) = waiting_now(&state);
    let sl = sl_today(&state).await;
    let pct = |r: Option<f64>| r.map(|r| format!("{:.0}", r * 100.0));
    Value::from_serialize(json!({
        "agents": rows_value(&agents),
        "tiles": tile_counts(&agents),
        "counters": state.desk().counters(),
        "waiting": waiting,
        "longest": clock(longest),
        "longest_s": longest,
        "sl": sl.as_ref().and_then(|r| pct(r.service_level)),
        "offered": sl.as_ref().map_or(0, |r| r.offered),
        "answered": sl.as_ref().map_or(0, |r| r.answered),
        "abandoned": sl.as_ref().map_or(0, |r| r.abandoned),
        "target_s": SL_TARGET_S,
        "tv": tv,
        "live_every": LIVE_EVERY_MS,
    }))
}

async fn traffic_snapshot(
    state: AppState,
    scope: Option<String>,
    lang: crate::i18n::Lang,
) -> Value {
    let hours = traffic_today(&state, &scope).await;
    let agents = agents_live(&state, &scope, false, false).await;
    let tiles = tile_counts(&agents);
    let sum = |f: fn(&HourCounts) -> i64| hours.iter().map(f).sum::<i64>();
    let chart_data: Vec<Bar> = hours
        .iter()
        .map(|h| Bar {
            label: hour_label(h.start_ms),
            value: h.total,
            failed: h.missed,
        })
        .collect();
    let chart = bars(
        &lang.t("agents.traffic_chart", &[]),
        &lang.t("agents.calls", &[]),
        &chart_data,
        900,
        300,
    );
    let n = |k: &str| tiles.get(k).copied().unwrap_or(0);
    let rows: Vec<serde_json::Value> = hours
        .iter()
        .map(|h| {
            let mut v = serde_json::to_value(h).unwrap_or_default();
            v["label"] = json!(hour_label(h.start_ms));
            v
        })
        .collect();
    Value::from_serialize(json!({
        "hours": rows,
        "chart": chart,
        "agents_all": agents.len(),
        "ready": n("ready"),
        "not_ready": n("not_ready") + n("offline") + n("idle"),
        "talking": n("talking"),
        "ringing": n("ringing"),
        "total": sum(|h| h.total),
        "missed": sum(|h| h.missed),
        "answered": sum(|h| h.answered),
        "inbound": sum(|h| h.inbound),
        "outbound": sum(|h| h.outbound),
        "internal": sum(|h| h.internal),
        "waiting": waiting_now(&state).0,
        "live_every": LIVE_EVERY_MS,
    }))
}

// ---------------------------------------------------------------------
// The push stream.

type Snapshot = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Value> + Send>> + Send + Sync>;

struct Stream {
    ctx: PageCtx,
    snapshot: Snapshot,
    last: String,
    changes: Option<watch::Receiver<u64>>,
    tick: Instant,
    rendered: Option<Instant>,
}

/// The live part `part` as server-sent events (event `part`, the HTML):
/// rendered at once, then on each change signal of the desk hub (at most
/// once per [`MIN_GAP`]) and at the latest [`LIVE_EVERY_MS`] after the last
/// render; sent only when it changed.
fn push_stream(
    ctx: PageCtx,
    part: &'static str,
    changes: watch::Receiver<u64>,
    snapshot: Snapshot,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let every = Duration::from_millis(u64::from(LIVE_EVERY_MS));
    let end = Instant::now() + Duration::from_secs(STREAM_SECS);
    let start = Stream {
        ctx,
        snapshot,
        last: String::new(),
        changes: Some(changes),
        tick: Instant::now(),
        rendered: None,
    };
    let events = futures_util::stream::unfold(start, move |mut st| async move {
        loop {
            let changed = match st.changes.as_mut() {
                Some(rx) => tokio::select! {
                    _ = tokio::time::sleep_until(st.tick) => false,
                    r = rx.changed() => r.is_ok(),
                },
                None => {
                    tokio::time::sleep_until(st.tick).await;
                    false
                }
            };
            if changed {
                if let Some(at) = st.rendered {
                    tokio::time::sleep_until(at + MIN_GAP).await;
                }
                // Changes during the gap are in this render.
                if let Some(rx) = st.changes.as_mut() {
                    rx.borrow_and_update();
                }
            } else if st
                .changes
                .as_mut()
                .is_some_and(|rx| rx.has_changed().is_err())
            {
                // The hub is gone (the server stops): the tick alone.
                st.changes = None;
            }
            let now = Instant::now();
            if now >= end {
                return None;
            }
            st.rendered = Some(now);
            st.tick = now + every;
            let value = (st.snapshot)().await;
            match st.ctx.render_text(part, value) {
                Ok(html) if html == st.last => continue,
                Ok(html) => {
                    st.last = html.clone();
                    let event = Event::default().event("part").data(html);
                    return Some((Ok::<_, std::convert::Infallible>(event), st));
                }
                Err(e) => {
                    tracing::error!("rendering {part}: {e:#}");
                    return None;
                }
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Serves a live page: the stream, the fragment, or the whole page.
async fn serve_live(
    state: &AppState,
    ctx: PageCtx,
    q: &crate::form::Fields,
    (page, part): (&'static str, &'static str),
    snapshot: Snapshot,
) -> Response {
    if wants_stream(q) {
        return push_stream(ctx, part, state.desk().changes(), snapshot);
    }
    let extra = snapshot().await;
    render_live(&ctx, wants_fragment(q), page, part, extra)
}

// ---------------------------------------------------------------------
// Handlers.

/// `GET /records/agents[?online=1]` (`&fragment=1[&stream=1]`: the live part).
async fn agents_page(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let online = q.text("online") == "1";
    let scope = scope_of(&who);
    let s = state.clone();
    let snapshot: Snapshot =
        Arc::new(move || Box::pin(agents_snapshot(s.clone(), scope.clone(), online)));
    serve_live(
        &state,
        ctx,
        &q,
        ("agents/agents.html", "agents/agents_live.html"),
        snapshot,
    )
    .await
}

/// `GET /records/traffic`.
async fn traffic_page(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let scope = scope_of(&who);
    let s = state.clone();
    let lang = ctx.lang;
    let snapshot: Snapshot =
        Arc::new(move || Box::pin(traffic_snapshot(s.clone(), scope.clone(), lang)));
    serve_live(
        &state,
        ctx,
        &q,
        ("agents/traffic.html", "agents/traffic_live.html"),
        snapshot,
    )
    .await
}

/// `GET /records/wallboard[?tv=1]`.
async fn wallboard_page(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(q): QueryFields,
) -> Response {
    let tv = q.text("tv") == "1";
    let scope = scope_of(&who);
    let s = state.clone();
    let snapshot: Snapshot =
        Arc::new(move || Box::pin(wallboard_snapshot(s.clone(), scope.clone(), tv)));
    let page = if tv {
        "agents/wallboard_tv.html"
    } else {
        "agents/wallboard.html"
    };
    serve_live(
        &state,
        ctx,
        &q,
        (page, "agents/wallboard_live.html"),
        snapshot,
    )
    .await
}

/// The filters of the missed-calls page, read back into its form and pager.
const MISSED_FIELDS: [&str; 5] = ["from", "to", "number", "queue", "per_page"];

/// `GET /records/missed`: the call history's search with the outcome
/// "missed" fixed (same filters, same data scope).
async fn missed_page(
    who: Identity,
    State(state): State<AppState>,
    ctx: PageCtx,
    QueryFields(mut q): QueryFields,
) -> Response {
    let values: std::collections::BTreeMap<&str, String> =
        MISSED_FIELDS.iter().map(|f| (*f, q.text(f))).collect();
    let query_string = MISSED_FIELDS
        .iter()
        .filter(|f| !values[*f].is_empty())
        .map(|f| format!("{f}={}", encode(&values[*f])))
        .collect::<Vec<_>>()
        .join("&");
    let own_only = !who.allows(RECORDS_ALL);
    q.push("status", "missed");
    let mut errors = crate::form::Errors::default();
    let base = context! {
        values => values.clone(), query => query_string, own_only => own_only,
        extension => who.user.extension.clone(),
    };
    let (query, page) = match query_of(&q, &who, state.settings().page_size.max(1)) {
        Ok(v) => v,
        Err(bad) => {
            errors.add(bad.field, bad.key);
            return ctx.render_status(
                StatusCode::BAD_REQUEST,
                "agents/missed.html",
                context! { errors => errors, calls => Vec::<()>::new(), total => 0, page => 1, pages => 1, ..base },
            );
        }
    };
    let found = match state.store().search_cdrs(&query).await {
        Ok(p) => p,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let size = query.limit.max(1);
    let pages = ((found.total + size - 1) / size).max(1);
    let calls: Vec<serde_json::Value> = found
        .rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            // A queue caller waited from the start to hanging up; any
            // other missed call rang for its ring time.
            let waited = if r.queue.is_some() {
                (r.cdr.end_at - r.cdr.start_at).max(0) / 1000
            } else {
                r.cdr.ring_secs
            };
            v["waited"] = json!(waited);
            v
        })
        .collect();
    ctx.render(
        "agents/missed.html",
        context! {
            errors => errors, calls => calls, total => found.total, page => page,
            pages => pages, prev_page => (page > 1).then_some(page - 1),
            next_page => (page < pages).then_some(page + 1), ..base
        },
    )
}

/// `GET /records/wallboard.css`: the styles of these pages (the site's
/// policy allows no inline styles).
async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../templates/agents/wallboard.css"),
    )
}

/// `GET /records/wallboard.js`: the full-screen button and the clocks.
async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/agents/wallboard.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallboard_tiles_follow_status_state_and_call() {
        assert_eq!(
            classify(Some("Available"), Some("Waiting"), false),
            Tile::Ready
        );
        assert_eq!(
            classify(Some("Available (On Demand)"), Some("Waiting"), false),
            Tile::Ready
        );
        assert_eq!(
            classify(Some("Available"), Some("Receiving"), false),
            Tile::Ringing
        );
        assert_eq!(
            classify(Some("Available"), Some("In a queue call"), false),
            Tile::Talking
        );
        assert_eq!(
            classify(Some("On Break"), Some("Waiting"), false),
            Tile::NotReady
        );
        assert_eq!(
            classify(Some("Logged Out"), Some("Waiting"), false),
            Tile::Offline
        );
        assert_eq!(classify(None, None, false), Tile::Offline);
        assert_eq!(classify(Some("Available"), Some("Idle"), false), Tile::Idle);
        assert_eq!(
            classify(Some("Available"), Some("Reserved"), false),
            Tile::Idle
        );
        // A direct call answered: talking, whatever the ACD says.
        assert_eq!(
            classify(Some("On Break"), Some("Waiting"), true),
            Tile::Talking
        );
        assert_eq!(classify(Some("Logged Out"), None, true), Tile::Talking);
        assert_eq!(Tile::NotReady.name(), "not_ready");
    }

    #[test]
    fn traffic_hours_run_from_the_day_start_to_the_current_hour() {
        const H: i64 = 3_600_000;
        let day = 1_700_000_000_000;
        assert!(hours_of_day(day, day - 1).is_empty());
        assert_eq!(hours_of_day(day, day), vec![(day, day + H)]);
        let h = hours_of_day(day, day + 13 * H + 59 * 60_000);
        assert_eq!(h.len(), 14);
        assert_eq!(h[13], (day + 13 * H, day + 14 * H));
        assert!(h.windows(2).all(|w| w[0].1 == w[1].0), "contiguous");
        // Never more than a day with a clock change back.
        assert_eq!(hours_of_day(day, day + 40 * H).len(), 25);
    }

    #[test]
    fn traffic_past_hours_settle_and_the_current_one_refreshes() {
        const H: i64 = 3_600_000;
        let now = 10 * H;
        let old = Instant::now() - Duration::from_secs(120);
        let fresh = Instant::now();
        // The current hour: again after STORE_EVERY.
        assert!(hour_stale(now + H / 2, now - 1000, old, now));
        assert!(!hour_stale(now + H / 2, now - 1000, fresh, now));
        // Ended a moment ago, read before its calls all ended: again.
        assert!(hour_stale(now - 1000, now - 2000, old, now));
        // Read more than an hour after it ended: final.
        assert!(!hour_stale(now - 2 * H, now - 1000, old, now));
    }
}
