//! Reports over the API. So far the Erlang C staffing calculator:
//! `GET /api/reports/erlang-c?calls_per_interval=&interval_s=&aht_s=&target_sl=&target_s=`
//! answers `{"agents": N, ...}` with the service level and average speed of
//! answer N agents give, beside the agents logged in now.
//! `GET /api/reports/service-level` gives the service level per queue, and
//! `GET /api/reports/NAME` the manual's eight reports (11.3; NAME is
//! `traffic`, `agent-traffic`, `work-time`, `inbound`, `outbound`,
//! `satisfaction`, `hourly` or `tickets`, see [`super::report_views`]), as
//! JSON, CSV or Excel (`format=`), each export written to the audit log.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use callcenter::erlang::{BadForecast, Forecast, Staffing};
use serde_json::json;

use super::records::BadFilter;
use crate::form::{Fields, QueryFields};
use crate::state::AppState;
use crate::view::{api_error, json};

/// The forecast a request asks for; the first bad parameter otherwise.
/// `target_sl` is a share (0.8) or a percentage (80); `target_s` defaults
/// to 20 and `target_sl` to 0.8 (the usual 80/20), `interval_s` to 1800.
pub fn forecast_of(q: &Fields) -> Result<Forecast, BadForecast> {
    let num = |field: &'static str, default: Option<f64>| -> Result<f64, BadForecast> {
        let text = q.text(field);
        if text.is_empty() {
            return default.ok_or(BadForecast {
                field,
                message: "required",
            });
        }
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(BadForecast {
                field,
                message: "a number",
            })
    };
    let mut target_sl = num("target_sl", Some(0.8))?;
    if (1.0..100.0).contains(&target_sl) {
        target_sl /= 100.0;
    }
    let f = Forecast {
        calls_per_interval: num("calls_per_interval", None)?,
        interval_s: num("interval_s", Some(1800.0))?,
        aht_s: num("aht_s", None)?,
        target_sl,
        target_s: num("target_s", Some(20.0))?,
    };
    f.check()?;
    Ok(f)
}

/// A staffing as JSON (an ASA that never ends is `null`).
pub fn staffing_json(s: &Staffing) -> serde_json::Value {
    json!({
        "agents": s.agents,
        "traffic_erlangs": s.traffic_erlangs,
        "probability_wait": s.probability_wait,
        "service_level": s.service_level,
        "asa_s": s.asa_s.is_finite().then_some(s.asa_s),
        "occupancy": s.occupancy,
    })
}

