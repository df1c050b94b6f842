//! The counts the service-level figures are computed from (issue 17, 4):
//! per queue (and per day, when asked) over a time window, from the queue
//! events: callers who joined, who were answered (and how many within the
//! target time, and how long they waited), who abandoned (and how many
//! before the short-abandon threshold), and the talk time of the calls
//! that ended.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{db_err, Backend, Db, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// One queue's counts over the window (or one day of it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    /// The queue.
    pub queue: String,
    /// The day (days since the epoch in the time zone asked for), when
    /// counted per day.
    pub day: Option<i64>,
    /// Callers who joined the queue.
    pub offered: i64,
    /// Callers an agent answered.
    pub answered: i64,
    /// Of those, answered within the target time.
    pub answered_in_target: i64,
    /// Seconds the answered callers waited, summed.
    pub answer_wait_secs: i64,
    /// The longest wait of an answered or abandoned caller, seconds.
    pub longest_wait_secs: i64,
    /// Callers who left before an agent answered.
    pub abandoned: i64,
    /// Of those, the ones who left before the short-abandon threshold.
    pub short_abandoned: i64,
    /// Answered calls that ended (their talk time is known).
    pub ended: i64,
    /// Seconds of conversation of those calls, summed.
    pub talk_secs: i64,
}

impl Store {
    /// Every queue's counts for events at or after `from` and before `to`
    /// (unix ms): answered within `target_s` seconds, abandoned within
    /// `short_s`. With `per_day` (the time zone's offset east of UTC, ms)
    /// one row per queue and day. Sorted by queue, then day.
    pub async fn queue_counts(
        &self,
        from: i64,
        to: i64,
        target_s: i64,
        short_s: i64,
        per_day: Option<i64>,
    ) -> Result<Vec<QueueCounts>, StoreError> {
        dispatch!(self, db => db.queue_counts(from, to, target_s, short_s, per_day))
    }
}

