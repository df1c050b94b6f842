//! The ticket counts of the manual's 11.3.8 (工单情况统计): tickets created
//! in a window, per local day, department, type and status, for the
//! reports to fold into weeks, months, departments or types.
//!
//! The database groups by quarter hour of creation (every time zone's
//! offset is a whole number of quarter hours), and the days are cut here in
//! the server's time zone, so a day is a local day on both backends and
//! across clock changes without the SQL knowing the zone. There are never
//! more groups than tickets.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};
use std::collections::BTreeMap;

use crate::db::{db_err, Backend, Db, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// Which tickets [`Store::ticket_counts`] counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketReportQuery {
    /// Created at or after (unix ms).
    pub from: i64,
    /// Created before (unix ms).
    pub to: i64,
    /// Of this department (受理部门) only.
    pub department_id: Option<i64>,
    /// Of this type (工单类型) only.
    pub category_id: Option<i64>,
    /// In this status only (`new`, `replied`, `closed`, `reopened`).
    pub status: Option<String>,
}

/// Tickets created on one local day with one department, type and status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketDayCount {
    /// The local midnight that starts the day (unix ms).
    pub day: i64,
    /// The department, if one was set.
    pub department_id: Option<i64>,
    /// The type, if one was set.
    pub category_id: Option<i64>,
    /// The status now.
    pub status: String,
    /// How many.
    pub tickets: i64,
}

/// A quarter hour, ms: the grain the database groups by.
const SLOT_MS: i64 = 900_000;

impl Store {
    /// The tickets `q` selects, counted per local day, department, type and
    /// status; sorted by day, department, type, status. Every ticket
    /// counts, whoever may see it (the reports' permission is the check).
    pub async fn ticket_counts(
        &self,
        q: &TicketReportQuery,
    ) -> Result<Vec<TicketDayCount>, StoreError> {
        dispatch!(self, db => db.ticket_counts(q))
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
    pub(crate) async fn ticket_counts(
        &self,
        q: &TicketReportQuery,
    ) -> Result<Vec<TicketDayCount>, StoreError> {
        const CONTEXT: &str = "counting tickets for the report";
        // The quarter hour of creation: SQLite keeps unix ms, PostgreSQL a
        // timestamptz. Ids are positive, so 0 stands for "any".
        let rows = sqlx::query(DB::sql(
            "SELECT created_at / 900000 AS slot, department_id, category_id, status, \
             COUNT(*) AS n FROM tickets \
             WHERE created_at >= $1 AND created_at < $2 \
             AND ($3 = 0 OR department_id = $3) AND ($4 = 0 OR category_id = $4) \
             AND ($5 = '' OR status = $5) \
             GROUP BY slot, department_id, category_id, status",
            "SELECT FLOOR(EXTRACT(EPOCH FROM created_at) / 900)::BIGINT AS slot, \
             department_id, category_id, status, COUNT(*) AS n FROM tickets \
             WHERE created_at >= $1 AND created_at < $2 \
             AND ($3 = 0 OR department_id = $3) AND ($4 = 0 OR category_id = $4) \
             AND ($5 = '' OR status = $5) \
             GROUP BY slot, department_id, category_id, status",
        ))
        .bind(Ts(q.from))
        .bind(Ts(q.to))
        .bind(q.department_id.unwrap_or(0))
        .bind(q.category_id.unwrap_or(0))
        .bind(q.status.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let mut days: BTreeMap<(i64, Option<i64>, Option<i64>, String), i64> = BTreeMap::new();
        // A day's quarter hours are consecutive: its midnight is worked
        // out once per run of them.
        let mut last: Option<(i64, i64)> = None;
        let mut slots = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("slot")?,
                    r.try_get::<Option<i64>, _>("department_id")?,
                    r.try_get::<Option<i64>, _>("category_id")?,
                    r.try_get::<String, _>("status")?,
                    r.try_get::<i64, _>("n")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err(CONTEXT))?;
        slots.sort_by_key(|s| s.0);
        for (slot, department, category, status, n) in slots {
            let at = slot * SLOT_MS;
            let day = match last {
                Some((start, end)) if at >= start && at < end => start,
                _ => {
                    let start = crate::rollup::day_start(at);
                    last = Some((start, crate::rollup::next_day_start(start)));
                    start
                }
            };
            *days.entry((day, department, category, status)).or_default() += n;
        }
        Ok(days
            .into_iter()
            .map(
                |((day, department_id, category_id, status), tickets)| TicketDayCount {
                    day,
                    department_id,
                    category_id,
                    status,
                    tickets,
                },
            )
            .collect())
    }
}
