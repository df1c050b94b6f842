//! Records written by the call-center applications: queue events,
//! voicemails, satisfaction surveys and missed calls. Times are unix
//! milliseconds. These are data, not configuration: writing them bumps no
//! configuration version.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// Something that happened to a call in a queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEvent {
    /// Database id; `None` for an event not yet stored (ignored by
    /// [`Store::insert_queue_events`]), `Some` when read back.
    pub id: Option<i64>,
    /// When it happened.
    pub at: i64,
    /// Queue name.
    pub queue: String,
    /// SIP Call-ID of the caller's leg.
    pub call_id: String,
    /// Calling number / user.
    pub caller: String,
    /// The agent involved, if any.
    pub agent: Option<String>,
    /// What happened (e.g. `joined`, `answered`, `abandoned`); defined by the
    /// engine.
    pub kind: String,
    /// Why, when the kind has a reason (e.g. a timeout).
    pub reason: Option<String>,
    /// Seconds the caller waited in the queue, when known.
    pub wait_secs: Option<i64>,
    /// Seconds of conversation with the agent, when known.
    pub talk_secs: Option<i64>,
}

/// One voicemail message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voicemail {
    /// Database id; `None` before [`Store::insert_voicemail`], `Some` when
    /// read back.
    pub id: Option<i64>,
    /// Mailbox (extension number) the message was left for.
    pub extension: String,
    /// Calling number / user.
    pub caller: String,
    /// When it was left.
    pub at: i64,
    /// The audio file.
    pub path: String,
    /// Length of the message in seconds.
    pub seconds: i64,
    /// `false` for a new message, `true` once heard (an old message).
    pub heard: bool,
}

/// Number of new and old messages in a mailbox (see
/// [`Store::voicemail_counts`]), as message-waiting indicators show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicemailCounts {
    /// Messages not heard yet.
    pub new: i64,
    /// Messages already heard.
    pub old: i64,
}

/// One satisfaction survey answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// Database id; `None` before [`Store::insert_survey`], `Some` when read
    /// back.
    pub id: Option<i64>,
    /// SIP Call-ID of the surveyed call.
    pub call_id: String,
    /// The agent who took the call, if any.
    pub agent: Option<String>,
    /// The queue the call came through, if any.
    pub queue: Option<String>,
    /// The caller's score (scale defined by the engine).
    pub score: i32,
    /// When the answer was given.
    pub at: i64,
}

/// One call an extension did not answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedCall {
    /// Database id; `None` before [`Store::insert_missed_call`], `Some` when
    /// read back.
    pub id: Option<i64>,
    /// The extension that missed the call.
    pub extension: String,
    /// Calling number / user.
    pub caller: String,
    /// When the call came.
    pub at: i64,
}

impl Store {
    /// Stores a batch of queue events in ONE transaction (the engine writes
    /// them behind in batches, like CDRs).
    pub async fn insert_queue_events(&self, events: &[QueueEvent]) -> Result<(), StoreError> {
        dispatch!(self, db => db.insert_queue_events(events))
    }