/// `GET /api/reports/erlang-c`: agents needed for a service-level target.
#[utoipa::path(get, path = "/api/reports/erlang-c", tag = "reports", params(
    ("calls_per_interval" = f64, Query, description = "calls expected in one interval"),
    ("interval_s" = Option<f64>, Query, description = "the interval, seconds (default 1800)"),
    ("aht_s" = f64, Query, description = "average handle time, seconds"),
    ("target_sl" = Option<f64>, Query, description = "share answered within target_s: 0.8 or 80 (default 0.8)"),
    ("target_s" = Option<f64>, Query, description = "answer-time target, seconds (default 20)")),
    responses((status = 200, description = "{agents, traffic_erlangs, probability_wait, service_level, asa_s, occupancy, target_sl, target_s, logged_in, alternatives: [{agents, service_level, asa_s, occupancy, ...}]}: `agents` is the fewest that meet the target (Erlang C); `logged_in` the agents logged in now", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn erlang_c(State(state): State<AppState>, QueryFields(q): QueryFields) -> Response {
    let f = match forecast_of(&q) {
        Ok(f) => f,
        Err(b) => return api_error(StatusCode::BAD_REQUEST, b.message, Some(b.field)),
    };
    let needed = match f.needed() {
        Ok(s) => s,
        Err(b) => return api_error(StatusCode::BAD_REQUEST, b.message, Some(b.field)),
    };
    let mut body = staffing_json(&needed);
    let alternatives: Vec<serde_json::Value> = alternatives(&f, needed.agents)
        .iter()
        .map(staffing_json)
        .collect();
    if let Some(o) = body.as_object_mut() {
        o.insert("target_sl".into(), json!(f.target_sl));
        o.insert("target_s".into(), json!(f.target_s));
        o.insert("logged_in".into(), json!(state.desk().counters().online));
        o.insert("alternatives".into(), json!(alternatives));
    }
    json(StatusCode::OK, &body)
}

/// What a few agents fewer and more than `needed` give (the table beside
/// the answer), never below one more than the traffic.
pub fn alternatives(f: &Forecast, needed: u32) -> Vec<Staffing> {
    let floor = (f.traffic().floor() as u32).saturating_add(1).max(1);
    let from = needed.saturating_sub(2).max(floor.min(needed));
    (from..=needed.saturating_add(3))
        .map(|n| f.with_agents(n))
        .collect()
}

/// Longest window a report may cover: a wider one is refused with a
/// clear message rather than scanning the whole history.
pub const MAX_REPORT_DAYS: i64 = 3660;
/// A caller who abandons within this many seconds is a short abandon
/// (counted apart, out of the service level and the abandon rate).
pub const SHORT_ABANDON_S: i64 = 5;
/// Longest window whose service level may use a target the roll-up does
/// not keep (see [`store::rollup::SL_TARGETS`]).
pub const RAW_SL_MAX_DAYS: i64 = 31;
/// The service-level target of a queue that names none (the usual 80/20).
pub const DEFAULT_TARGET_S: i64 = 20;
const DAY_MS: i64 = 86_400_000;

/// The window, target and grouping a service-level report asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlQuery {
    /// Start (unix ms).
    pub from: i64,
    /// End, exclusive (unix ms).
    pub to: i64,
    /// Answered within this many seconds counts toward the service level
    /// (when `per_queue`: for queues whose target is not known).
    pub target_s: i64,
    /// Each queue's own target (its `service-level-s`): no `target_s` was
    /// given.
    pub per_queue: bool,
    /// Short-abandon threshold, seconds.
    pub short_s: i64,
    /// One row per queue and day (else per queue).
    pub per_day: bool,
}

/// The report's query from `from`, `to` (dates; default today),
/// `target_s` (default 20), `short_s` (default 5) and `group`
/// (`queue` or `day`); the first bad one otherwise.
pub fn sl_query_of(q: &Fields) -> Result<SlQuery, BadFilter> {
    let (from, to) = window_of(q)?;
    let secs = |field: &'static str, default: i64| match q.text(field).as_str() {
        "" => Ok(default),
        t => t
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=3600).contains(v))
            .ok_or_else(|| BadFilter::new(field, "seconds, 0 to 3600", "reports.bad_number")),
    };
    let per_day = match q.text("group").as_str() {
        "" | "queue" => false,
        "day" => true,
        _ => return Err(BadFilter::new("group", "queue or day", "records.bad_value")),
    };
    let (target_s, short_s) = (
        secs("target_s", DEFAULT_TARGET_S)?,
        secs("short_s", SHORT_ABANDON_S)?,
    );
    // Other thresholds are counted from the raw queue events: fine for a
    // month, minutes for a year of millions of events.
    if to - from > RAW_SL_MAX_DAYS * DAY_MS {
        if !store::rollup::SL_TARGETS.contains(&target_s) {
            return Err(BadFilter::new(
                "target_s",
                "over more than 31 days: 10, 15, 20, 30, 45, 60, 90 or 120",
                "reports.bad_target",
            ));
        }
        if !store::rollup::SHORT_ABANDONS.contains(&short_s) {
            return Err(BadFilter::new(
                "short_s",
                "over more than 31 days: 3, 5 or 10",
                "reports.bad_target",
            ));
        }
    }
    Ok(SlQuery {
        from,
        to,
        target_s,
        per_queue: q.text("target_s").is_empty(),
        short_s,
        per_day,
    })
}

/// A report's window from `from` and `to` (dates, a "to" date included
/// whole, or local times; each defaults to today): unix ms, the end
/// exclusive. An empty or inverted window, or one over ten years, is
/// refused naming `to`.
pub fn window_of(q: &Fields) -> Result<(i64, i64), BadFilter> {
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let date = |field: &'static str, end: bool| {
        let text = q.text(field);
        let text = if text.is_empty() { today.clone() } else { text };
        super::records::local_time(&text, end).ok_or_else(|| {
            BadFilter::new(
                field,
                "a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM",
                "records.bad_date",
            )
        })
    };
    let (from, to) = (date("from", false)?, date("to", true)?);
    if from >= to {
        return Err(BadFilter::new(
            "to",
            "the end is before the start",
            "records.bad_range",
        ));
    }
    if to - from > MAX_REPORT_DAYS * DAY_MS {
        return Err(BadFilter::new(
            "to",
            "a report covers at most ten years",
            "reports.too_long",
        ));
    }
    Ok((from, to))
}

