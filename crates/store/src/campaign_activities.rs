//! Outbound activities (issue 18; the manual's 8.1.3 活动管理): an activity
//! extracts rows from a filter form and allocates them to agents,
//! departments, queues or robots; each start allocates once, in one
//! transaction, and is recorded as a filter run (8.2.2 筛选记录, and the
//! activity's dial task of 8.2.3); rows not yet dialed can be recalled
//! (回收). The allocation rules are `callcenter::campaign::allocate`.

use callcenter::campaign::allocate::{self, Target, ACTIVITY_KINDS};
use callcenter::crm::FieldError;
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, BatchScope, FilterRun, Store, StoreError};

/// The states of an activity: drafted, running (its rows are being
/// worked or dialed), paused, stopped.
pub const ACTIVITY_STATES: &[&str] = &["draft", "running", "paused", "stopped"];

/// The editable fields of an activity (the form of 8.1.3.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActivityFields {
    /// 名称, unique.
    pub name: String,
    /// 活动类型: preview, predictive or robot.
    pub kind: String,
    /// 筛选表单: the filter form rows are extracted from.
    pub filter_id: i64,
    /// 业务类型.
    pub business_type: String,
    /// 业务状态.
    pub business_status: String,
    /// 抽取数量: rows extracted per start.
    pub extract_count: i64,
    /// 默认分配数: rows for a target that names no count.
    pub default_count: i64,
    /// 名单分配: the share of the extracted rows allocated, percent.
    pub share_pct: i64,
    /// 分配对象, in order.
    pub targets: Vec<Target>,
    /// The dialing settings (pacing, calling hours, gateway), a JSON
    /// object.
    pub settings: serde_json::Value,
    /// 说明.
    pub description: String,
}

impl Default for ActivityFields {
    fn default() -> ActivityFields {
        ActivityFields {
            name: String::new(),
            kind: "preview".into(),
            filter_id: 0,
            business_type: String::new(),
            business_status: String::new(),
            extract_count: 0,
            default_count: 0,
            share_pct: 100,
            targets: Vec::new(),
            settings: serde_json::Value::Object(serde_json::Map::new()),
            description: String::new(),
        }
    }
}

/// A stored activity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activity {
    /// Its id.
    pub id: i64,
    /// What the form sets.
    #[serde(flatten)]
    pub fields: ActivityFields,
    /// The filter's batch.
    pub batch_id: i64,
    /// One of [`ACTIVITY_STATES`].
    pub state: String,
    /// Who created it.
    pub created_by: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// The last start, unix ms.
    pub started_at: Option<i64>,
}

/// What one start allocated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// The filter run (dial task) recorded for it.
    pub run_id: i64,
    /// Rows extracted (抽取).
    pub extracted: u64,
    /// Rows each target got, in the targets' order.
    pub allocated: Vec<u64>,
    /// Extracted rows left unallocated (未分配): they stay in the pool.
    pub unassigned: u64,
}

fn invalid(field: &'static str, why: impl Into<String>) -> StoreError {
    StoreError::InvalidField(FieldError {
        field,
        why: why.into(),
    })
}

impl ActivityFields {
    /// The fields trimmed and checked (the filter's existence is checked
    /// by the store).
    pub fn normalized(mut self) -> Result<ActivityFields, StoreError> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            return Err(invalid("name", "is empty"));
        }
        if self.name.chars().count() > 100 {
            return Err(invalid("name", "is longer than 100 characters"));
        }
        if !ACTIVITY_KINDS.contains(&self.kind.as_str()) {
            return Err(invalid(
                "kind",
                format!(
                    "'{}' is not one of {}",
                    self.kind,
                    ACTIVITY_KINDS.join(", ")
                ),
            ));
        }
        for (field, v) in [
            ("extract_count", self.extract_count),
            ("default_count", self.default_count),
        ] {
            if !(0..=1_000_000).contains(&v) {
                return Err(invalid(field, "must be from 0 to 1,000,000"));
            }
        }
        let share = u32::try_from(self.share_pct).unwrap_or(0);
        for t in &mut self.targets {
            t.id = t.id.trim().to_string();
        }
        allocate::validate(&self.kind, &self.targets, share).map_err(|e| {
            let field = if e.field.starts_with("targets") {
                "targets"
            } else if e.field == "share_pct" {
                "share_pct"
            } else {
                "kind"
            };
            invalid(field, format!("{}: {}", e.field, e.message))
        })?;
        if !self.settings.is_object() {
            return Err(invalid("settings", "must be a JSON object"));
        }
        Ok(self)
    }
}

