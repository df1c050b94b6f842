//! Outbound campaigns, first part (the manual's 8.1.1, 8.1.2, 8.2.1 and
//! 8.2.2): batches of numbers, each with its own fields (made from an
//! uploaded template's header row), the rows imported into a batch, the
//! import records, filter forms and the records of their runs; and the
//! internal do-not-call list (the voice list `dnc`) that imports skip and
//! the dialer checks.
//!
//! A row's phone number is its own column (cleaned by
//! [`callcenter::campaign::clean_phone`]); the other fields' values are a
//! JSON object keyed by field key. A row starts `unassigned`; the
//! activities that come later move it through
//! [`callcenter::campaign::ROW_STATES`] with [`Store::assign_campaign_rows`]
//! and [`Store::set_campaign_row_state`], and record each extraction with
//! [`Store::add_filter_run`].
//!
//! Filters are evaluated here, in Rust, over the batch's rows
//! ([`callcenter::campaign::filter::matches`]): the conditions are free
//! (any field, AND/OR) and a batch is at most an import's 200,000 rows, so
//! one read of the batch is both simpler and fast enough.

use std::collections::{BTreeMap, HashSet};

use callcenter::campaign::filter::{self, Condition, FieldSpec, ValueType};
use callcenter::campaign::{clean_phone, ROW_STATES, UNASSIGNED};
use callcenter::crm::{self, FieldError};
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, CrmPage, Store, StoreError, VoiceList};

/// The kinds of batch (批次类型).
pub const BATCH_KINDS: &[&str] = &["temporary", "planned", "external"];
/// The kinds of filter form (筛选类型).
pub const FILTER_KINDS: &[&str] = &["batch", "business"];
/// The styles of a field: free text, or a choice of a dictionary's values
/// (单选框).
pub const FIELD_STYLES: &[&str] = &["text", "choice"];
/// Where a field shows (显示位置).
pub const FIELD_POSITIONS: &[&str] = &["list", "add", "edit", "detail"];
/// Most fields a batch has.
pub const MAX_FIELDS: usize = 200;

/// Which batches a user sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchScope {
    /// Every batch (administrators).
    All,
    /// The batches of these departments and those the user created.
    Of {
        /// The user's departments.
        departments: Vec<i64>,
        /// The user.
        user: i64,
    },
}

impl BatchScope {
    /// Whether `batch` is in this scope.
    pub fn covers(&self, batch: &Batch) -> bool {
        match self {
            BatchScope::All => true,
            BatchScope::Of { departments, user } => {
                batch.created_by == Some(*user)
                    || batch
                        .fields
                        .department_id
                        .is_some_and(|d| departments.contains(&d))
            }
        }
    }

    pub(crate) fn sql(&self) -> String {
        match self {
            BatchScope::All => "1 = 1".into(),
            BatchScope::Of { departments, user } => {
                let ids: Vec<String> = departments.iter().map(i64::to_string).collect();
                if ids.is_empty() {
                    format!("b.created_by = {user}")
                } else {
                    format!(
                        "(b.created_by = {user} OR b.department_id IN ({}))",
                        ids.join(", ")
                    )
                }
            }
        }
    }
}

/// The editable fields of a batch (the form of 8.1.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchFields {
    /// Name (名称), unique.
    pub name: String,
    /// `temporary`, `planned` or `external` (default temporary).
    pub kind: String,
    /// 说明.
    pub description: String,
    /// The department that owns it.
    pub department_id: Option<i64>,
}

impl BatchFields {
    /// Fills the default kind and checks every field.
    pub fn normalized(mut self) -> Result<BatchFields, StoreError> {
        self.name = self.name.trim().to_string();
        if self.kind.is_empty() {
            self.kind = BATCH_KINDS[0].into();
        }
        crm::check_name("name", &self.name).map_err(StoreError::InvalidField)?;
        one_of("kind", &self.kind, BATCH_KINDS)?;
        crm::check_len("description", &self.description, crm::MAX_TEXT)
            .map_err(StoreError::InvalidField)?;
        Ok(self)
    }
}

/// A batch (批次).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Generated id.
    pub id: i64,
    /// Its fields.
    #[serde(flatten)]
    pub fields: BatchFields,
    /// Who created it.
    pub created_by: Option<i64>,
    /// How many rows it holds.
    pub rows: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// A field of a batch (数据结构), made from a template's column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignField {
    /// Generated, stable key (`f1`, `f2`, ...): the rows' values are keyed
    /// by it.
    pub key: String,
    /// Title (标题): the template's header.
    pub title: String,
    /// `text`, `number`, `date` or `datetime` (数据类型 / 数据校验).
    pub data_type: String,
    /// The phone number field (电话号码): one per batch.
    pub is_phone: bool,
    /// `text` or `choice` (单选框).
    pub style: String,
    /// The system dictionary a choice takes its values from (启用字典).
    pub dictionary: String,
    /// A value is required (非空).
    pub required: bool,
    /// Where it shows: `list`, `add`, `edit`, `detail` (显示位置).
    pub positions: Vec<String>,
    /// Left out of imports and exports (禁用导入导出).
    pub io_disabled: bool,
    /// Order.
    pub position: i32,
}

impl CampaignField {
    /// Whether it shows at `place` (`list`, `add`, `edit`, `detail`).
    pub fn shows(&self, place: &str) -> bool {
        self.positions.iter().any(|p| p == place)
    }

    /// Fills the defaults and checks the field's settings (the dictionary's
    /// existence is the caller's: see [`Store::update_campaign_field`]).
    fn normalized(mut self) -> Result<CampaignField, StoreError> {
        self.title = self.title.trim().to_string();
        crm::check_name("title", &self.title).map_err(StoreError::InvalidField)?;
        if self.data_type.is_empty() {
            self.data_type = ValueType::Text.as_str().into();
        }
        if ValueType::parse(&self.data_type).is_none() {
            return Err(field_error(
                "data_type",
                format!(
                    "'{}' is not one of text, number, date, datetime",
                    self.data_type
                ),
            ));
        }
        if self.style.is_empty() {
            self.style = FIELD_STYLES[0].into();
        }
        one_of("style", &self.style, FIELD_STYLES)?;
        self.dictionary = self.dictionary.trim().to_string();
        if self.style == "choice" && self.dictionary.is_empty() {
            return Err(field_error(
                "dictionary",
                "a choice field takes its values from a dictionary: choose one".into(),
            ));
        }
        if let Some(bad) = self
            .positions
            .iter()
            .find(|p| !FIELD_POSITIONS.contains(&p.as_str()))
        {
            return Err(field_error(
                "positions",
                format!("'{bad}' is not one of list, add, edit, detail"),
            ));
        }
        if self.is_phone && self.style == "choice" {
            return Err(field_error(
                "style",
                "the phone field cannot be a choice".into(),
            ));
        }
        Ok(self)
    }
}

