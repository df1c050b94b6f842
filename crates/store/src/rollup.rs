//! The reports' roll-up tables (migration 21): sums of the raw records per
//! day or hour, added to in the same transaction as the raw rows they sum,
//! so a report over a year reads a few hundred thousand summed rows instead
//! of millions of calls, and is never behind the raw records. If they ever
//! disagree (a restore of the raw tables alone, a bug),
//! [`Store::rebuild_rollups`] (`switchboard reports rebuild`) sums them
//! again from the raw records.
//!
//! Buckets are unix ms: a day is the local midnight that starts it (the
//! server's time zone, as the reports' dates are), an hour the start of the
//! hour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, Ts, Tx, Value};
use crate::{dispatch, Cdr, QueueEvent, Store, StoreError, Survey};

/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;

/// The local midnight (unix ms) that starts the day holding `ms`, in the
/// server's time zone.
pub fn day_start(ms: i64) -> i64 {
    use chrono::{Local, NaiveTime, TimeZone};
    let utc_day = ms - ms.rem_euclid(24 * HOUR_MS);
    let Some(t) = Local.timestamp_millis_opt(ms).single() else {
        return utc_day;
    };
    let midnight = t.date_naive().and_time(NaiveTime::MIN);
    // A midnight a clock change skips starts the day at the first
    // instant that exists.
    Local
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            Local
                .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or(utc_day, |d| d.timestamp_millis())
}

/// The local midnight that ends the day starting at `day` (days are 23 to
/// 25 hours long where clocks change).
pub fn next_day_start(day: i64) -> i64 {
    day_start(day + 26 * HOUR_MS)
}

/// The start (unix ms) of the hour holding `ms`.
pub fn hour_start(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

/// How a call counts in the reports: `internal`, `inbound`, `outbound`,
/// `internal_queue` or `inbound_queue` (the manual's 内线/外线/呼出/
/// 内线转队列/外线转队列).
pub fn call_kind(cdr: &Cdr) -> &'static str {
    match (cdr.direction.as_str(), cdr.queue.is_some()) {
        ("outbound", _) => "outbound",
        ("inbound", true) => "inbound_queue",
        ("inbound", false) => "inbound",
        (_, true) => "internal_queue",
        _ => "internal",
    }
}

/// Whether no person took the call (呼损): never answered, or answered by
/// the system alone (a queue's music, voicemail) with no agent or
/// extension on our side.
pub fn call_lost(cdr: &Cdr) -> bool {
    cdr.answer_at.is_none() || cdr.agent.is_none()
}

/// Who a call counts for: the agent or extension that took or placed it;
/// for a direct call nobody took, the extension called; else nobody ("").
pub fn call_owner(cdr: &Cdr) -> String {
    match (&cdr.agent, call_kind(cdr)) {
        (Some(a), _) => a.clone(),
        (None, "inbound" | "internal") => cdr.callee.clone(),
        _ => String::new(),
    }
}

/// The sums of one agent's calls of one kind over a day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSums {
    /// Calls.
    pub calls: i64,
    /// Seconds talked (for queue calls: with the agent, the wait left out).
    pub talk_secs: i64,
    /// Seconds ringing (for queue calls: waiting for an agent).
    pub ring_secs: i64,
    /// The longest conversation, seconds.
    pub max_talk_secs: i64,
    /// The shortest conversation, seconds.
    pub min_talk_secs: i64,
    /// The longest ringing, seconds.
    pub max_ring_secs: i64,
}

impl CallSums {
    fn one(talk: i64, ring: i64) -> CallSums {
        CallSums {
            calls: 1,
            talk_secs: talk,
            ring_secs: ring,
            max_talk_secs: talk,
            min_talk_secs: talk,
            max_ring_secs: ring,
        }
    }

    /// Adds `o` (sums add, extremes keep the extreme).
    pub fn add(&mut self, o: &CallSums) {
        if self.calls == 0 {
            *self = *o;
            return;
        }
        self.calls += o.calls;
        self.talk_secs += o.talk_secs;
        self.ring_secs += o.ring_secs;
        self.max_talk_secs = self.max_talk_secs.max(o.max_talk_secs);
        self.min_talk_secs = self.min_talk_secs.min(o.min_talk_secs);
        self.max_ring_secs = self.max_ring_secs.max(o.max_ring_secs);
    }
}