    /// The queue events of call `call_id`, oldest first.
    pub async fn queue_events_for_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        dispatch!(self, db => db.queue_events_for_call(call_id))
    }

    /// The queue events with `from_ms <= at < to_ms`, of queue `queue` or of
    /// every queue when `None`, oldest first. The caller bounds the range:
    /// every matching row is returned.
    pub async fn queue_events_between(
        &self,
        queue: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        dispatch!(self, db => db.queue_events_between(queue, from_ms, to_ms))
    }

    /// Stores a voicemail message (its `id` is ignored) and returns its id.
    pub async fn insert_voicemail(&self, message: &Voicemail) -> Result<i64, StoreError> {
        dispatch!(self, db => db.insert_voicemail(message))
    }

    /// The messages of mailbox `extension`, newest first.
    pub async fn list_voicemails(&self, extension: &str) -> Result<Vec<Voicemail>, StoreError> {
        dispatch!(self, db => db.list_voicemails(extension))
    }

    /// How many new and old messages mailbox `extension` holds.
    pub async fn voicemail_counts(&self, extension: &str) -> Result<VoicemailCounts, StoreError> {
        dispatch!(self, db => db.voicemail_counts(extension))
    }

    /// Marks message `id` heard (`true`) or new again (`false`). Returns
    /// whether the message exists.
    pub async fn mark_voicemail_heard(&self, id: i64, heard: bool) -> Result<bool, StoreError> {
        dispatch!(self, db => db.mark_voicemail_heard(id, heard))
    }

    /// Deletes message `id` and returns it (so the caller can remove its
    /// audio file), or `None` if it did not exist.
    pub async fn delete_voicemail(&self, id: i64) -> Result<Option<Voicemail>, StoreError> {
        dispatch!(self, db => db.delete_voicemail(id))
    }

    /// Stores a survey answer (its `id` is ignored) and returns its id.
    pub async fn insert_survey(&self, survey: &Survey) -> Result<i64, StoreError> {
        dispatch!(self, db => db.insert_survey(survey))
    }

    /// The `limit` most recent survey answers about agent `agent`, newest
    /// first. A negative limit is treated as 0.
    pub async fn surveys_for_agent(
        &self,
        agent: &str,
        limit: i64,
    ) -> Result<Vec<Survey>, StoreError> {
        dispatch!(self, db => db.surveys_for_agent(agent, limit))
    }

    /// The survey answers about call `call_id`, oldest first.
    pub async fn surveys_for_call(&self, call_id: &str) -> Result<Vec<Survey>, StoreError> {
        dispatch!(self, db => db.surveys_for_call(call_id))
    }

    /// Stores a missed call (its `id` is ignored) and returns its id.
    pub async fn insert_missed_call(&self, call: &MissedCall) -> Result<i64, StoreError> {
        dispatch!(self, db => db.insert_missed_call(call))
    }

    /// The `limit` most recent missed calls of `extension`, newest first. A
    /// negative limit is treated as 0.
    pub async fn list_missed_calls(
        &self,
        extension: &str,
        limit: i64,
    ) -> Result<Vec<MissedCall>, StoreError> {
        dispatch!(self, db => db.list_missed_calls(extension, limit))
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
    pub(crate) async fn insert_queue_events(
        &self,
        events: &[QueueEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("storing queue events"))?;
        let mut rollup = crate::rollup::QueueRollup::default();
        for event in events {
            rollup.add_event(event);
            // Same SQL text every time: the prepared statement is reused.
            sqlx::query(
                "INSERT INTO queue_events (at, queue, call_id, caller, agent, kind, reason, \
                 wait_secs, talk_secs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(Ts(event.at))
            .bind(&event.queue)
            .bind(&event.call_id)
            .bind(&event.caller)
            .bind(Self::opt(event.agent.clone()))
            .bind(&event.kind)
            .bind(Self::opt(event.reason.clone()))
            .bind(Self::opt(event.wait_secs))
            .bind(Self::opt(event.talk_secs))
            .execute(&mut *tx)
            .await
            .map_err(db_err("storing queue events"))?;
        }
        Self::write_queue_rollup(&mut tx, &rollup)
            .await
            .map_err(db_err("storing queue events"))?;
        tx.commit().await.map_err(db_err("storing queue events"))?;
        Ok(())
    }

    pub(crate) async fn queue_events_for_call(
        &self,
        call_id: &str,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, queue, call_id, caller, agent, kind, reason, wait_secs, talk_secs \
             FROM queue_events WHERE call_id = $1 ORDER BY at, id",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading queue events"))?;
        rows.iter()
            .map(Self::queue_event_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("reading queue events"))
    }

    pub(crate) async fn queue_events_between(
        &self,
        queue: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        let rows = match queue {
            Some(queue) => {
                sqlx::query(
                    "SELECT id, at, queue, call_id, caller, agent, kind, reason, wait_secs, \
                     talk_secs FROM queue_events \
                     WHERE queue = $1 AND at >= $2 AND at < $3 ORDER BY at, id",
                )
                .bind(queue)
                .bind(Ts(from_ms))
                .bind(Ts(to_ms))
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT id, at, queue, call_id, caller, agent, kind, reason, wait_secs, \
                     talk_secs FROM queue_events WHERE at >= $1 AND at < $2 ORDER BY at, id",
                )
                .bind(Ts(from_ms))
                .bind(Ts(to_ms))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_err("reading queue events"))?;
        rows.iter()
            .map(Self::queue_event_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("reading queue events"))
    }

    pub(crate) async fn insert_voicemail(&self, message: &Voicemail) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO voicemails (extension, caller, at, path, seconds, heard) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&message.extension)
        .bind(&message.caller)
        .bind(Ts(message.at))
        .bind(&message.path)
        .bind(message.seconds)
        .bind(message.heard)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("storing a voicemail"))
    }

    pub(crate) async fn list_voicemails(
        &self,
        extension: &str,
    ) -> Result<Vec<Voicemail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, extension, caller, at, path, seconds, heard FROM voicemails \
             WHERE extension = $1 ORDER BY at DESC, id DESC",
        )
        .bind(extension)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing voicemails"))?;
        rows.iter()
            .map(Self::voicemail_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing voicemails"))
    }

    pub(crate) async fn voicemail_counts(
        &self,
        extension: &str,
    ) -> Result<VoicemailCounts, StoreError> {
        let rows: Vec<(bool, i64)> = sqlx::query_as(
            "SELECT heard, COUNT(*) FROM voicemails WHERE extension = $1 GROUP BY heard",
        )
        .bind(extension)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("counting voicemails"))?;
        let mut counts = VoicemailCounts::default();
        for (heard, count) in rows {
            if heard {
                counts.old += count;
            } else {
                counts.new += count;
            }
        }
        Ok(counts)
    }

    pub(crate) async fn mark_voicemail_heard(
        &self,
        id: i64,
        heard: bool,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE voicemails SET heard = $1 WHERE id = $2")
            .bind(heard)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("marking a voicemail"))?
            .rows_affected();
        Ok(changed > 0)
    }

    pub(crate) async fn delete_voicemail(&self, id: i64) -> Result<Option<Voicemail>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM voicemails WHERE id = $1 \
             RETURNING id, extension, caller, at, path, seconds, heard",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("deleting a voicemail"))?;
        row.as_ref()
            .map(Self::voicemail_from_row)
            .transpose()
            .map_err(db_err("deleting a voicemail"))
    }

    pub(crate) async fn insert_survey(&self, survey: &Survey) -> Result<i64, StoreError> {
        const CONTEXT: &str = "storing a survey";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let id = sqlx::query_scalar(
            "INSERT INTO surveys (call_id, agent, queue, score, at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&survey.call_id)
        .bind(Self::opt(survey.agent.clone()))
        .bind(Self::opt(survey.queue.clone()))
        .bind(survey.score)
        .bind(Ts(survey.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        let mut rollup = crate::rollup::SurveyRollup::default();
        rollup.add_survey(survey);
        Self::write_survey_rollup(&mut tx, &rollup)
            .await
            .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(id)
    }

    pub(crate) async fn surveys_for_agent(
        &self,
        agent: &str,
        limit: i64,
    ) -> Result<Vec<Survey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, call_id, agent, queue, score, at FROM surveys WHERE agent = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(agent)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading surveys"))?;
        rows.iter()
            .map(Self::survey_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("reading surveys"))
    }

    pub(crate) async fn surveys_for_call(&self, call_id: &str) -> Result<Vec<Survey>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, call_id, agent, queue, score, at FROM surveys WHERE call_id = $1 \
             ORDER BY at, id",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading surveys"))?;
        rows.iter()
            .map(Self::survey_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("reading surveys"))
    }

    pub(crate) async fn insert_missed_call(&self, call: &MissedCall) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO missed_calls (extension, caller, at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(&call.extension)
        .bind(&call.caller)
        .bind(Ts(call.at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("storing a missed call"))
    }

    pub(crate) async fn list_missed_calls(
        &self,
        extension: &str,
        limit: i64,
    ) -> Result<Vec<MissedCall>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, extension, caller, at FROM missed_calls WHERE extension = $1 \
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(extension)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing missed calls"))?;
        rows.iter()
            .map(|row| {
                Ok(MissedCall {
                    id: Some(row.try_get("id")?),
                    extension: row.try_get("extension")?,
                    caller: row.try_get("caller")?,
                    at: row.try_get::<Ts, _>("at")?.0,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(db_err("listing missed calls"))
    }

    /// Decodes a full `queue_events` row.
    pub(crate) fn queue_event_from_row(row: &DB::Row) -> Result<QueueEvent, sqlx::Error> {
        Ok(QueueEvent {
            id: Some(row.try_get("id")?),
            at: row.try_get::<Ts, _>("at")?.0,
            queue: row.try_get("queue")?,
            call_id: row.try_get("call_id")?,
            caller: row.try_get("caller")?,
            agent: row.try_get("agent")?,
            kind: row.try_get("kind")?,
            reason: row.try_get("reason")?,
            wait_secs: row.try_get("wait_secs")?,
            talk_secs: row.try_get("talk_secs")?,
        })
    }

    /// Decodes a full `voicemails` row.
    pub(crate) fn voicemail_from_row(row: &DB::Row) -> Result<Voicemail, sqlx::Error> {
        Ok(Voicemail {
            id: Some(row.try_get("id")?),
            extension: row.try_get("extension")?,
            caller: row.try_get("caller")?,
            at: row.try_get::<Ts, _>("at")?.0,
            path: row.try_get("path")?,
            seconds: row.try_get("seconds")?,
            heard: row.try_get("heard")?,
        })
    }

    /// Decodes a full `surveys` row.
    pub(crate) fn survey_from_row(row: &DB::Row) -> Result<Survey, sqlx::Error> {
        Ok(Survey {
            id: Some(row.try_get("id")?),
            call_id: row.try_get("call_id")?,
            agent: row.try_get("agent")?,
            queue: row.try_get("queue")?,
            score: row.try_get("score")?,
            at: row.try_get::<Ts, _>("at")?.0,
        })
    }
}
