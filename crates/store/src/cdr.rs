//! Call detail records.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// One call's record. Times are unix milliseconds.
///
/// An answered call's row is written at answer with `in_progress` set and
/// completed in place (same `call_uid`) when the call ends, so a crash does
/// not lose the calls that were up: at the next start
/// [`Store::close_in_progress_cdrs`] ends them at `last_seen_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Database id; `None` for a record not yet stored (ignored by
    /// [`Store::upsert_cdrs`]), `Some` when read back.
    pub id: Option<i64>,
    /// The engine's unique id of the call: the key a completion updates the
    /// in-progress row by. `None` only on rows stored before it existed.
    pub call_uid: Option<String>,
    /// The call is still up: `end_at` is provisional (the answer time),
    /// `talk_secs` and the hangup fields are not known yet.
    pub in_progress: bool,
    /// The last time the server knew the call was up (refreshed while it is
    /// in progress); `None` on rows that never were in progress.
    pub last_seen_at: Option<i64>,
    /// SIP Call-ID of the caller's leg.
    pub call_id: String,
    /// Calling number / user.
    pub caller: String,
    /// Calling party's display name; may be empty.
    pub caller_name: String,
    /// Dialled number / user.
    pub callee: String,
    /// `internal`, `inbound` or `outbound`.
    pub direction: String,
    /// When the call arrived.
    pub start_at: i64,
    /// When it was answered; `None` if never answered.
    pub answer_at: Option<i64>,
    /// When it ended (while in progress: when it was answered).
    pub end_at: i64,
    /// Seconds spent ringing.
    pub ring_secs: i64,
    /// Seconds of conversation (0 if unanswered).
    pub talk_secs: i64,
    /// Why the call ended, e.g. `normal_clearing`, `busy`, `no_answer`.
    pub hangup_cause: String,
    /// Who ended it: `caller`, `callee` or `system`.
    pub hangup_by: String,
    /// Final SIP status code (200 for answered calls).
    pub sip_code: i32,
    /// The call's recording, if it was recorded.
    pub recording_path: Option<String>,
    /// Seconds of audio in the recording (paused time excluded).
    pub recorded_secs: i64,
    /// The person on our side who took the call (a queue's agent, the
    /// extension called) or placed it (an outbound call's extension);
    /// `None` when nobody took it. Not serialized here: the history's
    /// [`crate::CdrRecord`] and the screen pop's [`NumberCall`] carry it,
    /// read from the queue events for rows older than this column.
    #[serde(skip)]
    pub agent: Option<String>,
    /// The queue the call came through, if any (serialized as `agent` is).
    #[serde(skip)]
    pub queue: Option<String>,
    /// The gateway the call came in by or went out through, if any.
    pub gateway: Option<String>,
    /// Seconds a queue call's caller waited before an agent answered (or
    /// until the caller gave up); 0 for other calls.
    pub wait_secs: i64,
    /// Seconds a queue call's agent was on it; 0 for other calls.
    pub agent_secs: i64,
}

/// One call of a number, as the agent desk's screen pop lists it: the
/// record, and for a call that came through a queue the queue and the agent
/// who answered it there (from the queue events of the call).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCall {
    /// The call's record.
    #[serde(flatten)]
    pub cdr: Cdr,
    /// The queue the call waited in, if it went through one.
    pub queue: Option<String>,
    /// The agent who answered it in that queue, if one did.
    pub agent: Option<String>,
}

impl NumberCall {
    /// A person took the call: it was answered, and when it came through a
    /// queue (which answers callers itself, to play them music) an agent
    /// answered it there.
    pub fn answered_by_a_person(&self) -> bool {
        self.cdr.answer_at.is_some() && (self.queue.is_none() || self.agent.is_some())
    }
}

/// A number's calls over a time window (see [`Store::number_summary`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberSummary {
    /// Complete calls of the number (as caller or callee) in the window.
    pub calls: i64,
    /// Of those, the calls the number made (it was the caller).
    pub inbound: i64,
    /// Of those, the calls made to the number (it was the callee).
    pub outbound: i64,
    /// Seconds of conversation over those calls.
    pub talk_secs: i64,
    /// Seconds of ringing over those calls.
    pub ring_secs: i64,
    /// When the number's newest call a person answered was answered (any
    /// time, not only in the window; see [`NumberCall::answered_by_a_person`]);
    /// `None` when no call of it ever was.
    pub last_answered_at: Option<i64>,
}