/// A call's talk and ring seconds as the reports count them: a queue
/// call's wait is its ringing, and its talk is the agent's.
pub fn call_times(cdr: &Cdr) -> (i64, i64) {
    if cdr.queue.is_some() {
        (cdr.agent_secs.max(0), cdr.wait_secs.max(0))
    } else {
        (cdr.talk_secs.max(0), cdr.ring_secs.max(0))
    }
}

/// Complete calls summed for `rollup_agent_calls` and
/// `rollup_hourly_calls`.
#[derive(Debug, Default)]
pub(crate) struct CallRollup {
    /// (day, owner, kind, queue, lost) → sums.
    days: BTreeMap<(i64, String, &'static str, String, bool), CallSums>,
    /// (hour, kind, queue, lost) → sums.
    hours: BTreeMap<(i64, &'static str, String, bool), CallSums>,
}

impl CallRollup {
    /// Counts one complete call.
    pub(crate) fn add_call(&mut self, cdr: &Cdr) {
        let (talk, ring) = call_times(cdr);
        let one = CallSums::one(talk, ring);
        let kind = call_kind(cdr);
        let queue = cdr.queue.clone().unwrap_or_default();
        let lost = call_lost(cdr);
        self.days
            .entry((
                day_start(cdr.start_at),
                call_owner(cdr),
                kind,
                queue.clone(),
                lost,
            ))
            .or_default()
            .add(&one);
        self.hours
            .entry((hour_start(cdr.start_at), kind, queue, lost))
            .or_default()
            .add(&one);
    }

    fn is_empty(&self) -> bool {
        self.days.is_empty() && self.hours.is_empty()
    }
}

/// The answer-time targets (seconds) and short-abandon thresholds the
/// queue roll-up counts within; other values are counted from the raw
/// events. The targets are the ones a queue may have
/// ([`callcenter::acd::SERVICE_LEVEL_TARGETS_S`]).
pub const SL_TARGETS: [i64; 8] = {
    let t = callcenter::acd::SERVICE_LEVEL_TARGETS_S;
    [
        t[0] as i64,
        t[1] as i64,
        t[2] as i64,
        t[3] as i64,
        t[4] as i64,
        t[5] as i64,
        t[6] as i64,
        t[7] as i64,
    ]
};
/// See [`SL_TARGETS`].
pub const SHORT_ABANDONS: [i64; 3] = [3, 5, 10];

/// One queue's queue events summed over an hour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueueSums {
    offered: i64,
    answered: i64,
    /// Answered within each of [`SL_TARGETS`].
    within: [i64; 8],
    answer_wait_secs: i64,
    longest_wait_secs: i64,
    abandoned: i64,
    /// Abandoned before each of [`SHORT_ABANDONS`].
    short: [i64; 3],
    ended: i64,
    talk_secs: i64,
}

/// Queue events summed for `rollup_queues`.
#[derive(Debug, Default)]
pub(crate) struct QueueRollup {
    hours: BTreeMap<(i64, String), QueueSums>,
}

impl QueueRollup {
    /// Counts one queue event (the kinds the service level reads; the
    /// others change nothing).
    pub(crate) fn add_event(&mut self, e: &QueueEvent) {
        let wait = e.wait_secs.unwrap_or(0);
        let s = self
            .hours
            .entry((hour_start(e.at), e.queue.clone()))
            .or_default();
        match e.kind.as_str() {
            "joined" => s.offered += 1,
            "answered" => {
                s.answered += 1;
                for (n, t) in s.within.iter_mut().zip(SL_TARGETS) {
                    *n += i64::from(wait <= t);
                }
                s.answer_wait_secs += wait;
                s.longest_wait_secs = s.longest_wait_secs.max(wait);
            }
            "abandoned" => {
                s.abandoned += 1;
                for (n, t) in s.short.iter_mut().zip(SHORT_ABANDONS) {
                    *n += i64::from(wait < t);
                }
                s.longest_wait_secs = s.longest_wait_secs.max(wait);
            }
            "ended" => {
                s.ended += 1;
                s.talk_secs += e.talk_secs.unwrap_or(0);
            }
            _ => {}
        }
    }
}

/// One period an agent spent in one work state (the `agent_states` log
/// the work-time report reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatePeriod {
    /// The agent.
    pub agent: String,
    /// `logged_out`, `ready`, `not_ready`, `ringing`, `talking`, `acw`
    /// (after-call work) or `idle` (logged in, not offered calls).
    pub state: String,
    /// Why, for `not_ready` (the break reason); else "".
    pub reason: String,
    /// When it started (unix ms).
    pub start_at: i64,
    /// When it ended (unix ms).
    pub end_at: i64,
}

