//! The call history (manual 11.1 通话记录): complete call records found by
//! time, number, direction, outcome, recording, agent, queue and hang-up
//! cause, newest first, each with the queue it waited in, the agent who
//! answered it there and the caller's satisfaction score.
//!
//! The queue, agent and score are read from the queue events and survey
//! answers of the call (by its Call-ID) rather than copied into the record:
//! they are written by other parts of the engine, at other times, and a
//! page reads them for its own rows only.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::audit::like as contains;
use crate::cdr::{c_columns, person_answered, queue_and_agent};
use crate::db::{db_err, Backend, Db, Ts, Value};
use crate::{dispatch, Cdr, Store, StoreError};

/// What the call history is searched for. Text filters are ignored when
/// empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CdrQuery {
    /// Started at or after (unix ms).
    pub from: Option<i64>,
    /// Started before (unix ms).
    pub to: Option<i64>,
    /// The caller or the callee contains this.
    pub number: String,
    /// The caller contains this.
    pub caller: String,
    /// The callee contains this.
    pub callee: String,
    /// `inbound`, `outbound`, `internal`, or `queue` (the call waited in a
    /// queue, whatever its direction).
    pub direction: String,
    /// `answered` (a person took it: see [`crate::NumberCall::answered_by_a_person`])
    /// or `missed` (nobody did).
    pub outcome: String,
    /// Only recorded calls (`Some(true)`) or unrecorded ones (`Some(false)`).
    pub recorded: Option<bool>,
    /// Taken or placed by this agent (see [`Cdr::agent`]; for older rows:
    /// answered in a queue by it).
    pub agent: String,
    /// Waited in this queue.
    pub queue: String,
    /// Exactly this hang-up cause.
    pub cause: String,
    /// Came in by or went out through exactly this gateway.
    pub gateway: String,
    /// At least this many seconds of conversation.
    pub min_talk_secs: i64,
    /// Data scope: only the calls this extension made, received or answered
    /// as an agent; `None` for every call.
    pub extension: Option<String>,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// One call of the history: its record and what the queue events and
/// survey answers say of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrRecord {
    /// The call's record.
    #[serde(flatten)]
    pub cdr: Cdr,
    /// The queue it waited in, if any.
    pub queue: Option<String>,
    /// The agent who answered it in that queue, if one did.
    pub agent: Option<String>,
    /// The caller's satisfaction score, if the caller answered the survey.
    pub satisfaction: Option<i32>,
    /// Nobody took the call (see [`CdrQuery::outcome`]).
    pub missed: bool,
    /// The call has a recording.
    pub recorded: bool,
}

/// A page of the call history and how many calls match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrPage {
    /// The calls, newest first.
    pub rows: Vec<CdrRecord>,
    /// How many match the query.
    pub total: i64,
}

/// The WHERE clause of a search over alias `c`; `$1`..`$14` are the
/// [`CdrQuery`] fields (see [`Db::search_cdrs`] for their order).
macro_rules! cdr_filter {
    () => {
        concat!(
            " FROM cdrs c WHERE c.in_progress = FALSE AND c.start_at >= $1 AND c.start_at < $2 \
             AND ($3 = '' OR c.caller LIKE $3 ESCAPE '\\' OR c.callee LIKE $3 ESCAPE '\\') \
             AND ($4 = '' OR c.caller LIKE $4 ESCAPE '\\') \
             AND ($5 = '' OR c.callee LIKE $5 ESCAPE '\\') \
             AND ($6 = '' OR ($6 = 'queue' AND (c.queue IS NOT NULL OR EXISTS (SELECT 1 \
               FROM queue_events q WHERE q.call_id = c.call_id))) \
               OR ($6 <> 'queue' AND c.direction = $6)) \
             AND ($7 = '' OR ($7 = 'answered' AND ",
            person_answered!(),
            ") OR ($7 = 'missed' AND NOT (",
            person_answered!(),
            "))) \
             AND ($8 = '' OR ($8 = 'yes' AND c.recording_path IS NOT NULL) \
               OR ($8 = 'no' AND c.recording_path IS NULL)) \
             AND ($9 = '' OR c.agent = $9 OR EXISTS (SELECT 1 FROM queue_events q \
               WHERE q.call_id = c.call_id AND q.kind = 'answered' AND q.agent = $9)) \
             AND ($10 = '' OR c.queue = $10 OR EXISTS (SELECT 1 FROM queue_events q \
               WHERE q.call_id = c.call_id AND q.queue = $10)) \
             AND ($11 = '' OR c.hangup_cause = $11) \
             AND ($12 = '' OR c.caller = $12 OR c.callee = $12 OR c.agent = $12 OR EXISTS (SELECT 1 \
               FROM queue_events q WHERE q.call_id = c.call_id AND q.kind = 'answered' \
               AND q.agent = $12)) \
             AND c.talk_secs >= $13 \
             AND ($14 = '' OR c.gateway = $14)"
        )
    };
}

