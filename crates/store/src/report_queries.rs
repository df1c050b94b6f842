//! What the reports read from the roll-up tables ([`crate::rollup`]):
//! calls per agent, kind and queue; calls per hour; agents' time per work
//! state; survey answers. Each query sums the roll-up rows of a window
//! (local midnights for the daily tables), grouped by what the report
//! shows, so a year is a few hundred thousand rows read by their key.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{db_err, Backend, Db, Ts, Value};
use crate::rollup::CallSums;
use crate::{dispatch, Store, StoreError};

/// Which calls a call report sums.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollupQuery {
    /// First day (unix ms, a local midnight; days starting before it are
    /// left out).
    pub from: i64,
    /// End, exclusive (unix ms, a local midnight).
    pub to: i64,
    /// One row per day too (else the window summed).
    pub by_day: bool,
    /// Only this agent's calls.
    pub agent: Option<String>,
    /// Only calls through this queue.
    pub queue: Option<String>,
    /// Only these kinds (`internal`, `inbound`, `outbound`,
    /// `internal_queue`, `inbound_queue`); all when empty.
    pub kinds: Vec<String>,
    /// Only lost calls (`Some(true)`) or taken ones (`Some(false)`).
    pub lost: Option<bool>,
    /// With `by_day`: one row per day, kind and outcome only, the agents
    /// and queues summed (`agent` is "*" for calls someone took or
    /// placed, "" for nobody's; `queue` is ""), for reports grouped by
    /// period: a year is a few thousand rows, not one per agent and day.
    pub collapse: bool,
}

/// Calls of one agent, kind, queue and outcome (and day, when asked).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCallRow {
    /// The day (its local midnight, unix ms) when grouped by day.
    pub day: Option<i64>,
    /// Who took or placed the calls ("" for nobody).
    pub agent: String,
    /// The calls' kind.
    pub kind: String,
    /// Their queue ("" for none).
    pub queue: String,
    /// No person took them.
    pub lost: bool,
    /// Their sums.
    pub sums: CallSums,
}

/// Calls of one hour, kind, queue and outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRow {
    /// The hour's start (unix ms).
    pub hour: i64,
    /// The calls' kind.
    pub kind: String,
    /// Their queue ("" for none).
    pub queue: String,
    /// No person took them.
    pub lost: bool,
    /// Calls.
    pub calls: i64,
    /// Seconds talked.
    pub talk_secs: i64,
    /// Seconds ringing (queue calls: waiting).
    pub ring_secs: i64,
}

/// An agent's seconds in one work state (and reason).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRow {
    /// The day (local midnight, unix ms) when grouped by day.
    pub day: Option<i64>,
    /// The agent.
    pub agent: String,
    /// The work state (see [`crate::AgentStatePeriod::state`]).
    pub state: String,
    /// The break reason for `not_ready`, else "".
    pub reason: String,
    /// Seconds.
    pub secs: i64,
}

/// Survey answers of one agent, queue and score.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyRow {
    /// The day (local midnight, unix ms) when grouped by day.
    pub day: Option<i64>,
    /// The agent surveyed about ("" when none was named).
    pub agent: String,
    /// The queue ("" for none).
    pub queue: String,
    /// The score given.
    pub score: i32,
    /// How many gave it.
    pub answers: i64,
}

impl Store {
    /// Calls summed per agent, kind, queue and outcome (and day) over a
    /// window of whole days.
    pub async fn agent_call_totals(
        &self,
        q: &RollupQuery,
    ) -> Result<Vec<AgentCallRow>, StoreError> {
        dispatch!(self, db => db.agent_call_totals(q))
    }

    /// Calls summed per hour, kind, queue and outcome, for hours starting
    /// in `[from, to)` (unix ms).
    pub async fn hourly_call_totals(&self, from: i64, to: i64) -> Result<Vec<HourRow>, StoreError> {
        dispatch!(self, db => db.hourly_call_totals(from, to))
    }

