//! An agent's figures over a period ("my figures today" on the agent
//! desk), counted from the records the engine writes: queue events for the
//! queue calls (which agent was offered, answered, talked how long), CDRs
//! for the calls to and from the agent's extension, and the missed calls
//! of that extension.
//!
//! The queue events' kinds and reasons read here are the engine's
//! (`engine::services::queues_store`): `answered`, `ended` (with the talk
//! seconds) and `offer_failed` (with the offer's outcome as reason).

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{db_err, Backend, Db, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// What an agent (by extension, which is also the agent id) did since a
/// time (see [`Store::agent_figures`]). After-call work is not recorded
/// anywhere, so handle times are talk times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFigures {
    /// Queue calls the agent answered.
    pub queue_answered: i64,
    /// Seconds talked on queue calls that ended in the period.
    pub queue_talk_secs: i64,
    /// Queue offers the agent let ring out, declined (603) or answered busy
    /// (486/600: what most phones send for their decline button).
    pub missed_offers: i64,
    /// Calls to the extension (not through a queue) that it answered
    /// itself: its voicemail taking a call is not answering it.
    pub direct_answered: i64,
    /// Seconds talked on those calls.
    pub direct_talk_secs: i64,
    /// Calls the extension made that were answered.
    pub made: i64,
    /// Seconds talked on those calls.
    pub made_talk_secs: i64,
    /// Calls to the extension it did not take (rang out, busy, declined,
    /// not registered: its missed-calls list).
    pub missed_direct: i64,
}

impl AgentFigures {
    /// Calls answered: queue calls and direct calls.
    pub fn answered(&self) -> i64 {
        self.queue_answered + self.direct_answered
    }

    /// Calls handled: answered ones and answered calls made.
    pub fn handled(&self) -> i64 {
        self.answered() + self.made
    }

    /// Seconds talked on every kind of call.
    pub fn talk_secs(&self) -> i64 {
        self.queue_talk_secs + self.direct_talk_secs + self.made_talk_secs
    }

    /// Offers and calls missed.
    pub fn missed(&self) -> i64 {
        self.missed_offers + self.missed_direct
    }

    /// Average handle time in whole seconds (rounded): talk time over the
    /// calls handled (after-call work is not recorded); 0 with no calls.
    pub fn average_handle_secs(&self) -> i64 {
        match self.handled() {
            0 => 0,
            n => (self.talk_secs() + n / 2) / n,
        }
    }
}

impl Store {
    /// The figures of agent / extension `ext` since `since_ms` (unix ms;
    /// the desk asks from local midnight). Complete calls only: a call in
    /// progress counts once it ends.
    pub async fn agent_figures(
        &self,
        ext: &str,
        since_ms: i64,
    ) -> Result<AgentFigures, StoreError> {
        dispatch!(self, db => db.agent_figures(ext, since_ms))
    }
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
    pub(crate) async fn agent_figures(
        &self,
        ext: &str,
        since_ms: i64,
    ) -> Result<AgentFigures, StoreError> {
        const CONTEXT: &str = "counting an agent's figures";
        // SUM of BIGINT is NUMERIC on PostgreSQL (and NULL over no rows on
        // both): every sum is cast back to BIGINT over a COALESCE.
        //
        // Queue calls: the agent's events of the period (index agent, at).
        let queue = sqlx::query(
            "SELECT \
             CAST(COALESCE(SUM(CASE WHEN kind = 'answered' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             AS answered, \
             CAST(COALESCE(SUM(CASE WHEN kind = 'ended' THEN COALESCE(talk_secs, 0) ELSE 0 END), \
             0) AS BIGINT) AS talk, \
             CAST(COALESCE(SUM(CASE WHEN kind = 'offer_failed' \
             AND reason IN ('no-answer', 'rejected', 'busy') THEN 1 ELSE 0 END), 0) AS BIGINT) \
             AS missed \
             FROM queue_events WHERE agent = $1 AND at >= $2",
        )
        .bind(ext)
        .bind(Ts(since_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        // Calls to the extension that it answered: not those its voicemail
        // took (they are missed calls of the extension, recorded while the
        // call was up). Index (callee, start_at); missed_calls (extension, at).
        let direct = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(c.talk_secs), 0) AS BIGINT) AS talk \
             FROM cdrs c WHERE c.callee = $1 AND c.caller <> $1 AND c.start_at >= $2 \
             AND c.in_progress = FALSE AND c.answer_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM missed_calls m WHERE m.extension = c.callee \
             AND m.caller = c.caller AND m.at >= c.start_at AND m.at <= c.end_at)",
        )
        .bind(ext)
        .bind(Ts(since_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        // Calls the extension made that were answered. Index (caller, start_at).
        let made = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(talk_secs), 0) AS BIGINT) AS talk \
             FROM cdrs WHERE caller = $1 AND start_at >= $2 AND in_progress = FALSE \
             AND answer_at IS NOT NULL",
        )
        .bind(ext)
        .bind(Ts(since_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let missed_direct: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM missed_calls WHERE extension = $1 AND at >= $2",
        )
        .bind(ext)
        .bind(Ts(since_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let get = |row: &DB::Row, name: &str| row.try_get::<i64, _>(name).map_err(db_err(CONTEXT));
        Ok(AgentFigures {
            queue_answered: get(&queue, "answered")?,
            queue_talk_secs: get(&queue, "talk")?,
            missed_offers: get(&queue, "missed")?,
            direct_answered: get(&direct, "n")?,
            direct_talk_secs: get(&direct, "talk")?,
            made: get(&made, "n")?,
            made_talk_secs: get(&made, "talk")?,
            missed_direct,
        })
    }
}