/// The service-level figures of one row of counts: service level (answered
/// within the target over the callers answered or abandoned after the
/// short-abandon threshold), average speed of answer, average talk time
/// (AHT without after-call work, which the queue events do not hold),
/// abandon rate (short abandons out), and the counts themselves.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SlRow {
    /// The queue.
    pub queue: String,
    /// The day (`YYYY-MM-DD`) when grouped by day.
    pub day: Option<String>,
    /// Callers who joined.
    pub offered: i64,
    /// Answered by an agent.
    pub answered: i64,
    /// Answered within the target.
    pub answered_in_target: i64,
    /// Abandoned after the short-abandon threshold.
    pub abandoned: i64,
    /// Abandoned before it.
    pub short_abandoned: i64,
    /// Service level, 0 to 1 (`None` with no caller to count).
    pub service_level: Option<f64>,
    /// Average speed of answer, seconds.
    pub asa_s: Option<f64>,
    /// Average talk time of the calls that ended, seconds.
    pub aht_s: Option<f64>,
    /// Abandon rate, 0 to 1.
    pub abandon_rate: Option<f64>,
    /// Longest wait, seconds.
    pub longest_wait_s: i64,
    /// The answer-time target the row counts with, seconds.
    pub target_s: i64,
    /// Occupancy of the queue's agents: the share of their staffed time
    /// (ready, ringing, talking, after-call work, idle) spent ringing,
    /// talking or in after-call work, from the work-state log; `None`
    /// with no staffed time.
    pub occupancy: Option<f64>,
}

/// The figures of `c` (a day's key turned into its date).
pub fn sl_row(c: &store::QueueCounts) -> SlRow {
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    let long_abandoned = c.abandoned - c.short_abandoned;
    let base = c.answered + long_abandoned;
    SlRow {
        queue: c.queue.clone(),
        day: c.day.and_then(|d| {
            chrono::DateTime::from_timestamp_millis(d * DAY_MS)
                .map(|t| t.format("%Y-%m-%d").to_string())
        }),
        offered: c.offered,
        answered: c.answered,
        answered_in_target: c.answered_in_target,
        abandoned: long_abandoned,
        short_abandoned: c.short_abandoned,
        service_level: ratio(c.answered_in_target, base),
        asa_s: ratio(c.answer_wait_secs, c.answered),
        aht_s: ratio(c.talk_secs, c.ended),
        abandon_rate: ratio(long_abandoned, base),
        longest_wait_s: c.longest_wait_secs,
        target_s: 0,
        occupancy: None,
    }
}

/// Each queue's service-level target (seconds), from its settings.
async fn queue_targets(state: &AppState) -> Result<HashMap<String, i64>, store::StoreError> {
    Ok(state
        .store()
        .list_queues()
        .await?
        .into_iter()
        .filter_map(|row| {
            match serde_json::from_str::<engine::acd::QueueConfig>(&row.config) {
                Ok(cfg) => Some((row.name, cfg.service_level_s.as_secs() as i64)),
                // The engine refuses such a queue too; the report counts it
                // with the default target and says why in the log.
                Err(e) => {
                    tracing::warn!(
                        "queue {}: settings unreadable ({e}): default target",
                        row.name
                    );
                    None
                }
            }
        })
        .collect())
}

/// Per queue (and local day), the seconds its agents were busy (ringing,
/// talking, after-call work) and staffed (those and ready or idle) over
/// the days of `[from, to)`: the occupancy's parts.
async fn occupancy_parts(
    state: &AppState,
    from: i64,
    to: i64,
    per_day: bool,
) -> Result<HashMap<(String, Option<String>), (i64, i64)>, store::StoreError> {
    use store::rollup::{day_start, next_day_start};
    let store = state.store();
    let days = (day_start(from), next_day_start(day_start(to - 1)));
    let states = store
        .agent_state_totals(days.0, days.1, per_day, None)
        .await?;
    let mut queues_of: HashMap<String, Vec<String>> = HashMap::new();
    for t in store.list_all_tiers().await? {
        queues_of.entry(t.agent).or_default().push(t.queue);
    }
    let mut parts: HashMap<(String, Option<String>), (i64, i64)> = HashMap::new();
    for r in &states {
        let (busy, staffed) = match r.state.as_str() {
            "ringing" | "talking" | "acw" => (r.secs, r.secs),
            "ready" | "idle" => (0, r.secs),
            _ => continue,
        };
        let day = r.day.map(local_date);
        for queue in queues_of.get(&r.agent).into_iter().flatten() {
            let e = parts.entry((queue.clone(), day.clone())).or_default();
            e.0 += busy;
            e.1 += staffed;
        }
    }
    Ok(parts)
}