    /// Seconds per agent, work state and reason over the days starting in
    /// `[from, to)`, of `agent` or of everyone; with `by_day` per day,
    /// state and reason, the agents summed (`agent` is "*"): what a
    /// report grouped by period needs, a few thousand rows for a year.
    /// Periods still in progress are not counted yet.
    pub async fn agent_state_totals(
        &self,
        from: i64,
        to: i64,
        by_day: bool,
        agent: Option<&str>,
    ) -> Result<Vec<StateRow>, StoreError> {
        dispatch!(self, db => db.agent_state_totals(from, to, by_day, agent))
    }

    /// Survey answers per agent, queue and score (and day) over the days
    /// starting in `[from, to)`, of `agent` or of everyone.
    pub async fn survey_totals(
        &self,
        from: i64,
        to: i64,
        by_day: bool,
        agent: Option<&str>,
    ) -> Result<Vec<SurveyRow>, StoreError> {
        dispatch!(self, db => db.survey_totals(from, to, by_day, agent))
    }
}

/// The sums of `rollup_agent_calls` rows (cast: PostgreSQL's SUM of a
/// BIGINT is a NUMERIC).
macro_rules! call_sums {
    () => {
        "CAST(SUM(calls) AS BIGINT) AS calls, CAST(SUM(talk_secs) AS BIGINT) AS talk, \
         CAST(SUM(ring_secs) AS BIGINT) AS ring, MAX(max_talk_secs) AS max_talk, \
         MIN(min_talk_secs) AS min_talk, MAX(max_ring_secs) AS max_ring"
    };
}