impl Store {
    /// Creates an activity (state draft); its id.
    pub async fn create_activity(
        &self,
        f: ActivityFields,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        let f = f.normalized()?;
        let batch = self.filter_batch(f.filter_id).await?;
        let f = &f;
        dispatch!(self, db => db.create_activity(f, batch, by))
    }

    /// Changes an activity's form. Its kind and filter are fixed once it
    /// has allocated rows (they would not fit the rows it holds).
    pub async fn update_activity(&self, id: i64, f: ActivityFields) -> Result<(), StoreError> {
        let f = f.normalized()?;
        let old = self
            .get_activity(id)
            .await?
            .ok_or(StoreError::CrmNotFound("activity", id))?;
        if old.started_at.is_some() {
            if old.fields.kind != f.kind {
                return Err(invalid(
                    "kind",
                    "cannot change once the activity has started",
                ));
            }
            if old.fields.filter_id != f.filter_id {
                return Err(invalid(
                    "filter_id",
                    "cannot change once the activity has started",
                ));
            }
        }
        let batch = self.filter_batch(f.filter_id).await?;
        let f = &f;
        dispatch!(self, db => db.update_activity(id, f, batch))
    }

    /// The batch of filter `filter`, or the error naming it.
    async fn filter_batch(&self, filter: i64) -> Result<i64, StoreError> {
        match self.get_campaign_filter(filter).await? {
            Some(f) => Ok(f.fields.batch_id),
            None => Err(invalid(
                "filter_id",
                format!("filter {filter} does not exist"),
            )),
        }
    }

    /// Activity `id`.
    pub async fn get_activity(&self, id: i64) -> Result<Option<Activity>, StoreError> {
        dispatch!(self, db => db.get_activity(id))
    }

    /// The activities on the batches of `scope`, newest first.
    pub async fn list_activities(&self, scope: &BatchScope) -> Result<Vec<Activity>, StoreError> {
        dispatch!(self, db => db.list_activities(scope))
    }

    /// Sets an activity's state (pause, stop, resume without allocating).
    pub async fn set_activity_state(&self, id: i64, state: &str) -> Result<(), StoreError> {
        if !ACTIVITY_STATES.contains(&state) {
            return Err(invalid(
                "state",
                format!("'{state}' is not one of {}", ACTIVITY_STATES.join(", ")),
            ));
        }
        dispatch!(self, db => db.set_activity_state(id, state))
    }

    /// Starts activity `id` (启动活动): extracts up to its extract count of
    /// the filter's unassigned or recalled rows, allocates its share to
    /// the targets, records the run, and sets the activity running; all in
    /// one transaction. A row another start took meanwhile is not
    /// allocated twice (the target gets fewer).
    pub async fn start_activity(&self, id: i64) -> Result<Allocation, StoreError> {
        let a = self
            .get_activity(id)
            .await?
            .ok_or(StoreError::CrmNotFound("activity", id))?;
        let filter = self
            .get_campaign_filter(a.fields.filter_id)
            .await?
            .ok_or_else(|| invalid("filter_id", "the activity's filter no longer exists"))?;
        let limit = usize::try_from(a.fields.extract_count).unwrap_or(0);
        let rows = self.extract_campaign_rows(filter.id, limit).await?;
        let counts = allocate::allocate(
            rows.len() as u64,
            u32::try_from(a.fields.share_pct).unwrap_or(100),
            u64::try_from(a.fields.default_count).unwrap_or(0),
            &a.fields.targets,
        );
        let name = format!(
            "{}_{}",
            filter.fields.name,
            crate::campaigns::stamp(db::now_ms())
        );
        let (a, rows, counts, name) = (&a, &rows, &counts, &name);
        dispatch!(self, db => db.start_activity(a, rows, counts, name))
    }

    /// Recalls (回收) the rows activity `id` allocated and nobody has
    /// dialed yet: of every target, or of one (`kind`, `assignee`). They
    /// become `recalled` (extracted again by the next start) and the
    /// activity's last run counts them. Returns how many.
    pub async fn recall_activity_rows(
        &self,
        id: i64,
        target: Option<(&str, &str)>,
    ) -> Result<u64, StoreError> {
        dispatch!(self, db => db.recall_activity_rows(id, target))
    }

    /// Deletes activity `id`: refused while it runs; the rows it holds
    /// undialed go back to the pool (unassigned). Returns how many did.
    pub async fn delete_activity(&self, id: i64) -> Result<u64, StoreError> {
        let a = self
            .get_activity(id)
            .await?
            .ok_or(StoreError::CrmNotFound("activity", id))?;
        if a.state == "running" {
            return Err(invalid("state", "stop the activity before deleting it"));
        }
        dispatch!(self, db => db.delete_activity(id))
    }