/// Agent-state seconds summed for `rollup_agent_states`.
#[derive(Debug, Default)]
pub(crate) struct StateRollup {
    days: BTreeMap<(i64, String, String, String), i64>,
}

impl StateRollup {
    /// Counts one period, split at each local midnight it spans.
    pub(crate) fn add_period(&mut self, p: &AgentStatePeriod) {
        let mut from = p.start_at;
        while from < p.end_at {
            let day = day_start(from);
            let until = next_day_start(day).min(p.end_at);
            // A clock that went back could make a day that ends before it
            // starts: count the rest in this one.
            let until = if until <= from { p.end_at } else { until };
            *self
                .days
                .entry((day, p.agent.clone(), p.state.clone(), p.reason.clone()))
                .or_default() += (until - from + 500) / 1000;
            from = until;
        }
    }
}

/// Survey answers summed for `rollup_surveys`.
#[derive(Debug, Default)]
pub(crate) struct SurveyRollup {
    days: BTreeMap<(i64, String, String, i32), i64>,
}

impl SurveyRollup {
    /// Counts one answer.
    pub(crate) fn add_survey(&mut self, s: &Survey) {
        *self
            .days
            .entry((
                day_start(s.at),
                s.agent.clone().unwrap_or_default(),
                s.queue.clone().unwrap_or_default(),
                s.score,
            ))
            .or_default() += 1;
    }
}

/// What a rebuild summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildSummary {
    /// Complete calls.
    pub cdrs: u64,
    /// Queue events.
    pub queue_events: u64,
    /// Survey answers.
    pub surveys: u64,
    /// Agent-state periods.
    pub agent_states: u64,
}

impl Store {
    /// Stores periods of the agent-state log (and their roll-up) in one
    /// transaction.
    pub async fn insert_agent_states(
        &self,
        periods: &[AgentStatePeriod],
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.insert_agent_states(periods))
    }

    /// The agent-state periods that overlap `[from_ms, to_ms)`, of `agent`
    /// or of every agent, oldest first.
    pub async fn agent_states_between(
        &self,
        agent: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<AgentStatePeriod>, StoreError> {
        dispatch!(self, db => db.agent_states_between(agent, from_ms, to_ms))
    }

    /// Empties the roll-up tables and sums them again from the raw records
    /// (complete CDRs, queue events, survey answers, agent-state periods).
    /// For a server that is stopped: records written while it reads would
    /// be summed twice or not at all.
    pub async fn rebuild_rollups(&self) -> Result<RebuildSummary, StoreError> {
        dispatch!(self, db => db.rebuild_rollups())
    }
}

/// Rows read per page while rebuilding (keyset pages by id).
const REBUILD_PAGE: i64 = 20_000;