/// The columns a full row is read with (a macro, so queries stay `&'static str`).
macro_rules! columns {
    () => {
        "id, call_uid, in_progress, last_seen_at, call_id, caller, caller_name, callee, \
         direction, start_at, answer_at, end_at, ring_secs, talk_secs, hangup_cause, hangup_by, \
         sip_code, recording_path, recorded_secs, agent, queue, gateway, wait_secs, agent_secs"
    };
}

/// The same columns of table alias `c`.
macro_rules! c_columns {
    () => {
        "c.id, c.call_uid, c.in_progress, c.last_seen_at, c.call_id, c.caller, c.caller_name, \
         c.callee, c.direction, c.start_at, c.answer_at, c.end_at, c.ring_secs, c.talk_secs, \
         c.hangup_cause, c.hangup_by, c.sip_code, c.recording_path, c.recorded_secs, \
         c.agent, c.queue, c.gateway, c.wait_secs, c.agent_secs"
    };
}

/// A call of alias `c` that a person answered: answered, and when it went
/// through a queue an agent answered it there: the record's own queue and
/// agent say so, or for rows older than those columns the call's queue
/// events (their kinds are the engine's, `engine::services::queues_store`).
macro_rules! person_answered {
    () => {
        "c.answer_at IS NOT NULL AND ((c.queue IS NOT NULL AND c.agent IS NOT NULL) \
         OR (c.queue IS NULL AND (NOT EXISTS (SELECT 1 FROM queue_events q \
         WHERE q.call_id = c.call_id) OR EXISTS (SELECT 1 FROM queue_events q \
         WHERE q.call_id = c.call_id AND q.kind = 'answered'))))"
    };
}

/// A call's queue and agent from alias `c` as `queue_name` and
/// `agent_name`: the record's own columns, or for rows older than them the
/// call's queue events (its first queue, the agent who last answered it).
macro_rules! queue_and_agent {
    () => {
        "COALESCE(c.queue, (SELECT q.queue FROM queue_events q WHERE q.call_id = c.call_id \
         ORDER BY q.at, q.id LIMIT 1)) AS queue_name, \
         COALESCE(c.agent, (SELECT q.agent FROM queue_events q WHERE q.call_id = c.call_id \
         AND q.kind = 'answered' ORDER BY q.at DESC, q.id DESC LIMIT 1)) AS agent_name"
    };
}

// The call history's search reads the same columns and the same test; the
// roll-ups' rebuild reads whole rows.
pub(crate) use c_columns;
pub(crate) use columns;
pub(crate) use person_answered;
pub(crate) use queue_and_agent;

/// The upsert of one CDR for backend `$b` (`sqlite` or `postgres`: the
/// test of a row in progress differs, see [`live!`]).
macro_rules! upsert {
    ($b:ident) => {
        concat!(
            "INSERT INTO cdrs (call_uid, in_progress, last_seen_at, call_id, caller, \
             caller_name, callee, direction, start_at, answer_at, end_at, ring_secs, \
             talk_secs, hangup_cause, hangup_by, sip_code, recording_path, recorded_secs, \
             agent, queue, gateway, wait_secs, agent_secs) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23) \
             ON CONFLICT (call_uid) DO UPDATE SET in_progress = excluded.in_progress, \
             last_seen_at = excluded.last_seen_at, call_id = excluded.call_id, \
             caller = excluded.caller, caller_name = excluded.caller_name, \
             callee = excluded.callee, direction = excluded.direction, \
             start_at = excluded.start_at, answer_at = excluded.answer_at, \
             end_at = excluded.end_at, ring_secs = excluded.ring_secs, \
             talk_secs = excluded.talk_secs, hangup_cause = excluded.hangup_cause, \
             hangup_by = excluded.hangup_by, sip_code = excluded.sip_code, \
             recording_path = excluded.recording_path, \
             recorded_secs = excluded.recorded_secs, agent = excluded.agent, \
             queue = excluded.queue, gateway = excluded.gateway, \
             wait_secs = excluded.wait_secs, agent_secs = excluded.agent_secs \
             WHERE cdrs.",
            live!($b)
        )
    };
}