/// The local date (`YYYY-MM-DD`) of unix ms `ms`.
fn local_date(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The report's rows for `q` (the store's error as a response otherwise).
pub async fn sl_rows(state: &AppState, q: &SlQuery) -> Result<Vec<SlRow>, Response> {
    let offset = if q.per_day {
        Some(i64::from(chrono::Local::now().offset().local_minus_utc()) * 1000)
    } else {
        None
    };
    let fail =
        |e: store::StoreError| crate::view::internal_error(true, crate::i18n::Lang::En, &e.into());
    // One count per target in use: each queue's own, or the one asked for.
    let targets = if q.per_queue {
        queue_targets(state).await.map_err(fail)?
    } else {
        HashMap::new()
    };
    let target_of = |queue: &str| {
        if q.per_queue {
            targets.get(queue).copied().unwrap_or(q.target_s)
        } else {
            q.target_s
        }
    };
    let mut wanted: Vec<i64> = targets.values().copied().collect();
    wanted.push(q.target_s);
    wanted.sort_unstable();
    wanted.dedup();
    let mut rows = Vec::new();
    for t in wanted {
        let counts = state
            .store()
            .queue_counts(q.from, q.to, t, q.short_s, offset)
            .await
            .map_err(fail)?;
        rows.extend(
            counts
                .iter()
                .filter(|c| target_of(&c.queue) == t)
                .map(|c| SlRow {
                    target_s: t,
                    ..sl_row(c)
                }),
        );
    }
    rows.sort_by(|a, b| (&a.queue, &a.day).cmp(&(&b.queue, &b.day)));
    let parts = occupancy_parts(state, q.from, q.to, q.per_day)
        .await
        .map_err(fail)?;
    for r in &mut rows {
        r.occupancy = parts
            .get(&(r.queue.clone(), r.day.clone()))
            .and_then(|(busy, staffed)| (*staffed > 0).then(|| *busy as f64 / *staffed as f64));
    }
    Ok(rows)
}

/// The spreadsheet columns of the report.
const SL_COLUMNS: [&str; 14] = [
    "queue",
    "day",
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "short_abandoned",
    "service_level_pct",
    "asa_s",
    "aht_s",
    "abandon_rate_pct",
    "longest_wait_s",
    "target_s",
    "occupancy_pct",
];

/// `GET /api/reports/service-level`: per queue (and day) over a window.
#[utoipa::path(get, path = "/api/reports/service-level", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("target_s" = Option<i64>, Query, description = "answered within this many seconds counts toward the service level (default: each queue's own target, service-level-s, 20 s unless set)"),
    ("short_s" = Option<i64>, Query, description = "abandons within this many seconds are short, counted apart (default 5)"),
    ("group" = Option<String>, Query, description = "queue (default) or day (a row per queue and day)"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "{from, to, target_s, short_s, rows: [{queue, day, offered, answered, answered_in_target, abandoned, short_abandoned, service_level, asa_s, aht_s, abandon_rate, longest_wait_s, target_s, occupancy}]} (target_s null at the top: each queue's own), or the spreadsheet", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn service_level(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    let at = crate::auth::now_ms();
    let started = std::time::Instant::now();
    let Some(format) = format_of(&q) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "format: json, csv or xlsx",
            Some("format"),
        );
    };
    let sq = match sl_query_of(&q) {
        Ok(v) => v,
        Err(b) => return api_error(StatusCode::BAD_REQUEST, &b.message, Some(b.field)),
    };
    let rows = match sl_rows(&state, &sq).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if format == "json" {
        return json(
            StatusCode::OK,
            &json!({
                "from": sq.from, "to": sq.to,
                "target_s": (!sq.per_queue).then_some(sq.target_s),
                "short_s": sq.short_s, "rows": rows,
            }),
        );
    }
    let pct = |v: Option<f64>| v.map(|v| format!("{:.1}", v * 100.0)).unwrap_or_default();
    let secs = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let n = rows.len();
    let cells: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![
                r.queue,
                r.day.unwrap_or_default(),
                r.offered.to_string(),
                r.answered.to_string(),
                r.answered_in_target.to_string(),
                r.abandoned.to_string(),
                r.short_abandoned.to_string(),
                pct(r.service_level),
                secs(r.asa_s),
                secs(r.aht_s),
                pct(r.abandon_rate),
                r.longest_wait_s.to_string(),
                r.target_s.to_string(),
                pct(r.occupancy),
            ]
        })
        .collect();
    let headers = SL_COLUMNS.iter().map(|c| c.to_string()).collect();
    let resp = super::import::sheet_download("service-level", format, headers, cells).await;
    let (parts, _) = req.into_parts();
    super::import::audit_export(
        &state,
        &who,
        &parts,
        format!("({n} rows of service-level as {format})"),
        resp.status(),
        at,
        started,
    )
    .await;
    resp
}