impl Store {
    /// The complete calls matching `q`, newest first, and how many match.
    pub async fn search_cdrs(&self, q: &CdrQuery) -> Result<CdrPage, StoreError> {
        dispatch!(self, db => db.search_cdrs(q))
    }

    /// One complete or live call's record with its queue, agent and score.
    pub async fn cdr_record(&self, id: i64) -> Result<Option<CdrRecord>, StoreError> {
        dispatch!(self, db => db.cdr_record(id))
    }
}

/// Binds the fourteen filter parameters of [`cdr_filter!`] in order.
macro_rules! bind_filter {
    ($query:expr, $q:expr) => {{
        let q = $q;
        // A scope of "" would match every call: an extension-less scope
        // is refused before the query (see `Db::search_cdrs`).
        let scope = q.extension.as_deref().unwrap_or("").trim().to_string();
        let recorded = match q.recorded {
            Some(true) => "yes",
            Some(false) => "no",
            None => "",
        };
        $query
            .bind(Ts(q.from.unwrap_or(i64::MIN)))
            .bind(Ts(q.to.unwrap_or(i64::MAX)))
            .bind(contains(&q.number))
            .bind(contains(&q.caller))
            .bind(contains(&q.callee))
            .bind(q.direction.trim().to_string())
            .bind(q.outcome.trim().to_string())
            .bind(recorded)
            .bind(q.agent.trim().to_string())
            .bind(q.queue.trim().to_string())
            .bind(q.cause.trim().to_string())
            .bind(scope)
            .bind(q.min_talk_secs.max(0))
            .bind(q.gateway.trim().to_string())
    }};
}

/// The columns a [`CdrRecord`] is read with, from alias `c`.
macro_rules! record_columns {
    () => {
        concat!(
            c_columns!(),
            ", ",
            queue_and_agent!(),
            ", (SELECT s.score FROM surveys s WHERE s.call_id = c.call_id \
             ORDER BY s.at DESC, s.id DESC LIMIT 1) AS satisfaction, \
             CASE WHEN ",
            person_answered!(),
            " THEN 0 ELSE 1 END AS missed"
        )
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
    pub(crate) async fn search_cdrs(&self, q: &CdrQuery) -> Result<CdrPage, StoreError> {
        const CONTEXT: &str = "searching the call history";
        if q.extension.as_deref().is_some_and(|e| e.trim().is_empty()) {
            return Ok(CdrPage::default());
        }
        let total: i64 = bind_filter!(
            sqlx::query_scalar(concat!("SELECT COUNT(*)", cdr_filter!())),
            q
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let rows = bind_filter!(
            sqlx::query(concat!(
                "SELECT ",
                record_columns!(),
                cdr_filter!(),
                " ORDER BY c.start_at DESC, c.id DESC LIMIT $15 OFFSET $16"
            )),
            q
        )
        // SQLite takes a negative LIMIT for "none"; PostgreSQL refuses it.
        .bind(q.limit.max(0))
        .bind(q.offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let rows = rows
            .iter()
            .map(Self::cdr_record_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))?;
        Ok(CdrPage { rows, total })
    }

    pub(crate) async fn cdr_record(&self, id: i64) -> Result<Option<CdrRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            record_columns!(),
            " FROM cdrs c WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a call record"))?;
        row.as_ref()
            .map(Self::cdr_record_from_row)
            .transpose()
            .map_err(db_err("reading a call record"))
    }

    fn cdr_record_from_row(row: &DB::Row) -> Result<CdrRecord, sqlx::Error> {
        let cdr = Self::cdr_from_row(row)?;
        let recorded = cdr.recording_path.is_some();
        Ok(CdrRecord {
            cdr,
            queue: row.try_get("queue_name")?,
            agent: row.try_get("agent_name")?,
            satisfaction: row.try_get("satisfaction")?,
            missed: row.try_get::<i32, _>("missed")? != 0,
            recorded,
        })
    }
}