/// Whether a row is in progress, spelled per backend: SQLite's column is
/// INTEGER 0/1 and its partial index `cdrs_in_progress` (`WHERE in_progress
/// = 1`) serves only queries that spell that same term (`= TRUE` scans the
/// table); PostgreSQL's is boolean, indexed `WHERE in_progress`.
macro_rules! live {
    (sqlite) => {
        "in_progress = 1"
    };
    (postgres) => {
        "in_progress"
    };
}

impl Store {
    /// Stores a batch of CDRs in ONE transaction: at 1,500 calls/s a commit
    /// (and fsync) per record would not keep up, so the engine batches.
    ///
    /// A row whose `call_uid` is already stored replaces it while the stored
    /// one is in progress (an answered call completed, or its in-progress
    /// row refreshed); a row already complete is never reopened or changed.
    pub async fn upsert_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        dispatch!(self, db => db.upsert_cdrs(cdrs))
    }

    /// Records that every call in progress was still up at `now_ms`: one
    /// statement for all of them (the index holds only those rows). Returns
    /// how many rows it touched.
    pub async fn touch_in_progress_cdrs(&self, now_ms: i64) -> Result<u64, StoreError> {
        dispatch!(self, db => db.touch_in_progress_cdrs(now_ms))
    }

    /// Closes every row left in progress, i.e. the calls that were up when
    /// the previous server process died without ending them: each ends at
    /// its last known time (`last_seen_at`, at least its answer time), with
    /// `cause`, hung up by `system`, its talk seconds counted to that time.
    /// Returns how many rows it closed.
    ///
    /// Only for a server's start, before it takes calls: the rows of a
    /// server running on the same database would be closed too.
    pub async fn close_in_progress_cdrs(&self, cause: &str) -> Result<u64, StoreError> {
        dispatch!(self, db => db.close_in_progress_cdrs(cause))
    }

    /// The `limit` most recent complete CDRs (by start time), newest first.
    /// A negative limit is treated as 0. Calls still in progress are not
    /// listed ([`Store::list_in_progress_cdrs`]).
    pub async fn list_cdrs(&self, limit: i64) -> Result<Vec<Cdr>, StoreError> {
        dispatch!(self, db => db.list_cdrs(limit))
    }

    /// The CDR of the call named `call` (its `call_uid`, or else its SIP
    /// Call-ID: the newest with it), if written.
    pub async fn cdr_of_call(&self, call: &str) -> Result<Option<Cdr>, StoreError> {
        dispatch!(self, db => db.cdr_of_call(call))
    }

    /// The rows of calls in progress (answered, not ended), oldest first.
    pub async fn list_in_progress_cdrs(&self) -> Result<Vec<Cdr>, StoreError> {
        dispatch!(self, db => db.list_in_progress_cdrs())
    }

    /// Number of stored complete CDRs (calls in progress not counted).
    pub async fn count_cdrs(&self) -> Result<i64, StoreError> {
        dispatch!(self, db => db.count_cdrs())
    }

    /// The `limit` newest complete calls (by start time) of `number`, as
    /// caller or callee, newest first, each with its queue and the agent
    /// who answered it there (the screen pop's history). A negative limit
    /// is treated as 0. Reads one range of the caller and of the callee
    /// index, however many calls the number has.
    pub async fn calls_of_number(
        &self,
        number: &str,
        limit: i64,
    ) -> Result<Vec<NumberCall>, StoreError> {
        dispatch!(self, db => db.calls_of_number(number, limit))
    }

    /// The complete calls of `number` (as caller or callee) that started at
    /// or after `since_ms`, counted, and when a call of it was last answered
    /// by a person (see [`NumberSummary`]).
    pub async fn number_summary(
        &self,
        number: &str,
        since_ms: i64,
    ) -> Result<NumberSummary, StoreError> {
        dispatch!(self, db => db.number_summary(number, since_ms))
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
    pub(crate) async fn upsert_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        if cdrs.is_empty() {
            return Ok(());
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("storing CDRs"))?;
        let mut rollup = crate::rollup::CallRollup::default();
        for cdr in cdrs {
            // Same SQL text every time, so the prepared statement is reused
            // from the connection's cache. ON CONFLICT ... DO UPDATE ... WHERE
            // is the same on SQLite (3.24+) and PostgreSQL; a NULL call_uid
            // never conflicts.
            let done = sqlx::query(DB::sql(upsert!(sqlite), upsert!(postgres)))
                .bind(Self::opt(cdr.call_uid.clone()))
                .bind(cdr.in_progress)
                .bind(Self::opt(cdr.last_seen_at.map(Ts)))
                .bind(&cdr.call_id)
                .bind(&cdr.caller)
                .bind(&cdr.caller_name)
                .bind(&cdr.callee)
                .bind(&cdr.direction)
                .bind(Ts(cdr.start_at))
                .bind(Self::opt(cdr.answer_at.map(Ts)))
                .bind(Ts(cdr.end_at))
                .bind(cdr.ring_secs)
                .bind(cdr.talk_secs)
                .bind(&cdr.hangup_cause)
                .bind(&cdr.hangup_by)
                .bind(cdr.sip_code)
                .bind(Self::opt(cdr.recording_path.clone()))
                .bind(cdr.recorded_secs)
                .bind(Self::opt(cdr.agent.clone()))
                .bind(Self::opt(cdr.queue.clone()))
                .bind(Self::opt(cdr.gateway.clone()))
                .bind(cdr.wait_secs)
                .bind(cdr.agent_secs)
                .execute(&mut *tx)
                .await
                .map_err(db_err("storing CDRs"))?;
            // A complete row counts in the roll-ups once: when it was new or
            // completed a row in progress (a complete row is never changed).
            if !cdr.in_progress && done.rows_affected() == 1 {
                rollup.add_call(cdr);
            }
        }
        Self::write_call_rollup(&mut tx, &rollup)
            .await
            .map_err(db_err("storing CDRs"))?;
        tx.commit().await.map_err(db_err("storing CDRs"))?;
        Ok(())
    }

    pub(crate) async fn touch_in_progress_cdrs(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(DB::sql(
            concat!("UPDATE cdrs SET last_seen_at = $1 WHERE ", live!(sqlite)),
            concat!("UPDATE cdrs SET last_seen_at = $1 WHERE ", live!(postgres)),
        ))
        .bind(Ts(now_ms))
        .execute(&self.pool)
        .await
        .map_err(db_err("refreshing CDRs in progress"))?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn close_in_progress_cdrs(&self, cause: &str) -> Result<u64, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("closing CDRs left in progress"))?;
        // The rows about to close, to add them to the roll-ups once closed
        // (a few: the calls that were up when the server died).
        let ids: Vec<i64> = sqlx::query_scalar(DB::sql(
            concat!("SELECT id FROM cdrs WHERE ", live!(sqlite)),
            concat!("SELECT id FROM cdrs WHERE ", live!(postgres)),
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err("closing CDRs left in progress"))?;
        // end_at of an in-progress row is its answer time: the later of the
        // two is the last known time. (No MAX()/GREATEST(): they differ
        // between SQLite and PostgreSQL.)
        sqlx::query(DB::sql(
            concat!(
                "UPDATE cdrs SET end_at = CASE WHEN last_seen_at > end_at THEN last_seen_at \
                 ELSE end_at END WHERE ",
                live!(sqlite)
            ),
            concat!(
                "UPDATE cdrs SET end_at = CASE WHEN last_seen_at > end_at THEN last_seen_at \
                 ELSE end_at END WHERE ",
                live!(postgres)
            ),
        ))
        .execute(&mut *tx)
        .await
        .map_err(db_err("closing CDRs left in progress"))?;
        // Talk time rounded to the nearest second, as the engine counts live
        // calls. Date arithmetic: SQLite subtracts unix ms; PostgreSQL
        // subtracts timestamptz (an interval, in seconds by EXTRACT).
        let closed = sqlx::query(DB::sql(
            concat!(
                "UPDATE cdrs SET in_progress = 0, last_seen_at = end_at, \
                 talk_secs = CASE WHEN answer_at IS NULL THEN 0 \
                 ELSE (end_at - answer_at + 500) / 1000 END, \
                 hangup_cause = $1, hangup_by = 'system' WHERE ",
                live!(sqlite)
            ),
            concat!(
                "UPDATE cdrs SET in_progress = FALSE, last_seen_at = end_at, \
                 talk_secs = CASE WHEN answer_at IS NULL THEN 0 \
                 ELSE (FLOOR(EXTRACT(EPOCH FROM end_at - answer_at) * 1000)::BIGINT + 500) \
                 / 1000 END, \
                 hangup_cause = $1, hangup_by = 'system' WHERE ",
                live!(postgres)
            ),
        ))
        .bind(cause)
        .execute(&mut *tx)
        .await
        .map_err(db_err("closing CDRs left in progress"))?;
        let mut rollup = crate::rollup::CallRollup::default();
        for id in ids {
            let row = sqlx::query(concat!("SELECT ", columns!(), " FROM cdrs WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("closing CDRs left in progress"))?;
            let cdr = Self::cdr_from_row(&row).map_err(db_err("closing CDRs left in progress"))?;
            rollup.add_call(&cdr);
        }
        Self::write_call_rollup(&mut tx, &rollup)
            .await
            .map_err(db_err("closing CDRs left in progress"))?;
        tx.commit()
            .await
            .map_err(db_err("closing CDRs left in progress"))?;
        Ok(closed.rows_affected())
    }

    pub(crate) async fn list_cdrs(&self, limit: i64) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM cdrs WHERE in_progress = FALSE ORDER BY start_at DESC, id DESC LIMIT $1"
        ))
        // SQLite treats a negative LIMIT as "no limit"; PostgreSQL rejects it.
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing CDRs"))?;
        rows.iter()
            .map(Self::cdr_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing CDRs"))
    }

    pub(crate) async fn cdr_of_call(&self, call: &str) -> Result<Option<Cdr>, StoreError> {
        for sql in [
            concat!("SELECT ", columns!(), " FROM cdrs WHERE call_uid = $1"),
            concat!(
                "SELECT ",
                columns!(),
                " FROM cdrs WHERE call_id = $1 ORDER BY start_at DESC, id DESC LIMIT 1"
            ),
        ] {
            let row = sqlx::query(sql)
                .bind(call)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("finding a call's CDR"))?;
            if let Some(r) = row {
                return Self::cdr_from_row(&r)
                    .map(Some)
                    .map_err(db_err("finding a call's CDR"));
            }
        }
        Ok(None)
    }

    pub(crate) async fn list_in_progress_cdrs(&self) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query(DB::sql(
            concat!(
                "SELECT ",
                columns!(),
                " FROM cdrs WHERE ",
                live!(sqlite),
                " ORDER BY start_at, id"
            ),
            concat!(
                "SELECT ",
                columns!(),
                " FROM cdrs WHERE ",
                live!(postgres),
                " ORDER BY start_at, id"
            ),
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing CDRs in progress"))?;
        rows.iter()
            .map(Self::cdr_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing CDRs in progress"))
    }

    pub(crate) async fn count_cdrs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM cdrs WHERE in_progress = FALSE")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("counting CDRs"))
    }

    pub(crate) async fn calls_of_number(
        &self,
        number: &str,
        limit: i64,
    ) -> Result<Vec<NumberCall>, StoreError> {
        const CONTEXT: &str = "listing the calls of a number";
        // One branch per index (caller, start_at) and (callee, start_at),
        // each its newest `limit` rows, so neither backend reads all of the
        // number's rows to sort them; a call from the number to itself is
        // in the first branch only. The queue and agent come from the
        // call's queue events (index on call_id).
        let rows = sqlx::query(concat!(
            "SELECT ",
            c_columns!(),
            ", ",
            queue_and_agent!(),
            " FROM (SELECT * FROM (SELECT ",
            columns!(),
            " FROM cdrs WHERE caller = $1 AND in_progress = FALSE \
             ORDER BY start_at DESC, id DESC LIMIT $2) AS mine \
             UNION ALL SELECT * FROM (SELECT ",
            columns!(),
            " FROM cdrs WHERE callee = $1 AND caller <> $1 AND in_progress = FALSE \
             ORDER BY start_at DESC, id DESC LIMIT $2) AS theirs) AS c \
             ORDER BY c.start_at DESC, c.id DESC LIMIT $2"
        ))
        .bind(number)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|row| {
                Ok(NumberCall {
                    cdr: Self::cdr_from_row(row)?,
                    queue: row.try_get("queue_name")?,
                    agent: row.try_get("agent_name")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn number_summary(
        &self,
        number: &str,
        since_ms: i64,
    ) -> Result<NumberSummary, StoreError> {
        const CONTEXT: &str = "summing up the calls of a number";
        // Two disjoint branches again (see calls_of_number), each one range
        // of its index. SUM of BIGINT is NUMERIC on PostgreSQL: cast back.
        let row = sqlx::query(
            "SELECT COUNT(*) AS calls, \
             CAST(COALESCE(SUM(CASE WHEN x.caller = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             AS inbound, \
             CAST(COALESCE(SUM(CASE WHEN x.caller = $1 THEN 0 ELSE 1 END), 0) AS BIGINT) \
             AS outbound, \
             CAST(COALESCE(SUM(x.talk_secs), 0) AS BIGINT) AS talk, \
             CAST(COALESCE(SUM(x.ring_secs), 0) AS BIGINT) AS ring \
             FROM (SELECT caller, talk_secs, ring_secs FROM cdrs \
             WHERE caller = $1 AND start_at >= $2 AND in_progress = FALSE \
             UNION ALL SELECT caller, talk_secs, ring_secs FROM cdrs \
             WHERE callee = $1 AND caller <> $1 AND start_at >= $2 AND in_progress = FALSE) \
             AS x",
        )
        .bind(number)
        .bind(Ts(since_ms))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        // The newest answered call of each branch, walking the index back
        // from the newest: a person answered it (see person_answered!).
        let last = sqlx::query(concat!(
            "SELECT a FROM (SELECT c.answer_at AS a FROM cdrs c \
             WHERE c.caller = $1 AND c.in_progress = FALSE AND ",
            person_answered!(),
            " ORDER BY c.start_at DESC, c.id DESC LIMIT 1) AS mine \
             UNION ALL SELECT a FROM (SELECT c.answer_at AS a FROM cdrs c \
             WHERE c.callee = $1 AND c.caller <> $1 AND c.in_progress = FALSE AND ",
            person_answered!(),
            " ORDER BY c.start_at DESC, c.id DESC LIMIT 1) AS theirs"
        ))
        .bind(number)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let last_answered_at = last
            .iter()
            .map(|r| r.try_get::<Option<Ts>, _>("a").map(|t| t.map(|t| t.0)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(CONTEXT))?
            .into_iter()
            .flatten()
            .max();
        let get = |name: &str| row.try_get::<i64, _>(name).map_err(db_err(CONTEXT));
        Ok(NumberSummary {
            calls: get("calls")?,
            inbound: get("inbound")?,
            outbound: get("outbound")?,
            talk_secs: get("talk")?,
            ring_secs: get("ring")?,
            last_answered_at,
        })
    }

    /// Decodes a full `cdrs` row.
    pub(crate) fn cdr_from_row(row: &DB::Row) -> Result<Cdr, sqlx::Error> {
        Ok(Cdr {
            id: Some(row.try_get("id")?),
            call_uid: row.try_get("call_uid")?,
            in_progress: row.try_get("in_progress")?,
            last_seen_at: row.try_get::<Option<Ts>, _>("last_seen_at")?.map(|t| t.0),
            call_id: row.try_get("call_id")?,
            caller: row.try_get("caller")?,
            caller_name: row.try_get("caller_name")?,
            callee: row.try_get("callee")?,
            direction: row.try_get("direction")?,
            start_at: row.try_get::<Ts, _>("start_at")?.0,
            answer_at: row.try_get::<Option<Ts>, _>("answer_at")?.map(|t| t.0),
            end_at: row.try_get::<Ts, _>("end_at")?.0,
            ring_secs: row.try_get("ring_secs")?,
            talk_secs: row.try_get("talk_secs")?,
            hangup_cause: row.try_get("hangup_cause")?,
            hangup_by: row.try_get("hangup_by")?,
            sip_code: row.try_get("sip_code")?,
            recording_path: row.try_get("recording_path")?,
            recorded_secs: row.try_get("recorded_secs")?,
            agent: row.try_get("agent")?,
            queue: row.try_get("queue")?,
            gateway: row.try_get("gateway")?,
            wait_secs: row.try_get("wait_secs")?,
            agent_secs: row.try_get("agent_secs")?,
        })
    }
}