    /// The runs (dial tasks, 8.2.3) of activity `id`, newest first.
    pub async fn activity_runs(&self, id: i64) -> Result<Vec<FilterRun>, StoreError> {
        let a = self
            .get_activity(id)
            .await?
            .ok_or(StoreError::CrmNotFound("activity", id))?;
        let runs = self
            .list_filter_runs(Some(a.fields.filter_id), None, &BatchScope::All, 1000)
            .await?;
        Ok(runs
            .into_iter()
            .filter(|r| r.activity_id == Some(id))
            .collect())
    }
}

const ACTIVITY_COLUMNS: &str = "id, name, kind, filter_id, batch_id, business_type, \
    business_status, extract_count, default_count, share_pct, targets, settings, state, \
    description, created_by, created_at, updated_at, started_at";

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
    DB::QueryResult: RowsAffected,
{
    fn activity_of(r: &DB::Row) -> Result<Activity, sqlx::Error> {
        let targets: String = r.try_get("targets")?;
        let settings: String = r.try_get("settings")?;
        let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
        Ok(Activity {
            id: r.try_get("id")?,
            fields: ActivityFields {
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                filter_id: r.try_get("filter_id")?,
                business_type: r.try_get("business_type")?,
                business_status: r.try_get("business_status")?,
                extract_count: r.try_get("extract_count")?,
                default_count: r.try_get("default_count")?,
                share_pct: i64::from(r.try_get::<i32, _>("share_pct")?),
                targets: serde_json::from_str(&targets).map_err(decode)?,
                settings: serde_json::from_str(&settings).map_err(decode)?,
                description: r.try_get("description")?,
            },
            batch_id: r.try_get("batch_id")?,
            state: r.try_get("state")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
            started_at: r.try_get::<Option<Ts>, _>("started_at")?.map(|t| t.0),
        })
    }

    fn json_of(f: &ActivityFields) -> Result<(String, String), StoreError> {
        let enc = |e: serde_json::Error| invalid("settings", e.to_string());
        Ok((
            serde_json::to_string(&f.targets).map_err(enc)?,
            serde_json::to_string(&f.settings).map_err(enc)?,
        ))
    }

    pub(crate) async fn create_activity(
        &self,
        f: &ActivityFields,
        batch: i64,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        const CONTEXT: &str = "creating an activity";
        let (targets, settings) = Self::json_of(f)?;
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        Self::campaign_name_taken(&mut tx, "campaign_activities", "activity", &f.name, 0).await?;
        let now = Ts(db::now_ms());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO campaign_activities (name, kind, filter_id, batch_id, business_type, \
             business_status, extract_count, default_count, share_pct, targets, settings, \
             state, description, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft', $12, $13, $14, $14) \
             RETURNING id",
        )
        .bind(&f.name)
        .bind(&f.kind)
        .bind(f.filter_id)
        .bind(batch)
        .bind(&f.business_type)
        .bind(&f.business_status)
        .bind(f.extract_count)
        .bind(f.default_count)
        .bind(i32::try_from(f.share_pct).unwrap_or(100))
        .bind(targets)
        .bind(settings)
        .bind(&f.description)
        .bind(Self::opt(by))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(id)
    }

    pub(crate) async fn update_activity(
        &self,
        id: i64,
        f: &ActivityFields,
        batch: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "changing an activity";
        let (targets, settings) = Self::json_of(f)?;
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        Self::campaign_name_taken(&mut tx, "campaign_activities", "activity", &f.name, id).await?;
        let done = sqlx::query(
            "UPDATE campaign_activities SET name = $1, kind = $2, filter_id = $3, batch_id = $4, \
             business_type = $5, business_status = $6, extract_count = $7, default_count = $8, \
             share_pct = $9, targets = $10, settings = $11, description = $12, updated_at = $13 \
             WHERE id = $14",
        )
        .bind(&f.name)
        .bind(&f.kind)
        .bind(f.filter_id)
        .bind(batch)
        .bind(&f.business_type)
        .bind(&f.business_status)
        .bind(f.extract_count)
        .bind(f.default_count)
        .bind(i32::try_from(f.share_pct).unwrap_or(100))
        .bind(targets)
        .bind(settings)
        .bind(&f.description)
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("activity", id));
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    pub(crate) async fn get_activity(&self, id: i64) -> Result<Option<Activity>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTIVITY_COLUMNS} FROM campaign_activities WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading an activity"))?;
        row.as_ref()
            .map(Self::activity_of)
            .transpose()
            .map_err(db_err("reading an activity"))
    }

    pub(crate) async fn list_activities(
        &self,
        scope: &BatchScope,
    ) -> Result<Vec<Activity>, StoreError> {
        let columns: Vec<String> = ACTIVITY_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM campaign_activities a JOIN campaign_batches b ON b.id = a.batch_id \
             WHERE {} ORDER BY a.created_at DESC, a.id DESC",
            columns.join(", "),
            scope.sql()
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing activities"))?;
        rows.iter()
            .map(Self::activity_of)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing activities"))
    }

    pub(crate) async fn set_activity_state(&self, id: i64, state: &str) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE campaign_activities SET state = $1, updated_at = $2 WHERE id = $3")
                .bind(state)
                .bind(Ts(db::now_ms()))
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err("changing an activity's state"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("activity", id));
        }
        Ok(())
    }

    pub(crate) async fn start_activity(
        &self,
        a: &Activity,
        rows: &[i64],
        counts: &[u64],
        name: &str,
    ) -> Result<Allocation, StoreError> {
        const CONTEXT: &str = "starting an activity";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let now = Ts(db::now_ms());
        let run_id: i64 = sqlx::query_scalar(
            "INSERT INTO campaign_filter_runs (filter_id, batch_id, activity_id, name, matched, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(a.fields.filter_id)
        .bind(a.batch_id)
        .bind(a.id)
        .bind(name)
        .bind(i64::try_from(rows.len()).unwrap_or(i64::MAX))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        let mut allocated = Vec::with_capacity(counts.len());
        let mut by_kind = [0i64; 4];
        let mut next = rows.iter();
        for (target, &count) in a.fields.targets.iter().zip(counts) {
            let mut n = 0u64;
            for row in next.by_ref().take(usize::try_from(count).unwrap_or(0)) {
                n += sqlx::query(
                    "UPDATE campaign_rows SET state = 'assigned', activity_id = $1, \
                     assignee_kind = $2, assignee = $3, run_id = $4, updated_at = $5 \
                     WHERE id = $6 AND state IN ('unassigned', 'recalled')",
                )
                .bind(a.id)
                .bind(&target.kind)
                .bind(&target.id)
                .bind(run_id)
                .bind(now)
                .bind(*row)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?
                .rows_affected();
            }
            let slot = match target.kind.as_str() {
                "agent" => 0,
                "department" => 1,
                "robot" => 2,
                _ => 3,
            };
            by_kind[slot] += i64::try_from(n).unwrap_or(i64::MAX);
            allocated.push(n);
        }
        let total: u64 = allocated.iter().sum();
        let unassigned = (rows.len() as u64).saturating_sub(total);
        sqlx::query(
            "UPDATE campaign_filter_runs SET to_agents = $1, to_departments = $2, \
             to_robots = $3, to_queues = $4, unassigned = $5 WHERE id = $6",
        )
        .bind(by_kind[0])
        .bind(by_kind[1])
        .bind(by_kind[2])
        .bind(by_kind[3])
        .bind(i64::try_from(unassigned).unwrap_or(i64::MAX))
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        sqlx::query(
            "UPDATE campaign_activities SET state = 'running', started_at = $1, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(a.id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(Allocation {
            run_id,
            extracted: rows.len() as u64,
            allocated,
            unassigned,
        })
    }

    pub(crate) async fn recall_activity_rows(
        &self,
        id: i64,
        target: Option<(&str, &str)>,
    ) -> Result<u64, StoreError> {
        const CONTEXT: &str = "recalling rows";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let now = Ts(db::now_ms());
        let (kind, assignee) = target.unwrap_or(("", ""));
        let n = sqlx::query(
            "UPDATE campaign_rows SET state = 'recalled', assignee = NULL, assignee_kind = NULL, \
             updated_at = $1 WHERE activity_id = $2 AND state = 'assigned' \
             AND ($3 = '' OR (assignee_kind = $3 AND assignee = $4))",
        )
        .bind(now)
        .bind(id)
        .bind(kind)
        .bind(assignee)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?
        .rows_affected();
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM campaign_filter_runs WHERE activity_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        if let Some(run) = last {
            sqlx::query("UPDATE campaign_filter_runs SET recalled = recalled + $1 WHERE id = $2")
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .bind(run)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(n)
    }

    pub(crate) async fn delete_activity(&self, id: i64) -> Result<u64, StoreError> {
        const CONTEXT: &str = "deleting an activity";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let n = sqlx::query(
            "UPDATE campaign_rows SET state = 'unassigned', assignee = NULL, \
             assignee_kind = NULL, activity_id = NULL, run_id = NULL, updated_at = $1 \
             WHERE activity_id = $2 AND state IN ('assigned', 'recalled')",
        )
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?
        .rows_affected();
        sqlx::query("DELETE FROM campaign_activities WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(n)
    }
}