impl<DB: Backend> Db<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    bool: Value<DB>,
    i32: Value<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Ts: Value<DB>,
{
    /// Adds the calls summed in `r` to the call roll-ups.
    pub(crate) async fn write_call_rollup(
        tx: &mut Tx<DB>,
        r: &CallRollup,
    ) -> Result<(), sqlx::Error> {
        if r.is_empty() {
            return Ok(());
        }
        for ((day, owner, kind, queue, lost), s) in &r.days {
            sqlx::query(
                "INSERT INTO rollup_agent_calls (day, agent, kind, queue, lost, calls, talk_secs, \
                 ring_secs, max_talk_secs, min_talk_secs, max_ring_secs) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (day, agent, kind, queue, lost) DO UPDATE SET \
                 calls = rollup_agent_calls.calls + excluded.calls, \
                 talk_secs = rollup_agent_calls.talk_secs + excluded.talk_secs, \
                 ring_secs = rollup_agent_calls.ring_secs + excluded.ring_secs, \
                 max_talk_secs = CASE WHEN excluded.max_talk_secs > rollup_agent_calls.max_talk_secs \
                 THEN excluded.max_talk_secs ELSE rollup_agent_calls.max_talk_secs END, \
                 min_talk_secs = CASE WHEN excluded.min_talk_secs < rollup_agent_calls.min_talk_secs \
                 THEN excluded.min_talk_secs ELSE rollup_agent_calls.min_talk_secs END, \
                 max_ring_secs = CASE WHEN excluded.max_ring_secs > rollup_agent_calls.max_ring_secs \
                 THEN excluded.max_ring_secs ELSE rollup_agent_calls.max_ring_secs END",
            )
            .bind(*day)
            .bind(owner.as_str())
            .bind(*kind)
            .bind(queue.as_str())
            .bind(i32::from(*lost))
            .bind(s.calls)
            .bind(s.talk_secs)
            .bind(s.ring_secs)
            .bind(s.max_talk_secs)
            .bind(s.min_talk_secs)
            .bind(s.max_ring_secs)
            .execute(&mut **tx)
            .await?;
        }
        for ((hour, kind, queue, lost), s) in &r.hours {
            sqlx::query(
                "INSERT INTO rollup_hourly_calls (hour, kind, queue, lost, calls, talk_secs, \
                 ring_secs) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (hour, kind, queue, lost) DO UPDATE SET \
                 calls = rollup_hourly_calls.calls + excluded.calls, \
                 talk_secs = rollup_hourly_calls.talk_secs + excluded.talk_secs, \
                 ring_secs = rollup_hourly_calls.ring_secs + excluded.ring_secs",
            )
            .bind(*hour)
            .bind(*kind)
            .bind(queue.as_str())
            .bind(i32::from(*lost))
            .bind(s.calls)
            .bind(s.talk_secs)
            .bind(s.ring_secs)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Adds the queue events summed in `r` to `rollup_queues`.
    pub(crate) async fn write_queue_rollup(
        tx: &mut Tx<DB>,
        r: &QueueRollup,
    ) -> Result<(), sqlx::Error> {
        for ((hour, queue), s) in &r.hours {
            let [w10, w15, w20, w30, w45, w60, w90, w120] = s.within;
            let [a3, a5, a10] = s.short;
            sqlx::query(
                "INSERT INTO rollup_queues (hour, queue, offered, answered, answered_10, \
                 answered_15, answered_20, answered_30, answered_45, answered_60, answered_90, \
                 answered_120, answer_wait_secs, longest_wait_secs, abandoned, abandoned_3, \
                 abandoned_5, abandoned_10, ended, talk_secs) VALUES ($1, $2, $3, $4, $5, $6, \
                 $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                 ON CONFLICT (hour, queue) DO UPDATE SET \
                 offered = rollup_queues.offered + excluded.offered, \
                 answered = rollup_queues.answered + excluded.answered, \
                 answered_10 = rollup_queues.answered_10 + excluded.answered_10, \
                 answered_15 = rollup_queues.answered_15 + excluded.answered_15, \
                 answered_20 = rollup_queues.answered_20 + excluded.answered_20, \
                 answered_30 = rollup_queues.answered_30 + excluded.answered_30, \
                 answered_45 = rollup_queues.answered_45 + excluded.answered_45, \
                 answered_60 = rollup_queues.answered_60 + excluded.answered_60, \
                 answered_90 = rollup_queues.answered_90 + excluded.answered_90, \
                 answered_120 = rollup_queues.answered_120 + excluded.answered_120, \
                 answer_wait_secs = rollup_queues.answer_wait_secs + excluded.answer_wait_secs, \
                 longest_wait_secs = CASE WHEN excluded.longest_wait_secs > \
                 rollup_queues.longest_wait_secs THEN excluded.longest_wait_secs \
                 ELSE rollup_queues.longest_wait_secs END, \
                 abandoned = rollup_queues.abandoned + excluded.abandoned, \
                 abandoned_3 = rollup_queues.abandoned_3 + excluded.abandoned_3, \
                 abandoned_5 = rollup_queues.abandoned_5 + excluded.abandoned_5, \
                 abandoned_10 = rollup_queues.abandoned_10 + excluded.abandoned_10, \
                 ended = rollup_queues.ended + excluded.ended, \
                 talk_secs = rollup_queues.talk_secs + excluded.talk_secs",
            )
            .bind(*hour)
            .bind(queue.as_str())
            .bind(s.offered)
            .bind(s.answered)
            .bind(w10)
            .bind(w15)
            .bind(w20)
            .bind(w30)
            .bind(w45)
            .bind(w60)
            .bind(w90)
            .bind(w120)
            .bind(s.answer_wait_secs)
            .bind(s.longest_wait_secs)
            .bind(s.abandoned)
            .bind(a3)
            .bind(a5)
            .bind(a10)
            .bind(s.ended)
            .bind(s.talk_secs)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Adds the agent-state seconds summed in `r` to `rollup_agent_states`.
    pub(crate) async fn write_state_rollup(
        tx: &mut Tx<DB>,
        r: &StateRollup,
    ) -> Result<(), sqlx::Error> {
        for ((day, agent, state, reason), secs) in &r.days {
            sqlx::query(
                "INSERT INTO rollup_agent_states (day, agent, state, reason, secs) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, agent, state, reason) \
                 DO UPDATE SET secs = rollup_agent_states.secs + excluded.secs",
            )
            .bind(*day)
            .bind(agent.as_str())
            .bind(state.as_str())
            .bind(reason.as_str())
            .bind(*secs)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Adds the survey answers summed in `r` to `rollup_surveys`.
    pub(crate) async fn write_survey_rollup(
        tx: &mut Tx<DB>,
        r: &SurveyRollup,
    ) -> Result<(), sqlx::Error> {
        for ((day, agent, queue, score), n) in &r.days {
            sqlx::query(
                "INSERT INTO rollup_surveys (day, agent, queue, score, answers) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, agent, queue, score) \
                 DO UPDATE SET answers = rollup_surveys.answers + excluded.answers",
            )
            .bind(*day)
            .bind(agent.as_str())
            .bind(queue.as_str())
            .bind(*score)
            .bind(*n)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn insert_agent_states(
        &self,
        periods: &[AgentStatePeriod],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "storing agent states";
        if periods.is_empty() {
            return Ok(());
        }
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let mut rollup = StateRollup::default();
        for p in periods {
            sqlx::query(
                "INSERT INTO agent_states (agent, state, reason, start_at, end_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(p.agent.as_str())
            .bind(p.state.as_str())
            .bind(p.reason.as_str())
            .bind(Ts(p.start_at))
            .bind(Ts(p.end_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
            rollup.add_period(p);
        }
        Self::write_state_rollup(&mut tx, &rollup)
            .await
            .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    pub(crate) async fn agent_states_between(
        &self,
        agent: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<AgentStatePeriod>, StoreError> {
        const CONTEXT: &str = "reading agent states";
        let rows = sqlx::query(
            "SELECT agent, state, reason, start_at, end_at FROM agent_states \
             WHERE ($1 = '' OR agent = $1) AND start_at < $3 AND end_at > $2 \
             ORDER BY start_at, id",
        )
        .bind(agent.unwrap_or(""))
        .bind(Ts(from_ms))
        .bind(Ts(to_ms))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| {
                Ok(AgentStatePeriod {
                    agent: r.try_get("agent")?,
                    state: r.try_get("state")?,
                    reason: r.try_get("reason")?,
                    start_at: r.try_get::<Ts, _>("start_at")?.0,
                    end_at: r.try_get::<Ts, _>("end_at")?.0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    /// Calls `f` on every row `sql` selects, read in keyset pages by id:
    /// `sql` selects `id` among its columns, takes the last id seen as `$1`
    /// and the page size as `$2`. Returns how many rows there were.
    async fn each_row(
        &self,
        sql: &'static str,
        mut f: impl FnMut(&DB::Row) -> Result<(), sqlx::Error>,
    ) -> Result<u64, sqlx::Error> {
        let (mut after, mut n) = (i64::MIN, 0u64);
        loop {
            let rows = sqlx::query(sql)
                .bind(after)
                .bind(REBUILD_PAGE)
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                after = row.try_get("id")?;
                f(row)?;
                n += 1;
            }
            if (rows.len() as i64) < REBUILD_PAGE {
                return Ok(n);
            }
        }
    }

    pub(crate) async fn rebuild_rollups(&self) -> Result<RebuildSummary, StoreError> {
        const CONTEXT: &str = "rebuilding the report roll-ups";
        // Read everything first (pages, no lock held for long), then
        // replace the roll-ups in one transaction.
        let mut calls = CallRollup::default();
        let cdrs = self
            .each_row(
                concat!(
                    "SELECT ",
                    crate::cdr::columns!(),
                    " FROM cdrs WHERE id > $1 AND in_progress = FALSE ORDER BY id LIMIT $2"
                ),
                |row| {
                    calls.add_call(&Self::cdr_from_row(row)?);
                    Ok(())
                },
            )
            .await
            .map_err(db_err(CONTEXT))?;
        let mut queues = QueueRollup::default();
        let queue_events = self
            .each_row(
                "SELECT id, at, queue, kind, wait_secs, talk_secs FROM queue_events \
                 WHERE id > $1 ORDER BY id LIMIT $2",
                |row| {
                    queues.add_event(&QueueEvent {
                        at: row.try_get::<Ts, _>("at")?.0,
                        queue: row.try_get("queue")?,
                        kind: row.try_get("kind")?,
                        wait_secs: row.try_get("wait_secs")?,
                        talk_secs: row.try_get("talk_secs")?,
                        ..QueueEvent::default()
                    });
                    Ok(())
                },
            )
            .await
            .map_err(db_err(CONTEXT))?;
        let mut surveys = SurveyRollup::default();
        let answers = self
            .each_row(
                "SELECT id, agent, queue, score, at FROM surveys WHERE id > $1 \
                 ORDER BY id LIMIT $2",
                |row| {
                    surveys.add_survey(&Survey {
                        agent: row.try_get("agent")?,
                        queue: row.try_get("queue")?,
                        score: row.try_get("score")?,
                        at: row.try_get::<Ts, _>("at")?.0,
                        ..Survey::default()
                    });
                    Ok(())
                },
            )
            .await
            .map_err(db_err(CONTEXT))?;
        let mut states = StateRollup::default();
        let periods = self
            .each_row(
                "SELECT id, agent, state, reason, start_at, end_at FROM agent_states \
                 WHERE id > $1 ORDER BY id LIMIT $2",
                |row| {
                    states.add_period(&AgentStatePeriod {
                        agent: row.try_get("agent")?,
                        state: row.try_get("state")?,
                        reason: row.try_get("reason")?,
                        start_at: row.try_get::<Ts, _>("start_at")?.0,
                        end_at: row.try_get::<Ts, _>("end_at")?.0,
                    });
                    Ok(())
                },
            )
            .await
            .map_err(db_err(CONTEXT))?;
        let summary = RebuildSummary {
            cdrs,
            queue_events,
            surveys: answers,
            agent_states: periods,
        };
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        for table in [
            "DELETE FROM rollup_agent_calls",
            "DELETE FROM rollup_hourly_calls",
            "DELETE FROM rollup_queues",
            "DELETE FROM rollup_agent_states",
            "DELETE FROM rollup_surveys",
        ] {
            sqlx::query(table)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        }
        Self::write_call_rollup(&mut tx, &calls)
            .await
            .map_err(db_err(CONTEXT))?;
        Self::write_queue_rollup(&mut tx, &queues)
            .await
            .map_err(db_err(CONTEXT))?;
        Self::write_survey_rollup(&mut tx, &surveys)
            .await
            .map_err(db_err(CONTEXT))?;
        Self::write_state_rollup(&mut tx, &states)
            .await
            .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(summary)
    }
}