/// The sums of a [`QueueCounts`] row; `$3` is the target, `$4` the short
/// abandon threshold (seconds). The sums are cast: PostgreSQL's SUM of a
/// BIGINT is a NUMERIC.
macro_rules! sums {
    () => {
        "COUNT(CASE WHEN kind = 'joined' THEN 1 END) AS offered, \
         COUNT(CASE WHEN kind = 'answered' THEN 1 END) AS answered, \
         COUNT(CASE WHEN kind = 'answered' AND COALESCE(wait_secs, 0) <= $3 THEN 1 END) \
         AS answered_in_target, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'answered' THEN wait_secs END), 0) AS BIGINT) \
         AS answer_wait, \
         COALESCE(MAX(CASE WHEN kind IN ('answered', 'abandoned') THEN wait_secs END), 0) \
         AS longest_wait, \
         COUNT(CASE WHEN kind = 'abandoned' THEN 1 END) AS abandoned, \
         COUNT(CASE WHEN kind = 'abandoned' AND COALESCE(wait_secs, 0) < $4 THEN 1 END) \
         AS short_abandoned, \
         COUNT(CASE WHEN kind = 'ended' THEN 1 END) AS ended, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'ended' THEN talk_secs END), 0) AS BIGINT) AS talk"
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
    pub(crate) async fn queue_counts(
        &self,
        from: i64,
        to: i64,
        target_s: i64,
        short_s: i64,
        per_day: Option<i64>,
    ) -> Result<Vec<QueueCounts>, StoreError> {
        const CONTEXT: &str = "counting queue events";
        if let Some(rows) = self
            .queue_counts_rolled_up(from, to, target_s, short_s, per_day)
            .await?
        {
            return Ok(rows);
        }
        // Day arithmetic as in the audit log's summary: SQLite's `at` is
        // unix ms, PostgreSQL's a timestamptz. `$5` (the offset) is used
        // in both forms so that both bind five parameters.
        let rows = match per_day {
            None => sqlx::query(DB::sql(
                concat!(
                    "SELECT queue, NULL AS day, ",
                    sums!(),
                    " FROM queue_events WHERE at >= $1 AND at < $2 AND $5 = $5 \
                     GROUP BY queue ORDER BY queue"
                ),
                concat!(
                    "SELECT queue, NULL::BIGINT AS day, ",
                    sums!(),
                    " FROM queue_events WHERE at >= $1 AND at < $2 AND $5 = $5 \
                     GROUP BY queue ORDER BY queue"
                ),
            )),
            Some(_) => sqlx::query(DB::sql(
                concat!(
                    "SELECT queue, (at + $5) / 86400000 AS day, ",
                    sums!(),
                    " FROM queue_events WHERE at >= $1 AND at < $2 \
                     GROUP BY queue, day ORDER BY queue, day"
                ),
                concat!(
                    "SELECT queue, FLOOR((EXTRACT(EPOCH FROM at) * 1000 + $5) / 86400000)::BIGINT \
                     AS day, ",
                    sums!(),
                    " FROM queue_events WHERE at >= $1 AND at < $2 \
                     GROUP BY queue, day ORDER BY queue, day"
                ),
            )),
        }
        .bind(Ts(from))
        .bind(Ts(to))
        .bind(target_s)
        .bind(short_s)
        .bind(per_day.unwrap_or(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(Self::queue_counts_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err(CONTEXT))
    }

    /// [`Db::queue_counts`] from the hourly roll-up, when the target and the
    /// short-abandon threshold are ones it counts and the window is whole
    /// hours; `None` otherwise (the raw events are counted then).
    async fn queue_counts_rolled_up(
        &self,
        from: i64,
        to: i64,
        target_s: i64,
        short_s: i64,
        per_day: Option<i64>,
    ) -> Result<Option<Vec<QueueCounts>>, StoreError> {
        const CONTEXT: &str = "counting queue events";
        use crate::rollup::{HOUR_MS, SHORT_ABANDONS, SL_TARGETS};
        let whole_hours = from.rem_euclid(HOUR_MS) == 0 && to.rem_euclid(HOUR_MS) == 0;
        if !whole_hours || !SL_TARGETS.contains(&target_s) || !SHORT_ABANDONS.contains(&short_s) {
            return Ok(None);
        }
        // Column names from the fixed lists above, never from input.
        let (day, group) = match per_day {
            Some(_) => ("(hour + $3) / 86400000", "queue, day"),
            None => ("CAST(NULL AS BIGINT)", "queue"),
        };
        let sql = format!(
            "SELECT queue, {day} AS day, CAST(SUM(offered) AS BIGINT) AS offered, \
             CAST(SUM(answered) AS BIGINT) AS answered, \
             CAST(SUM(answered_{target_s}) AS BIGINT) AS answered_in_target, \
             CAST(SUM(answer_wait_secs) AS BIGINT) AS answer_wait, \
             MAX(longest_wait_secs) AS longest_wait, CAST(SUM(abandoned) AS BIGINT) AS abandoned, \
             CAST(SUM(abandoned_{short_s}) AS BIGINT) AS short_abandoned, \
             CAST(SUM(ended) AS BIGINT) AS ended, CAST(SUM(talk_secs) AS BIGINT) AS talk \
             FROM rollup_queues WHERE hour >= $1 AND hour < $2 AND $3 = $3 \
             GROUP BY {group} ORDER BY {group}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(from)
            .bind(to)
            .bind(per_day.unwrap_or(0))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(Self::queue_counts_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map(Some)
            .map_err(db_err(CONTEXT))
    }

    fn queue_counts_row(r: &DB::Row) -> Result<QueueCounts, sqlx::Error> {
        Ok(QueueCounts {
            queue: r.try_get("queue")?,
            day: r.try_get("day")?,
            offered: r.try_get("offered")?,
            answered: r.try_get("answered")?,
            answered_in_target: r.try_get("answered_in_target")?,
            answer_wait_secs: r.try_get("answer_wait")?,
            longest_wait_secs: r.try_get("longest_wait")?,
            abandoned: r.try_get("abandoned")?,
            short_abandoned: r.try_get("short_abandoned")?,
            ended: r.try_get("ended")?,
            talk_secs: r.try_get("talk")?,
        })
    }
}