/// The output format a report request asks for (`json` by default);
/// `None` for an unknown one.
fn format_of(q: &Fields) -> Option<&'static str> {
    match q.text("format").as_str() {
        "" | "json" => Some("json"),
        "csv" => Some("csv"),
        "xlsx" => Some("xlsx"),
        _ => None,
    }
}

/// One of the manual's eight reports ([`super::report_views`]) as JSON
/// (`{report, from, to, group, columns, rows: [{column: value}]}`) or a
/// spreadsheet (written to the audit log as every export is).
async fn report(
    report: super::report_views::Report,
    who: crate::auth::Identity,
    state: AppState,
    q: Fields,
    req: axum::extract::Request,
) -> Response {
    let at = crate::auth::now_ms();
    let started = std::time::Instant::now();
    let Some(format) = format_of(&q) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "format: json, csv or xlsx",
            Some("format"),
        );
    };
    let rq = match super::report_views::report_query_of(report, &q) {
        Ok(v) => super::report_views::scoped(v, &who),
        Err(b) => return api_error(StatusCode::BAD_REQUEST, &b.message, Some(b.field)),
    };
    let table = match super::report_views::run(state.store(), &rq).await {
        Ok(t) => t,
        Err(e) => return crate::view::internal_error(true, crate::i18n::Lang::En, &e.into()),
    };
    if format == "json" {
        return json(
            StatusCode::OK,
            &json!({
                "report": report.name(), "from": rq.from, "to": rq.to,
                "group": rq.group.name(), "columns": table.columns,
                "rows": table.json_rows(),
            }),
        );
    }
    let n = table.rows.len();
    let headers = table.columns.iter().map(|c| c.to_string()).collect();
    let cells = table
        .rows
        .iter()
        .map(|r| r.iter().map(|c| c.text()).collect())
        .collect();
    let resp = super::import::sheet_download(report.name(), format, headers, cells).await;
    let (parts, _) = req.into_parts();
    super::import::audit_export(
        &state,
        &who,
        &parts,
        format!("({n} rows of {} as {format})", report.name()),
        resp.status(),
        at,
        started,
    )
    .await;
    resp
}

/// `GET /api/reports/traffic`.
#[utoipa::path(get, path = "/api/reports/traffic", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "agent (default), queue, department, day, week or month"),
    ("status" = Option<String>, Query, description = "all (default), answered or lost"),
    ("agent" = Option<String>, Query, description = "only this agent (extension)"),
    ("queue" = Option<String>, Query, description = "only this queue"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Traffic by number (话务统计报表): {report, from, to, group, columns, rows: [{agent, username, kind, lost, calls, talk_s, avg_talk_s, avg_ring_s}]} (the first column is the group's), or the spreadsheet", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn traffic(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(super::report_views::Report::Traffic, who, state, q, req).await
}

/// `GET /api/reports/agent-traffic`.
#[utoipa::path(get, path = "/api/reports/agent-traffic", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "agent (default), queue, department, day, week or month"),
    ("status" = Option<String>, Query, description = "all (default), answered or lost"),
    ("agent" = Option<String>, Query, description = "only this agent (extension)"),
    ("queue" = Option<String>, Query, description = "only this queue"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Agent traffic (坐席话务报表): {report, from, to, group, columns, rows: [{agent, username, lost, calls, talk_s, avg_talk_s, avg_ring_s}]}; calls no agent took are left out", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn agent_traffic(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(
        super::report_views::Report::AgentTraffic,
        who,
        state,
        q,
        req,
    )
    .await
}

