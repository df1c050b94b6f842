//! Call detail records.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{self, db_err, DbRow};
use crate::{Store, StoreError};

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
}

/// The columns a full row is read with (a macro, so queries stay `&'static str`).
macro_rules! columns {
    () => {
        "id, call_uid, in_progress, last_seen_at, call_id, caller, caller_name, callee, \
         direction, start_at, answer_at, end_at, ring_secs, talk_secs, hangup_cause, hangup_by, \
         sip_code, recording_path, recorded_secs"
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
        if cdrs.is_empty() {
            return Ok(());
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("storing CDRs"))?;
        for cdr in cdrs {
            // Same SQL text every time, so the prepared statement is reused
            // from the connection's cache. ON CONFLICT ... DO UPDATE ... WHERE
            // is the same on SQLite (3.24+) and PostgreSQL; a NULL call_uid
            // never conflicts.
            sqlx::query(
                "INSERT INTO cdrs (call_uid, in_progress, last_seen_at, call_id, caller, \
                 caller_name, callee, direction, start_at, answer_at, end_at, ring_secs, \
                 talk_secs, hangup_cause, hangup_by, sip_code, recording_path, recorded_secs) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18) \
                 ON CONFLICT (call_uid) DO UPDATE SET in_progress = excluded.in_progress, \
                 last_seen_at = excluded.last_seen_at, call_id = excluded.call_id, \
                 caller = excluded.caller, caller_name = excluded.caller_name, \
                 callee = excluded.callee, direction = excluded.direction, \
                 start_at = excluded.start_at, answer_at = excluded.answer_at, \
                 end_at = excluded.end_at, ring_secs = excluded.ring_secs, \
                 talk_secs = excluded.talk_secs, hangup_cause = excluded.hangup_cause, \
                 hangup_by = excluded.hangup_by, sip_code = excluded.sip_code, \
                 recording_path = excluded.recording_path, \
                 recorded_secs = excluded.recorded_secs \
                 WHERE cdrs.in_progress = 1",
            )
            .bind(&cdr.call_uid)
            .bind(i32::from(cdr.in_progress))
            .bind(cdr.last_seen_at)
            .bind(&cdr.call_id)
            .bind(&cdr.caller)
            .bind(&cdr.caller_name)
            .bind(&cdr.callee)
            .bind(&cdr.direction)
            .bind(cdr.start_at)
            .bind(cdr.answer_at)
            .bind(cdr.end_at)
            .bind(cdr.ring_secs)
            .bind(cdr.talk_secs)
            .bind(&cdr.hangup_cause)
            .bind(&cdr.hangup_by)
            .bind(cdr.sip_code)
            .bind(&cdr.recording_path)
            .bind(cdr.recorded_secs)
            .execute(&mut *tx)
            .await
            .map_err(db_err("storing CDRs"))?;
        }
        tx.commit().await.map_err(db_err("storing CDRs"))?;
        Ok(())
    }

    /// Records that every call in progress was still up at `now_ms`: one
    /// statement for all of them (the index holds only those rows). Returns
    /// how many rows it touched.
    pub async fn touch_in_progress_cdrs(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE cdrs SET last_seen_at = $1 WHERE in_progress = 1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(db_err("refreshing CDRs in progress"))?;
        Ok(done.rows_affected())
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
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("closing CDRs left in progress"))?;
        // end_at of an in-progress row is its answer time: the later of the
        // two is the last known time. (No MAX()/GREATEST(): they differ
        // between SQLite and PostgreSQL.)
        sqlx::query(
            "UPDATE cdrs SET end_at = CASE WHEN last_seen_at > end_at THEN last_seen_at \
             ELSE end_at END WHERE in_progress = 1",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err("closing CDRs left in progress"))?;
        // Rounded to the nearest second, as the engine counts live calls.
        let closed = sqlx::query(
            "UPDATE cdrs SET in_progress = 0, last_seen_at = end_at, \
             talk_secs = CASE WHEN answer_at IS NULL THEN 0 \
             ELSE (end_at - answer_at + 500) / 1000 END, \
             hangup_cause = $1, hangup_by = 'system' WHERE in_progress = 1",
        )
        .bind(cause)
        .execute(&mut *tx)
        .await
        .map_err(db_err("closing CDRs left in progress"))?;
        tx.commit()
            .await
            .map_err(db_err("closing CDRs left in progress"))?;
        Ok(closed.rows_affected())
    }

    /// The `limit` most recent complete CDRs (by start time), newest first.
    /// A negative limit is treated as 0. Calls still in progress are not
    /// listed ([`Store::list_in_progress_cdrs`]).
    pub async fn list_cdrs(&self, limit: i64) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM cdrs WHERE in_progress = 0 ORDER BY start_at DESC, id DESC LIMIT $1"
        ))
        // SQLite treats a negative LIMIT as "no limit"; PostgreSQL rejects it.
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing CDRs"))?;
        rows.iter()
            .map(from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing CDRs"))
    }

    /// The rows of calls in progress (answered, not ended), oldest first.
    pub async fn list_in_progress_cdrs(&self) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM cdrs WHERE in_progress = 1 ORDER BY start_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing CDRs in progress"))?;
        rows.iter()
            .map(from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing CDRs in progress"))
    }

    /// Number of stored complete CDRs (calls in progress not counted).
    pub async fn count_cdrs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM cdrs WHERE in_progress = 0")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("counting CDRs"))
    }
}

/// Decodes a full `cdrs` row.
fn from_row(row: &DbRow) -> Result<Cdr, sqlx::Error> {
    Ok(Cdr {
        id: Some(row.try_get("id")?),
        call_uid: row.try_get("call_uid")?,
        in_progress: row.try_get::<i32, _>("in_progress")? != 0,
        last_seen_at: row.try_get("last_seen_at")?,
        call_id: row.try_get("call_id")?,
        caller: row.try_get("caller")?,
        caller_name: row.try_get("caller_name")?,
        callee: row.try_get("callee")?,
        direction: row.try_get("direction")?,
        start_at: row.try_get("start_at")?,
        answer_at: row.try_get("answer_at")?,
        end_at: row.try_get("end_at")?,
        ring_secs: row.try_get("ring_secs")?,
        talk_secs: row.try_get("talk_secs")?,
        hangup_cause: row.try_get("hangup_cause")?,
        hangup_by: row.try_get("hangup_by")?,
        sip_code: row.try_get("sip_code")?,
        recording_path: row.try_get("recording_path")?,
        recorded_secs: row.try_get("recorded_secs")?,
    })
}