/// A row of a batch (名单数据).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    /// Generated id.
    pub id: i64,
    /// The batch.
    pub batch_id: i64,
    /// The number, cleaned.
    pub phone: String,
    /// The other fields' values by field key.
    pub values: BTreeMap<String, String>,
    /// The import that brought it (none: added by hand).
    pub import_id: Option<i64>,
    /// One of [`ROW_STATES`].
    pub state: String,
    /// The activity that holds it.
    pub activity_id: Option<i64>,
    /// Who holds it: an agent's extension, a department id, a queue, a robot.
    pub assignee: Option<String>,
    /// `agent`, `department`, `queue` or `robot`.
    pub assignee_kind: Option<String>,
    /// Times dialled.
    pub dial_count: i32,
    /// Failed dials.
    pub fail_count: i32,
    /// Times an agent previewed it.
    pub preview_count: i32,
    /// A callback time (预约), unix ms.
    pub appointment_at: Option<i64>,
    /// The last dial's result.
    pub last_result: Option<String>,
    /// The activity start (filter run, dial task) that allocated it.
    pub run_id: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// What [`Store::list_campaign_rows`] lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowQuery {
    /// The batch.
    pub batch_id: i64,
    /// Text in the number or any value ("" for any).
    pub search: String,
    /// Only rows in this state.
    pub state: Option<String>,
    /// Page size (at most 500).
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// A row to add: its number as typed and the other fields' values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewRow {
    /// The number as typed.
    pub phone: String,
    /// The other fields' values by field key.
    pub values: BTreeMap<String, String>,
}

/// Why a row's number was skipped (never an error: counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not a phone number (3 to 20 digits, an optional leading +).
    Invalid,
    /// Already in the batch, or earlier in the same file.
    Duplicate,
    /// On the internal do-not-call list.
    Dnc,
}

impl SkipReason {
    /// The reason's key.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Invalid => "invalid",
            SkipReason::Duplicate => "duplicate",
            SkipReason::Dnc => "dnc",
        }
    }
}

/// What became of an import's rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// The import record written (none when nothing was saved).
    pub import_id: Option<i64>,
    /// Rows saved.
    pub imported: i64,
    /// Skipped: not a phone number.
    pub invalid: i64,
    /// Skipped: already in the batch or the file.
    pub duplicate: i64,
    /// Skipped: on the do-not-call list.
    pub dnc: i64,
    /// Each skipped row: its index in the rows given and why.
    pub skipped: Vec<(usize, SkipReason)>,
}

/// An import record (8.2.1 导入记录).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportRecord {
    /// Generated id.
    pub id: i64,
    /// The batch.
    pub batch_id: i64,
    /// `<batch>_<YYYY-MM-DD HH:MM:SS>`.
    pub title: String,
    /// Rows saved (名单).
    pub imported: i64,
    /// Skipped as invalid numbers (无效).
    pub invalid: i64,
    /// Skipped as duplicates.
    pub duplicate: i64,
    /// Skipped as on the do-not-call list.
    pub dnc: i64,
    /// Who imported.
    pub created_by: Option<i64>,
    /// Unix ms (导入时间).
    pub created_at: i64,
}

/// The editable fields of a filter form (8.1.2.1 and its conditions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilterFields {
    /// Name (名称).
    pub name: String,
    /// `batch` or `business` (default batch).
    pub kind: String,
    /// The batch it filters (筛选对象).
    pub batch_id: i64,
    /// 说明.
    pub description: String,
    /// The conditions, in order.
    pub conditions: Vec<Condition>,
}

/// A filter form (筛选表单).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CampaignFilter {
    /// Generated id.
    pub id: i64,
    /// Its fields.
    #[serde(flatten)]
    pub fields: FilterFields,
    /// Who created it.
    pub created_by: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// A record of one extraction from a filter (8.2.2 筛选记录): how many rows
/// matched and where they went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilterRun {
    /// Generated id (0 for a new one).
    pub id: i64,
    /// The filter.
    pub filter_id: i64,
    /// The filter's batch.
    pub batch_id: i64,
    /// The activity that ran it.
    pub activity_id: Option<i64>,
    /// `<filter>_<YYYY-MM-DD HH:MM:SS>` (名称; made by
    /// [`Store::add_filter_run`] when empty).
    pub name: String,
    /// Rows matched (筛选数量).
    pub matched: i64,
    /// Allocated to agents (分配到坐席).
    pub to_agents: i64,
    /// To departments (分配到部门).
    pub to_departments: i64,
    /// To robots (分配到AI).
    pub to_robots: i64,
    /// To queues (分配到队列).
    pub to_queues: i64,
    /// Left unallocated (未分配).
    pub unassigned: i64,
    /// Recalled (回收).
    pub recalled: i64,
    /// Recalled to departments (回收到部门).
    pub recalled_to_departments: i64,
    /// Unix ms.
    pub created_at: i64,
}

fn field_error(field: &'static str, why: String) -> StoreError {
    StoreError::InvalidField(FieldError { field, why })
}

fn one_of(field: &'static str, value: &str, choices: &[&str]) -> Result<(), StoreError> {
    if choices.contains(&value) {
        Ok(())
    } else {
        Err(field_error(
            field,
            format!("'{value}' is not one of {}", choices.join(", ")),
        ))
    }
}