/// `GET /api/reports/work-time`.
#[utoipa::path(get, path = "/api/reports/work-time", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "agent (default), department, day, week or month"),
    ("agent" = Option<String>, Query, description = "only this agent (extension)"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Work time by state (工作统计报表), seconds: {report, from, to, group, columns, rows: [{agent, username, ready_s, not_ready_s, not_ready_rest_s, not_ready_meal_s, not_ready_meeting_s, not_ready_training_s, not_ready_other_s, idle_s, ringing_s, talking_s, acw_s, total_s}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn work_time(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(super::report_views::Report::WorkTime, who, state, q, req).await
}

/// `GET /api/reports/inbound`.
#[utoipa::path(get, path = "/api/reports/inbound", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "agent (default), queue, department, day, week or month"),
    ("status" = Option<String>, Query, description = "all (default), answered or lost"),
    ("agent" = Option<String>, Query, description = "only this agent (extension)"),
    ("queue" = Option<String>, Query, description = "only this queue"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Inbound calls (呼入统计报表: kinds inbound, inbound_queue and internal_queue): {report, from, to, group, columns, rows: [{agent, username, calls, answered, talk_s, avg_talk_s, max_talk_s, min_talk_s, max_ring_s, avg_ring_s}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn inbound(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(super::report_views::Report::Inbound, who, state, q, req).await
}

/// `GET /api/reports/outbound`.
#[utoipa::path(get, path = "/api/reports/outbound", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "agent (default), department, day, week or month"),
    ("status" = Option<String>, Query, description = "all (default), answered or lost"),
    ("agent" = Option<String>, Query, description = "only this agent (extension)"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Outbound calls (呼出统计报表): the inbound report's columns", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn outbound(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(super::report_views::Report::Outbound, who, state, q, req).await
}

/// `GET /api/reports/satisfaction`.
#[utoipa::path(get, path = "/api/reports/satisfaction", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "agent (default), queue, department, day, week or month"),
    ("agent" = Option<String>, Query, description = "only this agent (extension)"),
    ("queue" = Option<String>, Query, description = "only this queue"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Satisfaction (满意度统计报表): {report, from, to, group, columns, rows: [{agent, username, satisfied, neutral, unsatisfied, unrated, total, satisfied_pct, neutral_pct, unsatisfied_pct}]}; the survey's keys 1, 2, 3; unrated: answered queue calls without an answer", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn satisfaction(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(
        super::report_views::Report::Satisfaction,
        who,
        state,
        q,
        req,
    )
    .await
}

/// `GET /api/reports/hourly`.
#[utoipa::path(get, path = "/api/reports/hourly", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today), or a local time YYYY-MM-DDTHH:MM"),
    ("to" = Option<String>, Query, description = "last day, included (default today), or a local time; at most ten years after from"),
    ("group" = Option<String>, Query, description = "hour (default: the 24 hours of the day summed over the window) or day (a row per day and hour with calls)"),
    ("queue" = Option<String>, Query, description = "only this queue"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Calls per hour (话务情况统计): {report, from, to, group, columns, rows: [{hour, calls, internal, inbound, outbound, internal_queue, inbound_queue, answered, lost, talk_s}]}", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn hourly(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(super::report_views::Report::Hourly, who, state, q, req).await
}

/// `GET /api/reports/tickets`.
#[utoipa::path(get, path = "/api/reports/tickets", tag = "reports", params(
    ("from" = Option<String>, Query, description = "first day, YYYY-MM-DD (default today)"),
    ("to" = Option<String>, Query, description = "last day, included (default today); at most ten years after from"),
    ("group" = Option<String>, Query, description = "day (default), week, month, department or type"),
    ("department" = Option<i64>, Query, description = "only this department's tickets (id)"),
    ("type" = Option<i64>, Query, description = "only this ticket type (id)"),
    ("status" = Option<String>, Query, description = "all (default), new, replied, closed or reopened"),
    ("format" = Option<String>, Query, description = "json (default), csv or xlsx")),
    responses((status = 200, description = "Tickets created (工单情况统计): {report, from, to, group, columns, rows: [{day, tickets, new, replied, closed, reopened}]} (the status counts are the tickets' statuses now)", body = serde_json::Value), crate::api::doc::Errors))]
pub async fn tickets(
    who: crate::auth::Identity,
    State(state): State<AppState>,
    QueryFields(q): QueryFields,
    req: axum::extract::Request,
) -> Response {
    report(super::report_views::Report::Tickets, who, state, q, req).await
}
