//! Call detail records.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{self, db_err, DbRow};
use crate::{Store, StoreError};

/// One finished call. Times are unix milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Database id; `None` for a record not yet stored (ignored by
    /// [`Store::insert_cdrs`]), `Some` when read back.
    pub id: Option<i64>,
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
    /// When it ended.
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

impl Store {
    /// Stores a batch of CDRs in ONE transaction: at 1,500 calls/s a commit
    /// (and fsync) per record would not keep up, so the engine batches.
    pub async fn insert_cdrs(&self, cdrs: &[Cdr]) -> Result<(), StoreError> {
        if cdrs.is_empty() {
            return Ok(());
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("storing CDRs"))?;
        for cdr in cdrs {
            // Same SQL text every time, so the prepared statement is reused
            // from the connection's cache.
            sqlx::query(
                "INSERT INTO cdrs (call_id, caller, caller_name, callee, direction, start_at, \
                 answer_at, end_at, ring_secs, talk_secs, hangup_cause, hangup_by, sip_code, \
                 recording_path, recorded_secs) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
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

    /// The `limit` most recent CDRs (by start time), newest first. A negative
    /// limit is treated as 0.
    pub async fn list_cdrs(&self, limit: i64) -> Result<Vec<Cdr>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, call_id, caller, caller_name, callee, direction, start_at, answer_at, \
             end_at, ring_secs, talk_secs, hangup_cause, hangup_by, sip_code, recording_path, \
             recorded_secs FROM cdrs ORDER BY start_at DESC, id DESC LIMIT $1",
        )
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

    /// Number of stored CDRs.
    pub async fn count_cdrs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM cdrs")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("counting CDRs"))
    }
}

/// Decodes a full `cdrs` row.
fn from_row(row: &DbRow) -> Result<Cdr, sqlx::Error> {
    Ok(Cdr {
        id: Some(row.try_get("id")?),
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