/// A template header that names the phone column (号码, 电话, 手机, phone,
/// mobile, number, ...).
pub fn looks_like_phone(title: &str) -> bool {
    let t = title.trim().to_lowercase();
    [
        "号码", "电话", "手机", "phone", "mobile", "number", "tel", "cell",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Local time as `YYYY-MM-DD HH:MM:SS` (the records' titles).
pub(crate) fn stamp(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The normalised forms of the do-not-call list's numbers.
fn dnc_set(values: impl IntoIterator<Item = String>) -> HashSet<String> {
    values
        .into_iter()
        .filter_map(|v| crm::normalize_number(&v))
        .collect()
}

/// Whether `phone` (cleaned) is on the list `dnc` (normalised).
fn on_dnc(dnc: &HashSet<String>, phone: &str) -> bool {
    crm::normalize_number(phone).is_some_and(|n| dnc.contains(&n))
}

/// A LIKE pattern holding `text` (its own `%`, `_` and `\` escaped).
fn like(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// Creates a batch (its name must be new) and returns its id.
    pub async fn create_batch(&self, f: BatchFields, by: Option<i64>) -> Result<i64, StoreError> {
        let f = &f.normalized()?;
        dispatch!(self, db => db.create_batch(f, by))
    }

    /// Changes batch `id`'s name, kind, description and department.
    pub async fn update_batch(&self, id: i64, f: BatchFields) -> Result<(), StoreError> {
        let f = &f.normalized()?;
        dispatch!(self, db => db.update_batch(id, f))
    }

    /// Deletes batch `id` with its fields, rows, import records and filter
    /// forms; refused ([`StoreError::InvalidField`] on `batch`) while an
    /// activity holds any of its rows (a row not `unassigned`).
    pub async fn delete_batch(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_batch(id))
    }

    /// Batch `id`, if it exists.
    pub async fn get_batch(&self, id: i64) -> Result<Option<Batch>, StoreError> {
        dispatch!(self, db => db.get_batch(id))
    }

    /// The batches of `scope`, newest first.
    pub async fn list_batches(&self, scope: &BatchScope) -> Result<Vec<Batch>, StoreError> {
        dispatch!(self, db => db.list_batches(scope))
    }

    /// The fields of batch `id`, in order.
    pub async fn campaign_fields(&self, id: i64) -> Result<Vec<CampaignField>, StoreError> {
        dispatch!(self, db => db.campaign_fields(id))
    }

    /// Makes fields of a template's header row `titles`: a title the batch
    /// has no field of becomes a new field (text, shown everywhere); fields
    /// are never dropped while the batch holds rows (their data would be
    /// lost), and replaced by the template's when it holds none. When the
    /// batch has no phone field, the first title that
    /// [`looks_like_phone`] becomes it. Returns the fields.
    pub async fn apply_campaign_template(
        &self,
        id: i64,
        titles: &[String],
    ) -> Result<Vec<CampaignField>, StoreError> {
        let mut clean: Vec<String> = Vec::new();
        for t in titles {
            let t = t.trim();
            if t.is_empty() || clean.iter().any(|c| c.to_lowercase() == t.to_lowercase()) {
                continue;
            }
            crm::check_name("title", t).map_err(StoreError::InvalidField)?;
            clean.push(t.to_string());
        }
        if clean.is_empty() {
            return Err(field_error(
                "file",
                "the template's first row names no column".into(),
            ));
        }
        if clean.len() > MAX_FIELDS {
            return Err(field_error(
                "file",
                format!("a batch has at most {MAX_FIELDS} fields"),
            ));
        }
        let titles = &clean;
        dispatch!(self, db => db.apply_campaign_template(id, titles))
    }

    /// Changes field `key` of batch `id` (the 编辑 form): title, type,
    /// phone flag (one phone field: marking one unmarks the other; the
    /// phone field cannot change while the batch holds rows), style,
    /// dictionary (it must exist and have values), required, positions,
    /// import/export. The key stays.
    pub async fn update_campaign_field(
        &self,
        id: i64,
        key: &str,
        change: CampaignField,
    ) -> Result<CampaignField, StoreError> {
        let mut f = change.normalized()?;
        f.key = key.to_string();
        if !f.dictionary.is_empty() && self.dictionary(&f.dictionary).await?.is_empty() {
            return Err(field_error(
                "dictionary",
                format!("there is no dictionary '{}' with values", f.dictionary),
            ));
        }
        let f = &f;
        dispatch!(self, db => db.update_campaign_field(id, f))
    }

    /// What the filter conditions know of batch `id`'s fields: type, and
    /// the values of a choice field's dictionary.
    pub async fn campaign_field_specs(&self, id: i64) -> Result<Vec<FieldSpec>, StoreError> {
        let mut specs = Vec::new();
        for f in self.campaign_fields(id).await? {
            let choices = if f.dictionary.is_empty() {
                None
            } else {
                Some(
                    self.dictionary(&f.dictionary)
                        .await?
                        .into_iter()
                        .map(|i| i.value)
                        .collect(),
                )
            };
            specs.push(FieldSpec {
                key: f.key,
                value_type: ValueType::parse(&f.data_type).unwrap_or_default(),
                choices,
            });
        }
        Ok(specs)
    }

    /// How each of `phones` would fare in batch `id` (nothing saved): its
    /// cleaned form, or why an import skips it. The batch's numbers, the
    /// numbers earlier in the list and the do-not-call list are checked.
    pub async fn check_campaign_phones(
        &self,
        id: i64,
        phones: &[String],
    ) -> Result<Vec<Result<String, SkipReason>>, StoreError> {
        let existing = dispatch!(self, db => db.batch_phones(id))?;
        let dnc = dnc_set(self.do_not_call_values().await?);
        Ok(classify(phones, existing, &dnc))
    }

    /// Imports `rows` into batch `id` in one transaction: every row whose
    /// number is valid, new to the batch and the file, and not on the
    /// do-not-call list; the others are skipped and counted. Writes the
    /// import record `<batch>_<time>` with the counts. The batch must have
    /// a phone field. The values are the caller's to check (see the web's
    /// import).
    pub async fn import_campaign_rows(
        &self,
        id: i64,
        rows: &[NewRow],
        by: Option<i64>,
    ) -> Result<ImportCounts, StoreError> {
        let dnc = &dnc_set(self.do_not_call_values().await?);
        let counts = dispatch!(self, db => db.import_campaign_rows(id, rows, by, dnc))?;
        if counts.imported >= 1000 {
            self.optimize().await?;
        }
        Ok(counts)
    }

    /// Adds one row to batch `id` by hand; its number must be valid, new
    /// to the batch and not on the do-not-call list
    /// ([`StoreError::InvalidField`] on `phone` says which).
    pub async fn create_campaign_row(&self, id: i64, row: NewRow) -> Result<i64, StoreError> {
        let dnc = &dnc_set(self.do_not_call_values().await?);
        let row = &row;
        dispatch!(self, db => db.create_campaign_row(id, row, dnc))
    }

    /// Changes row `row` of batch `id`: its number (checked as when added)
    /// and values.
    pub async fn update_campaign_row(
        &self,
        id: i64,
        row: i64,
        change: NewRow,
    ) -> Result<(), StoreError> {
        let dnc = &dnc_set(self.do_not_call_values().await?);
        let change = &change;
        dispatch!(self, db => db.update_campaign_row(id, row, change, dnc))
    }

    /// Row `row` of batch `id`, if it exists.
    pub async fn get_campaign_row(
        &self,
        id: i64,
        row: i64,
    ) -> Result<Option<CampaignRow>, StoreError> {
        dispatch!(self, db => db.get_campaign_row(id, row))
    }

    /// Deletes rows `rows` of batch `id`; how many were deleted.
    pub async fn delete_campaign_rows(&self, id: i64, rows: &[i64]) -> Result<u64, StoreError> {
        dispatch!(self, db => db.delete_campaign_rows(id, rows))
    }

    /// A page of a batch's rows, oldest first.
    pub async fn list_campaign_rows(
        &self,
        q: &RowQuery,
    ) -> Result<CrmPage<CampaignRow>, StoreError> {
        if let Some(s) = &q.state {
            one_of("state", s, ROW_STATES)?;
        }
        let search = q.search.trim().to_lowercase();
        if search.is_empty() {
            return dispatch!(self, db => db.list_campaign_rows(q));
        }
        // The SQL's LIKE on the values' JSON text finds a superset (it
        // also sees the field keys); the rows whose number or a value
        // holds the text (ignoring case) are kept here, and paged.
        let wide = &RowQuery {
            limit: i64::MAX,
            offset: 0,
            ..q.clone()
        };
        let candidates = dispatch!(self, db => db.list_campaign_rows(wide))?;
        let matched: Vec<CampaignRow> = candidates
            .rows
            .into_iter()
            .filter(|r| {
                r.phone.contains(&search)
                    || r.values
                        .values()
                        .any(|v| v.to_lowercase().contains(&search))
            })
            .collect();
        let total = matched.len() as i64;
        let rows = matched
            .into_iter()
            .skip(usize::try_from(q.offset.max(0)).unwrap_or(0))
            .take(usize::try_from(q.limit.clamp(1, 500)).unwrap_or(0))
            .collect();
        Ok(CrmPage {
            rows,
            total,
            more: false,
        })
    }

    /// The import records of batch `batch` (or of every batch of `scope`),
    /// newest first, at most `limit`.
    pub async fn list_campaign_imports(
        &self,
        batch: Option<i64>,
        scope: &BatchScope,
        limit: i64,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        dispatch!(self, db => db.list_campaign_imports(batch, scope, limit))
    }

    /// Import record `id`, if it exists.
    pub async fn get_campaign_import(&self, id: i64) -> Result<Option<ImportRecord>, StoreError> {
        dispatch!(self, db => db.get_campaign_import(id))
    }

    /// Deletes import record `id` and its rows that are still
    /// `unassigned`; the others (held by an activity) stay. Returns
    /// `(rows deleted, rows kept)`.
    pub async fn delete_campaign_import(&self, id: i64) -> Result<(u64, u64), StoreError> {
        dispatch!(self, db => db.delete_campaign_import(id))
    }

    /// Creates a filter form (its batch must exist, its conditions be
    /// valid for the batch: [`StoreError::InvalidField`] on `conditions`
    /// names the first bad one).
    pub async fn create_campaign_filter(
        &self,
        f: FilterFields,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        let f = &self.checked_filter(f).await?;
        dispatch!(self, db => db.create_campaign_filter(f, by))
    }

    /// Changes filter form `id` (checked as when created).
    pub async fn update_campaign_filter(&self, id: i64, f: FilterFields) -> Result<(), StoreError> {
        let f = &self.checked_filter(f).await?;
        dispatch!(self, db => db.update_campaign_filter(id, f))
    }

    /// Deletes filter form `id` (its run records stay: they are history).
    pub async fn delete_campaign_filter(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_campaign_filter(id))
    }

    /// Filter form `id`, if it exists.
    pub async fn get_campaign_filter(&self, id: i64) -> Result<Option<CampaignFilter>, StoreError> {
        dispatch!(self, db => db.get_campaign_filter(id))
    }

    /// The filter forms of the batches of `scope`, newest first.
    pub async fn list_campaign_filters(
        &self,
        scope: &BatchScope,
    ) -> Result<Vec<CampaignFilter>, StoreError> {
        dispatch!(self, db => db.list_campaign_filters(scope))
    }

    /// The rows of batch `batch` that match `conditions` (and are in
    /// `state`, when given), oldest first: the page `limit`/`offset` and
    /// the total. The conditions are expected valid
    /// ([`filter::validate`]).
    pub async fn match_campaign_rows(
        &self,
        batch: i64,
        conditions: &[Condition],
        state: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<CrmPage<CampaignRow>, StoreError> {
        let specs = self.campaign_field_specs(batch).await?;
        let rows = dispatch!(self, db => db.all_campaign_rows(batch, state))?;
        let matched: Vec<CampaignRow> = rows
            .into_iter()
            .filter(|r| row_matches(r, conditions, &specs))
            .collect();
        let total = matched.len() as i64;
        let rows = matched
            .into_iter()
            .skip(usize::try_from(offset.max(0)).unwrap_or(0))
            .take(usize::try_from(limit.clamp(0, 500)).unwrap_or(0))
            .collect();
        Ok(CrmPage {
            rows,
            total,
            more: false,
        })
    }

    /// The ids of up to `limit` rows of filter `filter`'s batch that match
    /// it and are `unassigned` (or `recalled`: a recalled row goes out
    /// again), oldest first: what an activity extracts (抽取).
    pub async fn extract_campaign_rows(
        &self,
        filter: i64,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let Some(f) = self.get_campaign_filter(filter).await? else {
            return Err(StoreError::CrmNotFound("filter", filter));
        };
        let specs = self.campaign_field_specs(f.fields.batch_id).await?;
        let batch = f.fields.batch_id;
        let rows = dispatch!(self, db => db.all_campaign_rows(batch, None))?;
        Ok(rows
            .into_iter()
            .filter(|r| r.state == UNASSIGNED || r.state == "recalled")
            .filter(|r| row_matches(r, &f.fields.conditions, &specs))
            .take(limit)
            .map(|r| r.id)
            .collect())
    }

    /// Gives rows `rows` to an activity's assignee (`kind`: agent,
    /// department, queue or robot; `assignee`: its extension, id, name):
    /// state `assigned`. Only rows that are `unassigned` or `recalled`
    /// move; returns how many did.
    pub async fn assign_campaign_rows(
        &self,
        rows: &[i64],
        activity: i64,
        kind: &str,
        assignee: &str,
    ) -> Result<u64, StoreError> {
        one_of(
            "assignee_kind",
            kind,
            &["agent", "department", "queue", "robot"],
        )?;
        dispatch!(self, db => db.assign_campaign_rows(rows, activity, kind, assignee))
    }

    /// Sets row `row`'s state (one of [`ROW_STATES`]) and, when given, the
    /// last dial's result; `recalled` and `unassigned` also clear its
    /// assignee.
    pub async fn set_campaign_row_state(
        &self,
        row: i64,
        state: &str,
        result: Option<&str>,
    ) -> Result<(), StoreError> {
        one_of("state", state, ROW_STATES)?;
        dispatch!(self, db => db.set_campaign_row_state(row, state, result))
    }

    /// Records an extraction from a filter (8.2.2); an empty name becomes
    /// `<filter>_<YYYY-MM-DD HH:MM:SS>`. Returns its id.
    pub async fn add_filter_run(&self, run: FilterRun) -> Result<i64, StoreError> {
        let mut run = run;
        if run.created_at == 0 {
            run.created_at = db::now_ms();
        }
        if run.name.trim().is_empty() {
            let f = self
                .get_campaign_filter(run.filter_id)
                .await?
                .ok_or(StoreError::CrmNotFound("filter", run.filter_id))?;
            run.name = format!("{}_{}", f.fields.name, stamp(run.created_at));
            run.batch_id = f.fields.batch_id;
        }
        let run = &run;
        dispatch!(self, db => db.add_filter_run(run))
    }

    /// The filter records, newest first: of one filter, or of one batch,
    /// or of every batch of `scope`; at most `limit`.
    pub async fn list_filter_runs(
        &self,
        filter: Option<i64>,
        batch: Option<i64>,
        scope: &BatchScope,
        limit: i64,
    ) -> Result<Vec<FilterRun>, StoreError> {
        dispatch!(self, db => db.list_filter_runs(filter, batch, scope, limit))
    }

    /// The values of the internal do-not-call list, as stored.
    pub async fn do_not_call_values(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_entries(VoiceList::Dnc)
            .await?
            .into_iter()
            .map(|e| e.value)
            .collect())
    }

    /// Whether `number` (in any written form: compared normalised, see
    /// [`callcenter::crm::normalize_number`]) is on the internal
    /// do-not-call list: the dialer asks before every outbound dial.
    pub async fn is_do_not_call(&self, number: &str) -> Result<bool, StoreError> {
        let Some(n) = crm::normalize_number(number) else {
            return Ok(false);
        };
        Ok(dnc_set(self.do_not_call_values().await?).contains(&n))
    }

    async fn checked_filter(&self, mut f: FilterFields) -> Result<FilterFields, StoreError> {
        f.name = f.name.trim().to_string();
        if f.kind.is_empty() {
            f.kind = FILTER_KINDS[0].into();
        }
        crm::check_name("name", &f.name).map_err(StoreError::InvalidField)?;
        one_of("kind", &f.kind, FILTER_KINDS)?;
        crm::check_len("description", &f.description, crm::MAX_TEXT)
            .map_err(StoreError::InvalidField)?;
        if self.get_batch(f.batch_id).await?.is_none() {
            return Err(StoreError::CrmNotFound("batch", f.batch_id));
        }
        let specs = self.campaign_field_specs(f.batch_id).await?;
        filter::validate(&f.conditions, &specs)
            .map_err(|e| field_error("conditions", e.to_string()))?;
        Ok(f)
    }
}

/// Whether row `r` matches `conditions`.
fn row_matches(r: &CampaignRow, conditions: &[Condition], specs: &[FieldSpec]) -> bool {
    filter::matches(conditions, specs, |k| match k {
        filter::PHONE => Some(r.phone.as_str()),
        filter::STATE => Some(r.state.as_str()),
        other => r.values.get(other).map(String::as_str),
    })
}

/// Each number's fate against the batch's numbers `existing` (cleaned),
/// the ones before it, and the do-not-call list `dnc` (normalised).
fn classify(
    phones: &[String],
    mut existing: HashSet<String>,
    dnc: &HashSet<String>,
) -> Vec<Result<String, SkipReason>> {
    phones
        .iter()
        .map(|p| {
            let Some(clean) = clean_phone(p) else {
                return Err(SkipReason::Invalid);
            };
            if on_dnc(dnc, &clean) {
                return Err(SkipReason::Dnc);
            }
            if !existing.insert(clean.clone()) {
                return Err(SkipReason::Duplicate);
            }
            Ok(clean)
        })
        .collect()
}

const BATCH_COLUMNS: &str = "b.id, b.name, b.kind, b.description, b.department_id, \
     b.created_by, b.created_at, b.updated_at, \
     (SELECT COUNT(*) FROM campaign_rows r WHERE r.batch_id = b.id) AS row_count";

const FIELD_COLUMNS: &str = "key, title, data_type, is_phone, style, dictionary, required, \
     positions, io_disabled, position";

const ROW_COLUMNS: &str = "id, batch_id, phone, data, import_id, state, activity_id, assignee, \
     assignee_kind, dial_count, fail_count, preview_count, appointment_at, last_result, \
     run_id, created_at, updated_at";

const IMPORT_COLUMNS: &str = "i.id, i.batch_id, i.title, i.imported, i.invalid, i.duplicate, \
     i.dnc, i.created_by, i.created_at";

const FILTER_COLUMNS: &str = "f.id, f.name, f.kind, f.batch_id, f.description, f.conditions, \
     f.created_by, f.created_at, f.updated_at";

const RUN_COLUMNS: &str = "x.id, x.filter_id, x.batch_id, x.activity_id, x.name, x.matched, \
     x.to_agents, x.to_departments, x.to_robots, x.to_queues, x.unassigned, x.recalled, \
     x.recalled_to_departments, x.created_at";

fn decode_err(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::Database {
        context: what,
        source: sqlx::Error::Decode(Box::new(e)),
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
    DB::QueryResult: RowsAffected,
{
    /// Refuses `name` when another row of `table` (a campaign table with
    /// a unique name: batches, activities) than `except` has it.
    pub(crate) async fn campaign_name_taken(
        tx: &mut crate::db::Tx<DB>,
        table: &'static str,
        what: &'static str,
        name: &str,
        except: i64,
    ) -> Result<(), StoreError> {
        let taken: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE name = $1 AND id <> $2"
        )))
        .bind(name)
        .bind(except)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err("checking a name"))?;
        match taken {
            Some(_) => Err(StoreError::CrmNameTaken(what, name.to_string())),
            None => Ok(()),
        }
    }

    pub(crate) async fn create_batch(
        &self,
        f: &BatchFields,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        const CONTEXT: &str = "creating a batch";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        Self::campaign_name_taken(&mut tx, "campaign_batches", "batch", &f.name, 0).await?;
        let now = Ts(db::now_ms());
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO campaign_batches (name, kind, description, department_id, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(&f.name)
        .bind(&f.kind)
        .bind(&f.description)
        .bind(Self::opt(f.department_id))
        .bind(Self::opt(by))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(id)
    }

    pub(crate) async fn update_batch(&self, id: i64, f: &BatchFields) -> Result<(), StoreError> {
        const CONTEXT: &str = "changing a batch";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        Self::campaign_name_taken(&mut tx, "campaign_batches", "batch", &f.name, id).await?;
        let done = sqlx::query(
            "UPDATE campaign_batches SET name = $1, kind = $2, description = $3, \
             department_id = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&f.name)
        .bind(&f.kind)
        .bind(&f.description)
        .bind(Self::opt(f.department_id))
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("batch", id));
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    pub(crate) async fn delete_batch(&self, id: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "deleting a batch";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM campaign_rows WHERE batch_id = $1 AND state <> 'unassigned'",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        if held > 0 {
            return Err(field_error(
                "batch",
                format!("{held} of its rows are held by activities: recall them first"),
            ));
        }
        let gone = sqlx::query("DELETE FROM campaign_batches WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("batch", id));
        }
        for table in [
            "campaign_fields",
            "campaign_rows",
            "campaign_imports",
            "campaign_filters",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE batch_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    fn batch_of(r: &DB::Row) -> Result<Batch, sqlx::Error> {
        Ok(Batch {
            id: r.try_get("id")?,
            fields: BatchFields {
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                description: r.try_get("description")?,
                department_id: r.try_get("department_id")?,
            },
            created_by: r.try_get("created_by")?,
            rows: r.try_get("row_count")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    pub(crate) async fn get_batch(&self, id: i64) -> Result<Option<Batch>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BATCH_COLUMNS} FROM campaign_batches b WHERE b.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a batch"))?;
        row.as_ref()
            .map(Self::batch_of)
            .transpose()
            .map_err(db_err("reading a batch"))
    }

    pub(crate) async fn list_batches(&self, scope: &BatchScope) -> Result<Vec<Batch>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BATCH_COLUMNS} FROM campaign_batches b WHERE {} \
             ORDER BY b.created_at DESC, b.id DESC",
            scope.sql()
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing batches"))?;
        rows.iter()
            .map(Self::batch_of)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing batches"))
    }

    fn field_of(r: &DB::Row) -> Result<CampaignField, sqlx::Error> {
        let positions: String = r.try_get("positions")?;
        Ok(CampaignField {
            key: r.try_get("key")?,
            title: r.try_get("title")?,
            data_type: r.try_get("data_type")?,
            is_phone: r.try_get("is_phone")?,
            style: r.try_get("style")?,
            dictionary: r.try_get("dictionary")?,
            required: r.try_get("required")?,
            positions: positions
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            io_disabled: r.try_get("io_disabled")?,
            position: r.try_get("position")?,
        })
    }

    async fn fields_in(
        executor: impl Executor<'_, Database = DB>,
        id: i64,
    ) -> Result<Vec<CampaignField>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIELD_COLUMNS} FROM campaign_fields WHERE batch_id = $1 \
             ORDER BY position, key"
        )))
        .bind(id)
        .fetch_all(executor)
        .await
        .map_err(db_err("reading a batch's fields"))?;
        rows.iter()
            .map(Self::field_of)
            .collect::<Result<_, _>>()
            .map_err(db_err("reading a batch's fields"))
    }

    pub(crate) async fn campaign_fields(&self, id: i64) -> Result<Vec<CampaignField>, StoreError> {
        Self::fields_in(&self.pool, id).await
    }

    async fn row_count(tx: &mut crate::db::Tx<DB>, id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM campaign_rows WHERE batch_id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .map_err(db_err("counting a batch's rows"))
    }

    pub(crate) async fn apply_campaign_template(
        &self,
        id: i64,
        titles: &[String],
    ) -> Result<Vec<CampaignField>, StoreError> {
        const CONTEXT: &str = "applying a template";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let next: Option<i32> =
            sqlx::query_scalar("SELECT next_field FROM campaign_batches WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        let Some(mut next) = next else {
            return Err(StoreError::CrmNotFound("batch", id));
        };
        let has_rows = Self::row_count(&mut tx, id).await? > 0;
        let mut fields = Self::fields_in(&mut *tx, id).await?;
        let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
        if !has_rows {
            // No data yet: the template says what the fields are; a field
            // it still names keeps its key and settings.
            for f in &fields {
                if !titles.iter().any(|t| same(t, &f.title)) {
                    sqlx::query("DELETE FROM campaign_fields WHERE batch_id = $1 AND key = $2")
                        .bind(id)
                        .bind(&f.key)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err(CONTEXT))?;
                }
            }
            fields.retain(|f| titles.iter().any(|t| same(t, &f.title)));
        }
        let new = titles
            .iter()
            .filter(|t| !fields.iter().any(|f| same(t, &f.title)))
            .count();
        if fields.len() + new > MAX_FIELDS {
            return Err(field_error(
                "file",
                format!("a batch has at most {MAX_FIELDS} fields"),
            ));
        }
        let mut has_phone = fields.iter().any(|f| f.is_phone);
        let mut position = fields.iter().map(|f| f.position).max().unwrap_or(0);
        for (i, title) in titles.iter().enumerate() {
            if let Some(f) = fields.iter().find(|f| same(&f.title, title)) {
                if !has_rows {
                    // The template's order.
                    sqlx::query(
                        "UPDATE campaign_fields SET position = $1 WHERE batch_id = $2 AND key = $3",
                    )
                    .bind(i32::try_from(i).unwrap_or(i32::MAX))
                    .bind(id)
                    .bind(&f.key)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err(CONTEXT))?;
                }
                continue;
            }
            let is_phone = !has_phone && looks_like_phone(title);
            has_phone |= is_phone;
            position = if has_rows {
                position + 1
            } else {
                i32::try_from(i).unwrap_or(i32::MAX)
            };
            sqlx::query(
                "INSERT INTO campaign_fields (batch_id, key, title, data_type, is_phone, style, \
                 dictionary, required, positions, io_disabled, position) \
                 VALUES ($1, $2, $3, 'text', $4, 'text', '', $5, 'list,add,edit,detail', $6, $7)",
            )
            .bind(id)
            .bind(format!("f{next}"))
            .bind(title)
            .bind(is_phone)
            .bind(is_phone)
            .bind(false)
            .bind(position)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
            next += 1;
        }
        sqlx::query("UPDATE campaign_batches SET next_field = $1, updated_at = $2 WHERE id = $3")
            .bind(next)
            .bind(Ts(db::now_ms()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        let fields = Self::fields_in(&mut *tx, id).await?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(fields)
    }

    pub(crate) async fn update_campaign_field(
        &self,
        id: i64,
        f: &CampaignField,
    ) -> Result<CampaignField, StoreError> {
        const CONTEXT: &str = "changing a field";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let fields = Self::fields_in(&mut *tx, id).await?;
        let Some(old) = fields.iter().find(|o| o.key == f.key) else {
            return Err(field_error(
                "key",
                format!("batch {id} has no field '{}'", f.key),
            ));
        };
        if fields
            .iter()
            .any(|o| o.key != f.key && o.title.to_lowercase() == f.title.to_lowercase())
        {
            return Err(field_error(
                "title",
                format!("the batch has another field titled '{}'", f.title),
            ));
        }
        if old.is_phone != f.is_phone && Self::row_count(&mut tx, id).await? > 0 {
            return Err(field_error(
                "is_phone",
                "the phone field cannot change while the batch holds rows".into(),
            ));
        }
        if f.is_phone {
            sqlx::query("UPDATE campaign_fields SET is_phone = $1 WHERE batch_id = $2")
                .bind(false)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        }
        sqlx::query(
            "UPDATE campaign_fields SET title = $1, data_type = $2, is_phone = $3, style = $4, \
             dictionary = $5, required = $6, positions = $7, io_disabled = $8 \
             WHERE batch_id = $9 AND key = $10",
        )
        .bind(&f.title)
        .bind(&f.data_type)
        .bind(f.is_phone)
        .bind(&f.style)
        .bind(&f.dictionary)
        .bind(f.required || f.is_phone)
        .bind(f.positions.join(","))
        .bind(f.io_disabled && !f.is_phone)
        .bind(id)
        .bind(&f.key)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        let fields = Self::fields_in(&mut *tx, id).await?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        fields
            .into_iter()
            .find(|o| o.key == f.key)
            .ok_or(StoreError::CrmNotFound("batch", id))
    }

    pub(crate) async fn batch_phones(&self, id: i64) -> Result<HashSet<String>, StoreError> {
        let phones: Vec<String> =
            sqlx::query_scalar("SELECT phone FROM campaign_rows WHERE batch_id = $1")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("reading a batch's numbers"))?;
        Ok(phones.into_iter().collect())
    }

    async fn has_phone_field(tx: &mut crate::db::Tx<DB>, id: i64) -> Result<(), StoreError> {
        let fields = Self::fields_in(&mut **tx, id).await?;
        if fields.iter().any(|f| f.is_phone) {
            Ok(())
        } else {
            Err(field_error(
                "phone",
                "the batch has no phone field: upload a template and mark its number column \
                 as the phone number first"
                    .into(),
            ))
        }
    }

    async fn insert_row(
        tx: &mut crate::db::Tx<DB>,
        id: i64,
        phone: &str,
        values: &BTreeMap<String, String>,
        import: Option<i64>,
        now: Ts,
    ) -> Result<i64, StoreError> {
        let data = serde_json::to_string(values).map_err(decode_err("saving a row"))?;
        sqlx::query_scalar(
            "INSERT INTO campaign_rows (batch_id, phone, data, import_id, state, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'unassigned', $5, $5) RETURNING id",
        )
        .bind(id)
        .bind(phone)
        .bind(data)
        .bind(Self::opt(import))
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err("saving a row"))
    }

    pub(crate) async fn import_campaign_rows(
        &self,
        id: i64,
        rows: &[NewRow],
        by: Option<i64>,
        dnc: &HashSet<String>,
    ) -> Result<ImportCounts, StoreError> {
        const CONTEXT: &str = "importing rows";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM campaign_batches WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        let Some(name) = name else {
            return Err(StoreError::CrmNotFound("batch", id));
        };
        Self::has_phone_field(&mut tx, id).await?;
        let existing: Vec<String> =
            sqlx::query_scalar("SELECT phone FROM campaign_rows WHERE batch_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        let phones: Vec<String> = rows.iter().map(|r| r.phone.clone()).collect();
        let verdicts = classify(&phones, existing.into_iter().collect(), dnc);
        let mut counts = ImportCounts::default();
        for (i, v) in verdicts.iter().enumerate() {
            match v {
                Ok(_) => counts.imported += 1,
                Err(why) => {
                    match why {
                        SkipReason::Invalid => counts.invalid += 1,
                        SkipReason::Duplicate => counts.duplicate += 1,
                        SkipReason::Dnc => counts.dnc += 1,
                    }
                    counts.skipped.push((i, *why));
                }
            }
        }
        let now = db::now_ms();
        let import: i64 = sqlx::query_scalar(
            "INSERT INTO campaign_imports (batch_id, title, imported, invalid, duplicate, dnc, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(id)
        .bind(format!("{name}_{}", stamp(now)))
        .bind(counts.imported)
        .bind(counts.invalid)
        .bind(counts.duplicate)
        .bind(counts.dnc)
        .bind(Self::opt(by))
        .bind(Ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        for (row, verdict) in rows.iter().zip(&verdicts) {
            if let Ok(phone) = verdict {
                Self::insert_row(&mut tx, id, phone, &row.values, Some(import), Ts(now)).await?;
            }
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        counts.import_id = Some(import);
        Ok(counts)
    }

    /// The cleaned number of a row added or changed by hand, or the error
    /// that says why it cannot be (`except`: the row being changed).
    async fn hand_phone(
        tx: &mut crate::db::Tx<DB>,
        id: i64,
        phone: &str,
        except: i64,
        dnc: &HashSet<String>,
    ) -> Result<String, StoreError> {
        let Some(clean) = clean_phone(phone) else {
            return Err(field_error(
                "phone",
                format!("'{phone}' is not a phone number (3 to 20 digits, an optional + first)"),
            ));
        };
        if on_dnc(dnc, &clean) {
            return Err(field_error(
                "phone",
                format!("{clean} is on the do-not-call list"),
            ));
        }
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM campaign_rows WHERE batch_id = $1 AND phone = $2 AND id <> $3",
        )
        .bind(id)
        .bind(&clean)
        .bind(except)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err("checking a number"))?;
        if taken.is_some() {
            return Err(field_error(
                "phone",
                format!("{clean} is already in the batch"),
            ));
        }
        Ok(clean)
    }

    pub(crate) async fn create_campaign_row(
        &self,
        id: i64,
        row: &NewRow,
        dnc: &HashSet<String>,
    ) -> Result<i64, StoreError> {
        const CONTEXT: &str = "adding a row";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        if Self::get_batch_in(&mut tx, id).await?.is_none() {
            return Err(StoreError::CrmNotFound("batch", id));
        }
        Self::has_phone_field(&mut tx, id).await?;
        let phone = Self::hand_phone(&mut tx, id, &row.phone, 0, dnc).await?;
        let new =
            Self::insert_row(&mut tx, id, &phone, &row.values, None, Ts(db::now_ms())).await?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(new)
    }

    async fn get_batch_in(tx: &mut crate::db::Tx<DB>, id: i64) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM campaign_batches WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("reading a batch"))
    }

    pub(crate) async fn update_campaign_row(
        &self,
        id: i64,
        row: i64,
        change: &NewRow,
        dnc: &HashSet<String>,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "changing a row";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let phone = Self::hand_phone(&mut tx, id, &change.phone, row, dnc).await?;
        let data = serde_json::to_string(&change.values).map_err(decode_err(CONTEXT))?;
        let done = sqlx::query(
            "UPDATE campaign_rows SET phone = $1, data = $2, updated_at = $3 \
             WHERE batch_id = $4 AND id = $5",
        )
        .bind(phone)
        .bind(data)
        .bind(Ts(db::now_ms()))
        .bind(id)
        .bind(row)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("row", row));
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    fn row_of(r: &DB::Row) -> Result<CampaignRow, sqlx::Error> {
        let data: String = r.try_get("data")?;
        Ok(CampaignRow {
            id: r.try_get("id")?,
            batch_id: r.try_get("batch_id")?,
            phone: r.try_get("phone")?,
            values: serde_json::from_str(&data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            import_id: r.try_get("import_id")?,
            state: r.try_get("state")?,
            activity_id: r.try_get("activity_id")?,
            assignee: r.try_get("assignee")?,
            assignee_kind: r.try_get("assignee_kind")?,
            dial_count: r.try_get("dial_count")?,
            fail_count: r.try_get("fail_count")?,
            preview_count: r.try_get("preview_count")?,
            appointment_at: r.try_get::<Option<Ts>, _>("appointment_at")?.map(|t| t.0),
            last_result: r.try_get("last_result")?,
            run_id: r.try_get("run_id")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    pub(crate) async fn get_campaign_row(
        &self,
        id: i64,
        row: i64,
    ) -> Result<Option<CampaignRow>, StoreError> {
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM campaign_rows WHERE batch_id = $1 AND id = $2"
        )))
        .bind(id)
        .bind(row)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a row"))?;
        found
            .as_ref()
            .map(Self::row_of)
            .transpose()
            .map_err(db_err("reading a row"))
    }

    pub(crate) async fn delete_campaign_rows(
        &self,
        id: i64,
        rows: &[i64],
    ) -> Result<u64, StoreError> {
        const CONTEXT: &str = "deleting rows";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let mut n = 0;
        for row in rows {
            n += sqlx::query("DELETE FROM campaign_rows WHERE batch_id = $1 AND id = $2")
                .bind(id)
                .bind(*row)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?
                .rows_affected();
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(n)
    }

    pub(crate) async fn list_campaign_rows(
        &self,
        q: &RowQuery,
    ) -> Result<CrmPage<CampaignRow>, StoreError> {
        const CONTEXT: &str = "listing rows";
        let search = q.search.trim();
        let mut cond = String::from("batch_id = $1");
        if q.state.is_some() {
            cond.push_str(" AND state = $2");
        }
        if !search.is_empty() {
            cond.push_str(
                " AND (phone LIKE $3 ESCAPE '\\' OR LOWER(data) LIKE LOWER($6) ESCAPE '\\')",
            );
        }
        let pattern = like(search);
        // The values are stored as JSON text: a quote or backslash in the
        // text is escaped there.
        let json_text = serde_json::to_string(search).unwrap_or_default();
        let data_pattern = like(
            json_text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(search),
        );
        let state = q.state.clone().unwrap_or_default();
        // Every statement binds all three ($2 and $3 unused when not
        // needed would be an error on PostgreSQL): the unused ones are
        // compared with themselves.
        let cond = if q.state.is_none() {
            format!("{cond} AND $2 = $2")
        } else {
            cond
        };
        let cond = if search.is_empty() {
            format!("{cond} AND $3 = $3 AND $6 = $6")
        } else {
            cond
        };
        let total = self
            .count_rows(
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM campaign_rows WHERE {cond} AND $4 = $4 AND $5 = $5"
                )))
                .bind(q.batch_id)
                .bind(state.clone())
                .bind(pattern.clone())
                .bind(0_i64)
                .bind(0_i64)
                .bind(data_pattern.clone()),
                CONTEXT,
            )
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM campaign_rows WHERE {cond} ORDER BY id LIMIT $4 OFFSET $5"
        )))
        .bind(q.batch_id)
        .bind(state)
        .bind(pattern)
        .bind(q.limit.max(1))
        .bind(q.offset.max(0))
        .bind(data_pattern)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let rows = rows
            .iter()
            .map(Self::row_of)
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))?;
        Ok(CrmPage {
            rows,
            total,
            more: false,
        })
    }

    pub(crate) async fn all_campaign_rows(
        &self,
        batch: i64,
        state: Option<&str>,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        const CONTEXT: &str = "reading a batch's rows";
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM campaign_rows WHERE batch_id = $1 \
             AND ($2 = '' OR state = $2) ORDER BY id"
        )))
        .bind(batch)
        .bind(state.unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(Self::row_of)
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))
    }

    fn import_of(r: &DB::Row) -> Result<ImportRecord, sqlx::Error> {
        Ok(ImportRecord {
            id: r.try_get("id")?,
            batch_id: r.try_get("batch_id")?,
            title: r.try_get("title")?,
            imported: r.try_get("imported")?,
            invalid: r.try_get("invalid")?,
            duplicate: r.try_get("duplicate")?,
            dnc: r.try_get("dnc")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
        })
    }

    pub(crate) async fn list_campaign_imports(
        &self,
        batch: Option<i64>,
        scope: &BatchScope,
        limit: i64,
    ) -> Result<Vec<ImportRecord>, StoreError> {
        const CONTEXT: &str = "listing import records";
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {IMPORT_COLUMNS} FROM campaign_imports i \
             JOIN campaign_batches b ON b.id = i.batch_id \
             WHERE ($1 = 0 OR i.batch_id = $1) AND {} \
             ORDER BY i.created_at DESC, i.id DESC LIMIT $2",
            scope.sql()
        )))
        .bind(batch.unwrap_or(0))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(Self::import_of)
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn get_campaign_import(
        &self,
        id: i64,
    ) -> Result<Option<ImportRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {IMPORT_COLUMNS} FROM campaign_imports i WHERE i.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading an import record"))?;
        row.as_ref()
            .map(Self::import_of)
            .transpose()
            .map_err(db_err("reading an import record"))
    }

    pub(crate) async fn delete_campaign_import(&self, id: i64) -> Result<(u64, u64), StoreError> {
        const CONTEXT: &str = "deleting an import record";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let gone = sqlx::query("DELETE FROM campaign_imports WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("import", id));
        }
        let deleted =
            sqlx::query("DELETE FROM campaign_rows WHERE import_id = $1 AND state = 'unassigned'")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?
                .rows_affected();
        // The rows kept no longer have a record to point to.
        let kept = sqlx::query("UPDATE campaign_rows SET import_id = NULL WHERE import_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok((deleted, kept))
    }

    fn filter_of(r: &DB::Row) -> Result<CampaignFilter, sqlx::Error> {
        let conditions: String = r.try_get("conditions")?;
        Ok(CampaignFilter {
            id: r.try_get("id")?,
            fields: FilterFields {
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                batch_id: r.try_get("batch_id")?,
                description: r.try_get("description")?,
                conditions: serde_json::from_str(&conditions)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            },
            created_by: r.try_get("created_by")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    pub(crate) async fn create_campaign_filter(
        &self,
        f: &FilterFields,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        const CONTEXT: &str = "creating a filter";
        let conditions = serde_json::to_string(&f.conditions).map_err(decode_err(CONTEXT))?;
        let now = Ts(db::now_ms());
        sqlx::query_scalar(
            "INSERT INTO campaign_filters (name, kind, batch_id, description, conditions, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             RETURNING id",
        )
        .bind(&f.name)
        .bind(&f.kind)
        .bind(f.batch_id)
        .bind(&f.description)
        .bind(conditions)
        .bind(Self::opt(by))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn update_campaign_filter(
        &self,
        id: i64,
        f: &FilterFields,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "changing a filter";
        let conditions = serde_json::to_string(&f.conditions).map_err(decode_err(CONTEXT))?;
        let done = sqlx::query(
            "UPDATE campaign_filters SET name = $1, kind = $2, batch_id = $3, description = $4, \
             conditions = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&f.name)
        .bind(&f.kind)
        .bind(f.batch_id)
        .bind(&f.description)
        .bind(conditions)
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("filter", id));
        }
        Ok(())
    }

    pub(crate) async fn delete_campaign_filter(&self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM campaign_filters WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a filter"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("filter", id));
        }
        Ok(())
    }

    pub(crate) async fn get_campaign_filter(
        &self,
        id: i64,
    ) -> Result<Option<CampaignFilter>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILTER_COLUMNS} FROM campaign_filters f WHERE f.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a filter"))?;
        row.as_ref()
            .map(Self::filter_of)
            .transpose()
            .map_err(db_err("reading a filter"))
    }

    pub(crate) async fn list_campaign_filters(
        &self,
        scope: &BatchScope,
    ) -> Result<Vec<CampaignFilter>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FILTER_COLUMNS} FROM campaign_filters f \
             JOIN campaign_batches b ON b.id = f.batch_id WHERE {} \
             ORDER BY f.created_at DESC, f.id DESC",
            scope.sql()
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing filters"))?;
        rows.iter()
            .map(Self::filter_of)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing filters"))
    }

    pub(crate) async fn assign_campaign_rows(
        &self,
        rows: &[i64],
        activity: i64,
        kind: &str,
        assignee: &str,
    ) -> Result<u64, StoreError> {
        const CONTEXT: &str = "assigning rows";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let now = Ts(db::now_ms());
        let mut n = 0;
        for row in rows {
            n += sqlx::query(
                "UPDATE campaign_rows SET state = 'assigned', activity_id = $1, \
                 assignee_kind = $2, assignee = $3, updated_at = $4 \
                 WHERE id = $5 AND state IN ('unassigned', 'recalled')",
            )
            .bind(activity)
            .bind(kind)
            .bind(assignee)
            .bind(now)
            .bind(*row)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(n)
    }

    pub(crate) async fn set_campaign_row_state(
        &self,
        row: i64,
        state: &str,
        result: Option<&str>,
    ) -> Result<(), StoreError> {
        let release = state == UNASSIGNED || state == "recalled";
        let done = sqlx::query(
            "UPDATE campaign_rows SET state = $1, \
             last_result = CASE WHEN $2 THEN $3 ELSE last_result END, \
             assignee = CASE WHEN $4 THEN NULL ELSE assignee END, \
             assignee_kind = CASE WHEN $4 THEN NULL ELSE assignee_kind END, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(state)
        .bind(result.is_some())
        .bind(result.unwrap_or_default())
        .bind(release)
        .bind(Ts(db::now_ms()))
        .bind(row)
        .execute(&self.pool)
        .await
        .map_err(db_err("changing a row's state"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("row", row));
        }
        Ok(())
    }

    pub(crate) async fn add_filter_run(&self, run: &FilterRun) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO campaign_filter_runs (filter_id, batch_id, activity_id, name, matched, \
             to_agents, to_departments, to_robots, to_queues, unassigned, recalled, \
             recalled_to_departments, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(run.filter_id)
        .bind(run.batch_id)
        .bind(Self::opt(run.activity_id))
        .bind(&run.name)
        .bind(run.matched)
        .bind(run.to_agents)
        .bind(run.to_departments)
        .bind(run.to_robots)
        .bind(run.to_queues)
        .bind(run.unassigned)
        .bind(run.recalled)
        .bind(run.recalled_to_departments)
        .bind(Ts(run.created_at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("recording a filter run"))
    }

    pub(crate) async fn list_filter_runs(
        &self,
        filter: Option<i64>,
        batch: Option<i64>,
        scope: &BatchScope,
        limit: i64,
    ) -> Result<Vec<FilterRun>, StoreError> {
        const CONTEXT: &str = "listing filter runs";
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM campaign_filter_runs x \
             JOIN campaign_batches b ON b.id = x.batch_id \
             WHERE ($1 = 0 OR x.filter_id = $1) AND ($2 = 0 OR x.batch_id = $2) AND {} \
             ORDER BY x.created_at DESC, x.id DESC LIMIT $3",
            scope.sql()
        )))
        .bind(filter.unwrap_or(0))
        .bind(batch.unwrap_or(0))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|r| -> Result<FilterRun, sqlx::Error> {
                Ok(FilterRun {
                    id: r.try_get("id")?,
                    filter_id: r.try_get("filter_id")?,
                    batch_id: r.try_get("batch_id")?,
                    activity_id: r.try_get("activity_id")?,
                    name: r.try_get("name")?,
                    matched: r.try_get("matched")?,
                    to_agents: r.try_get("to_agents")?,
                    to_departments: r.try_get("to_departments")?,
                    to_robots: r.try_get("to_robots")?,
                    to_queues: r.try_get("to_queues")?,
                    unassigned: r.try_get("unassigned")?,
                    recalled: r.try_get("recalled")?,
                    recalled_to_departments: r.try_get("recalled_to_departments")?,
                    created_at: r.try_get::<Ts, _>("created_at")?.0,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))
    }
}