/// The filters of [`RollupQuery`] on `rollup_agent_calls`: `$1`..`$2` the
/// window, `$3` agent, `$4` queue, `$5` lost (-1 for both), `$6` the kinds
/// as a comma-separated list wrapped in commas ("" for all).
macro_rules! call_filter {
    () => {
        " FROM rollup_agent_calls WHERE day >= $1 AND day < $2 \
         AND ($3 = '' OR agent = $3) AND ($4 = '' OR queue = $4) \
         AND ($5 < 0 OR lost = $5) \
         AND ($6 = '' OR $6 LIKE '%,' || kind || ',%')"
    };
}

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
    pub(crate) async fn agent_call_totals(
        &self,
        q: &RollupQuery,
    ) -> Result<Vec<AgentCallRow>, StoreError> {
        const CONTEXT: &str = "summing calls for a report";
        let sql = if q.by_day && q.collapse {
            concat!(
                "SELECT day, CASE WHEN agent = '' THEN '' ELSE '*' END AS who, kind, \
                 '' AS queue, lost, ",
                call_sums!(),
                call_filter!(),
                " GROUP BY day, CASE WHEN agent = '' THEN '' ELSE '*' END, kind, lost \
                 ORDER BY day, who, kind, lost"
            )
        } else if q.by_day {
            concat!(
                "SELECT day, agent AS who, kind, queue, lost, ",
                call_sums!(),
                call_filter!(),
                " GROUP BY day, agent, kind, queue, lost ORDER BY day, agent, kind, queue, lost"
            )
        } else {
            concat!(
                "SELECT CAST(NULL AS BIGINT) AS day, agent AS who, kind, queue, lost, ",
                call_sums!(),
                call_filter!(),
                " GROUP BY agent, kind, queue, lost ORDER BY agent, kind, queue, lost"
            )
        };
        let kinds = if q.kinds.is_empty() {
            String::new()
        } else {
            format!(",{},", q.kinds.join(","))
        };
        let rows = sqlx::query(sql)
            .bind(q.from)
            .bind(q.to)
            .bind(q.agent.clone().unwrap_or_default())
            .bind(q.queue.clone().unwrap_or_default())
            .bind(q.lost.map_or(-1, i32::from))
            .bind(kinds)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| {
                Ok(AgentCallRow {
                    day: r.try_get("day")?,
                    agent: r.try_get("who")?,
                    kind: r.try_get("kind")?,
                    queue: r.try_get("queue")?,
                    lost: r.try_get::<i32, _>("lost")? != 0,
                    sums: CallSums {
                        calls: r.try_get("calls")?,
                        talk_secs: r.try_get("talk")?,
                        ring_secs: r.try_get("ring")?,
                        max_talk_secs: r.try_get("max_talk")?,
                        min_talk_secs: r.try_get("min_talk")?,
                        max_ring_secs: r.try_get("max_ring")?,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn hourly_call_totals(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<HourRow>, StoreError> {
        const CONTEXT: &str = "summing calls per hour";
        let rows = sqlx::query(
            "SELECT hour, kind, queue, lost, calls, talk_secs, ring_secs FROM rollup_hourly_calls \
             WHERE hour >= $1 AND hour < $2 ORDER BY hour, kind, queue, lost",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| {
                Ok(HourRow {
                    hour: r.try_get("hour")?,
                    kind: r.try_get("kind")?,
                    queue: r.try_get("queue")?,
                    lost: r.try_get::<i32, _>("lost")? != 0,
                    calls: r.try_get("calls")?,
                    talk_secs: r.try_get("talk_secs")?,
                    ring_secs: r.try_get("ring_secs")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn agent_state_totals(
        &self,
        from: i64,
        to: i64,
        by_day: bool,
        agent: Option<&str>,
    ) -> Result<Vec<StateRow>, StoreError> {
        const CONTEXT: &str = "summing agent states";
        let sql = if by_day {
            "SELECT day, '*' AS agent, state, reason, CAST(SUM(secs) AS BIGINT) AS secs \
             FROM rollup_agent_states WHERE day >= $1 AND day < $2 AND ($3 = '' OR agent = $3) \
             GROUP BY day, state, reason ORDER BY day, state, reason"
        } else {
            "SELECT CAST(NULL AS BIGINT) AS day, agent, state, reason, \
             CAST(SUM(secs) AS BIGINT) AS secs \
             FROM rollup_agent_states WHERE day >= $1 AND day < $2 AND ($3 = '' OR agent = $3) \
             GROUP BY agent, state, reason ORDER BY agent, state, reason"
        };
        let rows = sqlx::query(sql)
            .bind(from)
            .bind(to)
            .bind(agent.unwrap_or(""))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| {
                Ok(StateRow {
                    day: r.try_get("day")?,
                    agent: r.try_get("agent")?,
                    state: r.try_get("state")?,
                    reason: r.try_get("reason")?,
                    secs: r.try_get("secs")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn survey_totals(
        &self,
        from: i64,
        to: i64,
        by_day: bool,
        agent: Option<&str>,
    ) -> Result<Vec<SurveyRow>, StoreError> {
        const CONTEXT: &str = "summing survey answers";
        let sql = if by_day {
            "SELECT day, agent, queue, score, CAST(SUM(answers) AS BIGINT) AS answers \
             FROM rollup_surveys WHERE day >= $1 AND day < $2 AND ($3 = '' OR agent = $3) \
             GROUP BY day, agent, queue, score ORDER BY day, agent, queue, score"
        } else {
            "SELECT CAST(NULL AS BIGINT) AS day, agent, queue, score, \
             CAST(SUM(answers) AS BIGINT) AS answers \
             FROM rollup_surveys WHERE day >= $1 AND day < $2 AND ($3 = '' OR agent = $3) \
             GROUP BY agent, queue, score ORDER BY agent, queue, score"
        };
        let rows = sqlx::query(sql)
            .bind(from)
            .bind(to)
            .bind(agent.unwrap_or(""))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| {
                Ok(SurveyRow {
                    day: r.try_get("day")?,
                    agent: r.try_get("agent")?,
                    queue: r.try_get("queue")?,
                    score: r.try_get("score")?,
                    answers: r.try_get("answers")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }
}
