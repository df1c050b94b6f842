//! The CRM's contacts and customers (the manual's chapters 4 and 5):
//! contact categories and projects, customers (enterprise or personal, the
//! seven types), contacts linked to a customer, and the number lookup the
//! screen pop makes (a caller's number, normalised, against every contact's
//! mobile and landline and every customer's phone).
//!
//! Who sees what is the caller's [`CrmScope`]: everything, or the records
//! owned by a set of users (the user's own, or their department's) plus the
//! records shared with everyone. Every list, count and lookup here takes
//! one, so no page or API route can forget it.

use callcenter::crm::{self, CustomerKind, CustomerType, FieldError, Gender, Sharing};
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// Which records a user may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrmScope {
    /// Every record (administrators, roles with the "all data" scope).
    All,
    /// Records owned by these users, and records shared with everyone.
    Owners(Vec<i64>),
}

impl CrmScope {
    /// Whether a record owned by `owner` and shared as `sharing` is in
    /// this scope.
    pub fn covers(&self, owner: Option<i64>, sharing: &str) -> bool {
        match self {
            CrmScope::All => true,
            CrmScope::Owners(ids) => {
                sharing == Sharing::Everyone.as_str() || owner.is_some_and(|o| ids.contains(&o))
            }
        }
    }
}

/// A contact category (4.1.1) or project (4.1.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmGroup {
    /// Generated id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
}

/// Which of the two groupings of contacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// Categories (分类).
    Category,
    /// Projects (项目).
    Project,
}

impl GroupKind {
    fn table(self) -> &'static str {
        match self {
            GroupKind::Category => "contact_categories",
            GroupKind::Project => "contact_projects",
        }
    }

    fn what(self) -> &'static str {
        match self {
            GroupKind::Category => "category",
            GroupKind::Project => "project",
        }
    }

    fn column(self) -> &'static str {
        match self {
            GroupKind::Category => "category_id",
            GroupKind::Project => "project_id",
        }
    }
}

/// A customer (5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Generated id.
    pub id: i64,
    /// Its fields.
    #[serde(flatten)]
    pub fields: CustomerFields,
    /// Who created it.
    pub creator_id: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// The editable fields of a customer (the form of 5.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerFields {
    /// `personal` or `enterprise`.
    pub kind: String,
    /// Name (客户姓名), required.
    pub name: String,
    /// Phone (联系电话).
    pub phone: String,
    /// E-mail.
    pub email: String,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// Address.
    pub address: String,
    /// One of the seven types (`normal`, `vip`, `old`, `agent`,
    /// `supplier`, `partner`, `other`).
    pub customer_type: String,
    /// 客户级别.
    pub level: String,
    /// 客户来源.
    pub source: String,
    /// 成熟度.
    pub maturity: String,
    /// 行业.
    pub industry: String,
    /// 客户状态.
    pub status: String,
    /// 客户说明.
    pub description: String,
    /// `private` or `everyone` (共享客户).
    pub sharing: String,
    /// The owner (所有者), a user id.
    pub owner_id: Option<i64>,
    /// When the customer was acquired (获得时间), unix ms; 0: now.
    pub acquired_at: i64,
}

/// A contact (4.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Generated id.
    pub id: i64,
    /// Its fields.
    #[serde(flatten)]
    pub fields: ContactFields,
    /// Who created it.
    pub creator_id: Option<i64>,
    /// When a call to it last failed (拨打失败), unix ms.
    pub call_failed_at: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
}

/// The editable fields of a contact (the form of 4.1.3 and the status
/// and appointment dialog of 4.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactFields {
    /// Name, required.
    pub name: String,
    /// `unknown`, `male` or `female`.
    pub gender: String,
    /// YYYY-MM-DD or empty.
    pub birthday: String,
    /// Mobile number (手机号).
    pub mobile: String,
    /// Landline (座机电话).
    pub phone: String,
    /// E-mail.
    pub email: String,
    /// WeChat id (微信号).
    pub wechat: String,
    /// City.
    pub city: String,
    /// Address.
    pub address: String,
    /// Category (分类).
    pub category_id: Option<i64>,
    /// Project (项目).
    pub project_id: Option<i64>,
    /// The customer it belongs to.
    pub customer_id: Option<i64>,
    /// 业务状态.
    pub business_status: String,
    /// 备注.
    pub remarks: String,
    /// `private` or `everyone` (共享联系人).
    pub sharing: String,
    /// The current handler (当前处理人), a user id; `None`: unassigned.
    pub owner_id: Option<i64>,
    /// Voided (已作废).
    pub voided: bool,
    /// A callback time (预约), unix ms.
    pub appointment_at: Option<i64>,
    /// What the callback is about.
    pub appointment_note: String,
    /// When the contact was acquired (获得时间), unix ms; 0: now.
    pub acquired_at: i64,
}

/// The contact lists of chapter 4's tabs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContactView {
    /// 全部联系人 (not voided).
    #[default]
    All,
    /// Created since the given unix ms (今日新增, 本周新增).
    CreatedSince(i64),
    /// Handled by this user (我的联系人).
    OwnedBy(i64),
    /// Handled by a user of the asker's departments (我的部门): the users
    /// are [`ContactQuery::team`].
    Department,
    /// Nobody handles them (未分配).
    Unassigned,
    /// 已作废.
    Voided,
    /// With a callback time (已预约), soonest first.
    Appointments,
    /// A call to them failed (拨打失败).
    CallFailed,
}

/// What [`Store::list_contacts`] lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactQuery {
    /// The tab.
    pub view: ContactView,
    /// Who is asking: what they may see.
    pub scope: CrmScope,
    /// Text in the name, or digits in a number ("" for any).
    pub search: String,
    /// Only this category.
    pub category_id: Option<i64>,
    /// Page size (at most 500).
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
    /// The users of the asker's departments and those below, the asker
    /// included: the handlers of the [`ContactView::Department`] tab
    /// (other tabs ignore it).
    pub team: Vec<i64>,
}

/// What [`Store::list_customers`] lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerQuery {
    /// Who is asking.
    pub scope: CrmScope,
    /// Only this type (the left column of 5.2).
    pub customer_type: Option<String>,
    /// Only enterprise customers (企业客户).
    pub enterprise_only: bool,
    /// Created since this unix ms (今日新增, 本周新增).
    pub created_since: Option<i64>,
    /// Text in the name, or digits in the phone.
    pub search: String,
    /// Page size (at most 500).
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// One page of a list and how many rows the whole list has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CrmPage<T> {
    /// The rows of the page.
    pub rows: Vec<T>,
    /// Rows in the whole list, counted up to [`COUNT_CAP`].
    pub total: i64,
    /// The list has more than `total` rows: more than [`COUNT_CAP`] (then
    /// `total` is the cap), or a contact search so broad that only a lower
    /// bound is known (see [`Store::list_contacts`]). Counting a million
    /// rows for every page would cost more than the page.
    pub more: bool,
}

/// The most rows a list counts exactly.
pub const COUNT_CAP: i64 = 10_000;

/// The largest department whose tab reads each handler's range of the
/// owner index apart (see `list_contacts`); a larger one reads them as one.
const MAX_TEAM_BRANCHES: usize = 100;

/// What a number matches (the screen pop's lookup).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NumberMatch {
    /// The number as compared (normalised); empty when the text given is
    /// no phone number.
    pub normalized: String,
    /// Contacts whose mobile or landline it is (voided ones last).
    pub contacts: Vec<Contact>,
    /// Customers whose phone it is, and the customers of those contacts.
    pub customers: Vec<Customer>,
}

/// The most rows one lookup returns of each kind.
pub const LOOKUP_LIMIT: i64 = 20;

fn invalid(e: FieldError) -> StoreError {
    StoreError::InvalidField(e)
}

fn closed(field: &'static str, value: &str, ok: bool) -> Result<(), StoreError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(FieldError {
            field,
            why: format!("'{value}' is not one of the choices"),
        }))
    }
}

impl CustomerFields {
    /// Fills the defaults (kind personal, type normal, private) and checks
    /// every field.
    pub fn normalized(mut self) -> Result<CustomerFields, StoreError> {
        if self.kind.is_empty() {
            self.kind = CustomerKind::default().as_str().into();
        }
        if self.customer_type.is_empty() {
            self.customer_type = CustomerType::default().as_str().into();
        }
        if self.sharing.is_empty() {
            self.sharing = Sharing::default().as_str().into();
        }
        self.name = self.name.trim().to_string();
        crm::check_name("name", &self.name).map_err(invalid)?;
        closed(
            "kind",
            &self.kind,
            CustomerKind::parse(&self.kind).is_some(),
        )?;
        closed(
            "customer_type",
            &self.customer_type,
            CustomerType::parse(&self.customer_type).is_some(),
        )?;
        closed(
            "sharing",
            &self.sharing,
            Sharing::parse(&self.sharing).is_some(),
        )?;
        crm::check_phone("phone", &self.phone).map_err(invalid)?;
        crm::check_email("email", &self.email).map_err(invalid)?;
        for (field, value) in [
            ("province", &self.province),
            ("city", &self.city),
            ("level", &self.level),
            ("source", &self.source),
            ("maturity", &self.maturity),
            ("industry", &self.industry),
            ("status", &self.status),
        ] {
            crm::check_len(field, value, crm::MAX_NAME).map_err(invalid)?;
        }
        crm::check_len("address", &self.address, crm::MAX_TEXT).map_err(invalid)?;
        crm::check_len("description", &self.description, crm::MAX_TEXT).map_err(invalid)?;
        Ok(self)
    }
}

impl ContactFields {
    /// Fills the defaults (gender unknown, private) and checks every field.
    pub fn normalized(mut self) -> Result<ContactFields, StoreError> {
        if self.gender.is_empty() {
            self.gender = Gender::default().as_str().into();
        }
        if self.sharing.is_empty() {
            self.sharing = Sharing::default().as_str().into();
        }
        self.name = self.name.trim().to_string();
        crm::check_name("name", &self.name).map_err(invalid)?;
        closed(
            "gender",
            &self.gender,
            Gender::parse(&self.gender).is_some(),
        )?;
        closed(
            "sharing",
            &self.sharing,
            Sharing::parse(&self.sharing).is_some(),
        )?;
        crm::check_date("birthday", &self.birthday).map_err(invalid)?;
        crm::check_phone("mobile", &self.mobile).map_err(invalid)?;
        crm::check_phone("phone", &self.phone).map_err(invalid)?;
        crm::check_email("email", &self.email).map_err(invalid)?;
        for (field, value) in [
            ("wechat", &self.wechat),
            ("city", &self.city),
            ("business_status", &self.business_status),
        ] {
            crm::check_len(field, value, crm::MAX_NAME).map_err(invalid)?;
        }
        for (field, value) in [
            ("address", &self.address),
            ("remarks", &self.remarks),
            ("appointment_note", &self.appointment_note),
        ] {
            crm::check_len(field, value, crm::MAX_TEXT).map_err(invalid)?;
        }
        Ok(self)
    }
}

/// The normalised form of an optional number ("" for none).
fn norm(number: &str) -> String {
    crm::normalize_number(number).unwrap_or_default()
}

impl Store {
    /// Creates a contact category or project; its name must be new.
    pub async fn create_crm_group(
        &self,
        kind: GroupKind,
        name: &str,
        description: &str,
    ) -> Result<i64, StoreError> {
        dispatch!(self, db => db.create_crm_group(kind, name, description))
    }

    /// Every category or project, by name.
    pub async fn list_crm_groups(&self, kind: GroupKind) -> Result<Vec<CrmGroup>, StoreError> {
        dispatch!(self, db => db.list_crm_groups(kind))
    }

    /// Deletes a category or project; its contacts keep their other fields
    /// and lose this one.
    pub async fn delete_crm_group(&self, kind: GroupKind, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_crm_group(kind, id))
    }

    /// Creates a customer (checked: [`StoreError::InvalidField`] names the
    /// field at fault) and returns its id.
    pub async fn create_customer(
        &self,
        fields: CustomerFields,
        creator: Option<i64>,
    ) -> Result<i64, StoreError> {
        let fields = &fields.normalized()?;
        dispatch!(self, db => db.create_customer(fields, creator))
    }

    /// Creates the customers `rows` in one transaction: all or none (a
    /// spreadsheet import). Every row is checked first; any bad row fails
    /// the batch with [`StoreError::InvalidRows`] naming each (index from 0
    /// and field). Returns the new ids in order.
    pub async fn create_customers(
        &self,
        rows: Vec<CustomerFields>,
        creator: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let good = checked_rows(rows, CustomerFields::normalized)?;
        let rows = &good;
        let ids = dispatch!(self, db => db.create_customers(rows, creator))?;
        self.optimize_after_import(ids.len()).await?;
        Ok(ids)
    }

    /// Changes customer `id`.
    pub async fn update_customer(&self, id: i64, fields: CustomerFields) -> Result<(), StoreError> {
        let fields = &fields.normalized()?;
        dispatch!(self, db => db.update_customer(id, fields))
    }

    /// Deletes customer `id`; its contacts stay, no longer linked to it.
    pub async fn delete_customer(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_customer(id))
    }

    /// Customer `id`, if it exists.
    pub async fn get_customer(&self, id: i64) -> Result<Option<Customer>, StoreError> {
        dispatch!(self, db => db.get_customer(id))
    }

    /// A page of customers, newest change first.
    pub async fn list_customers(&self, q: &CustomerQuery) -> Result<CrmPage<Customer>, StoreError> {
        dispatch!(self, db => db.list_customers(q))
    }

    /// Creates a contact (checked; a category, project or customer it names
    /// must exist) and returns its id.
    pub async fn create_contact(
        &self,
        fields: ContactFields,
        creator: Option<i64>,
    ) -> Result<i64, StoreError> {
        let fields = &fields.normalized()?;
        dispatch!(self, db => db.create_contact(fields, creator))
    }

    /// Creates the contacts `rows` in one transaction: all or none. Every
    /// row is checked first; any bad row fails the batch with
    /// [`StoreError::InvalidRows`] naming each (index and field), a
    /// reference to a missing customer, category or project with
    /// [`StoreError::CrmNotFound`]. Returns the new ids in order.
    pub async fn create_contacts(
        &self,
        rows: Vec<ContactFields>,
        creator: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let good = checked_rows(rows, ContactFields::normalized)?;
        let rows = &good;
        let ids = dispatch!(self, db => db.create_contacts(rows, creator))?;
        self.optimize_after_import(ids.len()).await?;
        Ok(ids)
    }

    /// Changes contact `id`.
    pub async fn update_contact(&self, id: i64, fields: ContactFields) -> Result<(), StoreError> {
        let fields = &fields.normalized()?;
        dispatch!(self, db => db.update_contact(id, fields))
    }

    /// Deletes contact `id`.
    pub async fn delete_contact(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_contact(id))
    }

    /// Contact `id`, if it exists.
    pub async fn get_contact(&self, id: i64) -> Result<Option<Contact>, StoreError> {
        dispatch!(self, db => db.get_contact(id))
    }

    /// The contacts of customer `id`, by name.
    pub async fn customer_contacts(&self, id: i64) -> Result<Vec<Contact>, StoreError> {
        dispatch!(self, db => db.customer_contacts(id))
    }

    /// A page of contacts of one of chapter 4's tabs.
    ///
    /// A search that matches more than [`COUNT_CAP`] contacts of the whole
    /// base (one digit, a common surname) is not counted: its page comes
    /// with `more` and a `total` of one past the page, so a pager moves on
    /// page by page.
    pub async fn list_contacts(&self, q: &ContactQuery) -> Result<CrmPage<Contact>, StoreError> {
        dispatch!(self, db => db.list_contacts(q))
    }

    /// Notes that a call to contact `id` failed (拨打失败) at `at` (unix
    /// ms), or clears it (`None`, a call got through).
    pub async fn set_contact_call_failed(
        &self,
        id: i64,
        at: Option<i64>,
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.set_contact_call_failed(id, at))
    }

    /// Contacts whose appointment (callback time) is due at `now` (unix ms)
    /// and whose owner was not reminded yet, marked as reminded (each
    /// reminder goes out once per appointment time; voided contacts none).
    pub async fn take_due_appointments(&self, now: i64) -> Result<Vec<Contact>, StoreError> {
        dispatch!(self, db => db.take_due_appointments(now))
    }

    /// The contacts and customers whose number `number` is (in any written
    /// form: see [`callcenter::crm::normalize_number`]), within `scope`;
    /// at most [`LOOKUP_LIMIT`] of each. Text that is no phone number
    /// matches nothing.
    pub async fn lookup_number(
        &self,
        number: &str,
        scope: &CrmScope,
    ) -> Result<NumberMatch, StoreError> {
        let Some(n) = crm::normalize_number(number) else {
            return Ok(NumberMatch::default());
        };
        let n = n.as_str();
        dispatch!(self, db => db.lookup_number(n, scope))
    }
}

const CUSTOMER_COLUMNS: &str = "id, kind, name, phone, email, province, city, address, \
     customer_type, level, source, maturity, industry, status, description, sharing, \
     owner_id, creator_id, acquired_at, created_at, updated_at";

const INSERT_CONTACT: &str = "INSERT INTO contacts (name, gender, birthday, mobile, mobile_norm, \
     phone, phone_norm, email, wechat, city, address, category_id, project_id, customer_id, \
     business_status, remarks, sharing, owner_id, creator_id, voided, appointment_at, \
     appointment_note, acquired_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
     $17, $18, $19, $20, $21, $22, $23, $24, $24) RETURNING id";

const CONTACT_COLUMNS: &str = "id, name, gender, birthday, mobile, phone, email, wechat, \
     city, address, category_id, project_id, customer_id, business_status, remarks, \
     sharing, owner_id, creator_id, voided, appointment_at, appointment_note, \
     call_failed_at, acquired_at, created_at, updated_at";

/// The SQL condition of `scope` on a table whose rows have `owner_id` and
/// `sharing`, with its owners' ids inlined (they are numbers we made).
fn scope_sql(scope: &CrmScope) -> String {
    match scope {
        CrmScope::All => "1 = 1".into(),
        CrmScope::Owners(ids) if ids.is_empty() => "sharing = 'everyone'".into(),
        CrmScope::Owners(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!(
                "(sharing = 'everyone' OR owner_id IN ({}))",
                list.join(", ")
            )
        }
    }
}

/// The rows of a batch, each checked by `check`: all of them, or
/// [`StoreError::InvalidRows`] naming every bad one (index from 0 and
/// field). Another error stops at once.
pub(crate) fn checked_rows<T>(
    rows: Vec<T>,
    check: impl Fn(T) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut bad = Vec::new();
    let mut good = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        match check(r) {
            Ok(r) => good.push(r),
            Err(StoreError::InvalidField(e)) => bad.push((i, e)),
            Err(e) => return Err(e),
        }
    }
    if bad.is_empty() {
        Ok(good)
    } else {
        Err(StoreError::InvalidRows(bad))
    }
}

impl Store {
    /// After a batch of `rows` saved: a big import changes what the
    /// planner should choose, so its statistics are refreshed.
    async fn optimize_after_import(&self, rows: usize) -> Result<(), StoreError> {
        if rows >= 1000 {
            self.optimize().await?;
        }
        Ok(())
    }
}

/// The total of a page of a broad search (one matching more than
/// [`COUNT_CAP`] rows of the whole table, read by walking the tab's index
/// because counting its matches would walk all of it): `(total, more)`, or
/// None when only a count can tell (an empty page past the first).
fn broad_search_total(rows: usize, limit: i64, offset: i64) -> Option<(i64, bool)> {
    let rows = rows as i64;
    if rows == limit {
        // A full page: at least one more; the pager goes on page by page.
        Some((offset + limit + 1, true))
    } else if rows > 0 || offset == 0 {
        // The last page: its rows end the list.
        let total = offset + rows;
        Some((total.min(COUNT_CAP), total > COUNT_CAP))
    } else {
        None
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
    /// Runs a bound `SELECT COUNT(*) ...` (`what`: for the error).
    pub(crate) async fn count_rows<'q>(
        &self,
        query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
        what: &'static str,
    ) -> Result<i64, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(db_err(what))?;
        rows.first()
            .map_or(Ok(0), |r| r.try_get::<i64, _>(0))
            .map_err(db_err(what))
    }

    pub(crate) async fn create_crm_group(
        &self,
        kind: GroupKind,
        name: &str,
        description: &str,
    ) -> Result<i64, StoreError> {
        let name = name.trim();
        crm::check_name("name", name).map_err(invalid)?;
        crm::check_len("description", description, crm::MAX_TEXT).map_err(invalid)?;
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a contact group"))?;
        let taken: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {} WHERE name = $1",
            kind.table()
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("creating a contact group"))?;
        if taken.is_some() {
            return Err(StoreError::CrmNameTaken(kind.what(), name.to_string()));
        }
        let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (name, description, created_at) VALUES ($1, $2, $3) RETURNING id",
            kind.table()
        )))
        .bind(name)
        .bind(description)
        .bind(Ts(db::now_ms()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating a contact group"))?;
        tx.commit()
            .await
            .map_err(db_err("creating a contact group"))?;
        Ok(id)
    }

    pub(crate) async fn list_crm_groups(
        &self,
        kind: GroupKind,
    ) -> Result<Vec<CrmGroup>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, description FROM {} ORDER BY name, id",
            kind.table()
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing contact groups"))?;
        rows.iter()
            .map(|r| -> Result<CrmGroup, sqlx::Error> {
                Ok(CrmGroup {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing contact groups"))
    }

    pub(crate) async fn delete_crm_group(
        &self,
        kind: GroupKind,
        id: i64,
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("deleting a contact group"))?;
        let gone = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {} WHERE id = $1",
            kind.table()
        )))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("deleting a contact group"))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound(kind.what(), id));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE contacts SET {col} = NULL WHERE {col} = $1",
            col = kind.column()
        )))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("deleting a contact group"))?;
        tx.commit()
            .await
            .map_err(db_err("deleting a contact group"))
    }

    async fn exists(
        tx: &mut crate::db::Tx<DB>,
        table: &'static str,
        what: &'static str,
        id: Option<i64>,
    ) -> Result<(), StoreError> {
        let Some(id) = id else { return Ok(()) };
        let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err("checking a reference"))?;
        found.map(|_| ()).ok_or(StoreError::CrmNotFound(what, id))
    }

    pub(crate) async fn create_customer(
        &self,
        f: &CustomerFields,
        creator: Option<i64>,
    ) -> Result<i64, StoreError> {
        // One statement, in the same code as a batch's (one INSERT to keep).
        let ids = self
            .create_customers(std::slice::from_ref(f), creator)
            .await?;
        ids.first().copied().ok_or(StoreError::Database {
            context: "creating a customer",
            source: sqlx::Error::RowNotFound,
        })
    }

    pub(crate) async fn create_customers(
        &self,
        rows: &[CustomerFields],
        creator: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a customer"))?;
        let now = db::now_ms();
        let mut ids = Vec::with_capacity(rows.len());
        for f in rows {
            let acquired = if f.acquired_at > 0 {
                f.acquired_at
            } else {
                now
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO customers (kind, name, phone, phone_norm, email, province, city, \
                 address, customer_type, level, source, maturity, industry, status, description, \
                 sharing, owner_id, creator_id, acquired_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $20) RETURNING id",
            )
            .bind(&f.kind)
            .bind(&f.name)
            .bind(&f.phone)
            .bind(norm(&f.phone))
            .bind(&f.email)
            .bind(&f.province)
            .bind(&f.city)
            .bind(&f.address)
            .bind(&f.customer_type)
            .bind(&f.level)
            .bind(&f.source)
            .bind(&f.maturity)
            .bind(&f.industry)
            .bind(&f.status)
            .bind(&f.description)
            .bind(&f.sharing)
            .bind(Self::opt(f.owner_id))
            .bind(Self::opt(creator))
            .bind(Ts(acquired))
            .bind(Ts(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err("creating a customer"))?;
            ids.push(id);
        }
        tx.commit().await.map_err(db_err("creating a customer"))?;
        Ok(ids)
    }

    pub(crate) async fn update_customer(
        &self,
        id: i64,
        f: &CustomerFields,
    ) -> Result<(), StoreError> {
        let now = db::now_ms();
        let done = sqlx::query(
            "UPDATE customers SET kind = $1, name = $2, phone = $3, phone_norm = $4, \
             email = $5, province = $6, city = $7, address = $8, customer_type = $9, \
             level = $10, source = $11, maturity = $12, industry = $13, status = $14, \
             description = $15, sharing = $16, owner_id = $17, \
             acquired_at = CASE WHEN $18 THEN $19 ELSE acquired_at END, updated_at = $20 \
             WHERE id = $21",
        )
        .bind(&f.kind)
        .bind(&f.name)
        .bind(&f.phone)
        .bind(norm(&f.phone))
        .bind(&f.email)
        .bind(&f.province)
        .bind(&f.city)
        .bind(&f.address)
        .bind(&f.customer_type)
        .bind(&f.level)
        .bind(&f.source)
        .bind(&f.maturity)
        .bind(&f.industry)
        .bind(&f.status)
        .bind(&f.description)
        .bind(&f.sharing)
        .bind(Self::opt(f.owner_id))
        .bind(f.acquired_at > 0)
        .bind(Ts(f.acquired_at.max(0)))
        .bind(Ts(now))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err("changing a customer"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("customer", id));
        }
        Ok(())
    }

    pub(crate) async fn delete_customer(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("deleting a customer"))?;
        let gone = sqlx::query("DELETE FROM customers WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("deleting a customer"))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("customer", id));
        }
        sqlx::query("UPDATE contacts SET customer_id = NULL WHERE customer_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("deleting a customer"))?;
        tx.commit().await.map_err(db_err("deleting a customer"))
    }

    fn customer_of(r: &DB::Row) -> Result<Customer, sqlx::Error> {
        Ok(Customer {
            id: r.try_get("id")?,
            fields: CustomerFields {
                kind: r.try_get("kind")?,
                name: r.try_get("name")?,
                phone: r.try_get("phone")?,
                email: r.try_get("email")?,
                province: r.try_get("province")?,
                city: r.try_get("city")?,
                address: r.try_get("address")?,
                customer_type: r.try_get("customer_type")?,
                level: r.try_get("level")?,
                source: r.try_get("source")?,
                maturity: r.try_get("maturity")?,
                industry: r.try_get("industry")?,
                status: r.try_get("status")?,
                description: r.try_get("description")?,
                sharing: r.try_get("sharing")?,
                owner_id: r.try_get("owner_id")?,
                acquired_at: r.try_get::<Ts, _>("acquired_at")?.0,
            },
            creator_id: r.try_get("creator_id")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    fn contact_of(r: &DB::Row) -> Result<Contact, sqlx::Error> {
        Ok(Contact {
            id: r.try_get("id")?,
            fields: ContactFields {
                name: r.try_get("name")?,
                gender: r.try_get("gender")?,
                birthday: r.try_get("birthday")?,
                mobile: r.try_get("mobile")?,
                phone: r.try_get("phone")?,
                email: r.try_get("email")?,
                wechat: r.try_get("wechat")?,
                city: r.try_get("city")?,
                address: r.try_get("address")?,
                category_id: r.try_get("category_id")?,
                project_id: r.try_get("project_id")?,
                customer_id: r.try_get("customer_id")?,
                business_status: r.try_get("business_status")?,
                remarks: r.try_get("remarks")?,
                sharing: r.try_get("sharing")?,
                owner_id: r.try_get("owner_id")?,
                voided: r.try_get("voided")?,
                appointment_at: r.try_get::<Option<Ts>, _>("appointment_at")?.map(|t| t.0),
                appointment_note: r.try_get("appointment_note")?,
                acquired_at: r.try_get::<Ts, _>("acquired_at")?.0,
            },
            creator_id: r.try_get("creator_id")?,
            call_failed_at: r.try_get::<Option<Ts>, _>("call_failed_at")?.map(|t| t.0),
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    pub(crate) async fn get_customer(&self, id: i64) -> Result<Option<Customer>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a customer"))?;
        row.as_ref()
            .map(Self::customer_of)
            .transpose()
            .map_err(db_err("reading a customer"))
    }

    pub(crate) async fn list_customers(
        &self,
        q: &CustomerQuery,
    ) -> Result<CrmPage<Customer>, StoreError> {
        let mut cond = vec![scope_sql(&q.scope)];
        // The index made for the list (migration 20): by type, or all.
        let index = if q.customer_type.is_some() {
            cond.push("customer_type = $1".into());
            "customers_tab_type"
        } else {
            cond.push("$1 = $1".into());
            "customers_tab_updated"
        };
        if q.enterprise_only {
            cond.push("kind = 'enterprise'".into());
        }
        cond.push("created_at >= $2".into());
        let search = q.search.trim();
        let digits = crm::normalize_number(search);
        let searched = match (&digits, search.is_empty()) {
            (_, true) => None,
            (Some(_), false) => Some(
                "((name >= $3 AND name < ($3 || '\u{10FFFF}')) \
                 OR (phone_norm >= $4 AND phone_norm < ($4 || ':')))",
            ),
            (None, false) => Some("(name >= $3 AND name < ($3 || '\u{10FFFF}') AND $4 = $4)"),
        };
        let ty = q.customer_type.clone().unwrap_or_default();
        let since = Ts(q.created_since.unwrap_or(0));
        let name_like = search.to_string();
        let number_like = digits.clone().unwrap_or_default();
        let (ty, name_like, number_like) = (ty.as_str(), name_like.as_str(), number_like.as_str());
        let limit = q.limit.clamp(1, 500);
        let offset = q.offset.max(0);
        // Binds $1 to $6, the same in every statement below.
        macro_rules! bound {
            ($sql:expr) => {
                sqlx::query(sqlx::AssertSqlSafe($sql))
                    .bind(ty)
                    .bind(since)
                    .bind(name_like)
                    .bind(number_like)
                    .bind(limit)
                    .bind(offset)
            };
        }
        let count = |sql: String| self.count_rows(bound!(sql), "counting customers");
        // As the contacts' search (see list_contacts): few matches are
        // found from the search's indexes, many by walking the list's.
        let few = match searched {
            Some(searched) => {
                let n = count(format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM customers WHERE {searched} \
                     AND $1 = $1 AND $2 = $2 AND $5 = $5 AND $6 = $6 LIMIT {}) AS capped",
                    COUNT_CAP + 1
                ))
                .await?;
                (n <= COUNT_CAP).then_some(searched)
            }
            None => None,
        };
        let (from, filter) = match (few, searched) {
            (Some(searched), _) => (
                format!("customers {}", DB::by_id_only()),
                format!(
                    "id IN (SELECT id FROM customers WHERE {searched}) AND {}",
                    cond.join(" AND ")
                ),
            ),
            (None, searched) => {
                cond.push(searched.unwrap_or("($3 = $3 AND $4 = $4)").to_string());
                (
                    format!("customers {}", DB::indexed_by(index)),
                    cond.join(" AND "),
                )
            }
        };
        let rows = bound!(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM {from} WHERE {filter} \
             ORDER BY updated_at DESC, id DESC LIMIT $5 OFFSET $6"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing customers"))?;
        let rows = rows
            .iter()
            .map(Self::customer_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing customers"))?;
        let broad = searched.is_some() && few.is_none();
        if let Some((total, more)) = broad
            .then(|| broad_search_total(rows.len(), limit, offset))
            .flatten()
        {
            return Ok(CrmPage { rows, total, more });
        }
        let total = count(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {filter} \
             AND $5 = $5 AND $6 = $6 LIMIT {}) AS capped",
            COUNT_CAP + 1
        ))
        .await?;
        Ok(CrmPage {
            rows,
            total: total.min(COUNT_CAP),
            more: total > COUNT_CAP,
        })
    }

    async fn check_contact_refs(&self, f: &ContactFields) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("checking a contact's references"))?;
        Self::exists(&mut tx, "contact_categories", "category", f.category_id).await?;
        Self::exists(&mut tx, "contact_projects", "project", f.project_id).await?;
        Self::exists(&mut tx, "customers", "customer", f.customer_id).await?;
        tx.commit()
            .await
            .map_err(db_err("checking a contact's references"))
    }

    pub(crate) async fn create_contact(
        &self,
        f: &ContactFields,
        creator: Option<i64>,
    ) -> Result<i64, StoreError> {
        let ids = self
            .create_contacts(std::slice::from_ref(f), creator)
            .await?;
        ids.first().copied().ok_or(StoreError::Database {
            context: "creating a contact",
            source: sqlx::Error::RowNotFound,
        })
    }

    pub(crate) async fn create_contacts(
        &self,
        rows: &[ContactFields],
        creator: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating contacts"))?;
        let mut checked: std::collections::HashSet<(&'static str, i64)> =
            std::collections::HashSet::new();
        for f in rows {
            for (table, what, id) in [
                ("contact_categories", "category", f.category_id),
                ("contact_projects", "project", f.project_id),
                ("customers", "customer", f.customer_id),
            ] {
                if let Some(id) = id {
                    if checked.insert((what, id)) {
                        Self::exists(&mut tx, table, what, Some(id)).await?;
                    }
                }
            }
        }
        let now = db::now_ms();
        let mut ids = Vec::with_capacity(rows.len());
        for f in rows {
            let acquired = if f.acquired_at > 0 {
                f.acquired_at
            } else {
                now
            };
            let id: i64 = sqlx::query_scalar(INSERT_CONTACT)
                .bind(&f.name)
                .bind(&f.gender)
                .bind(&f.birthday)
                .bind(&f.mobile)
                .bind(norm(&f.mobile))
                .bind(&f.phone)
                .bind(norm(&f.phone))
                .bind(&f.email)
                .bind(&f.wechat)
                .bind(&f.city)
                .bind(&f.address)
                .bind(Self::opt(f.category_id))
                .bind(Self::opt(f.project_id))
                .bind(Self::opt(f.customer_id))
                .bind(&f.business_status)
                .bind(&f.remarks)
                .bind(&f.sharing)
                .bind(Self::opt(f.owner_id))
                .bind(Self::opt(creator))
                .bind(f.voided)
                .bind(Self::opt(f.appointment_at.map(Ts)))
                .bind(&f.appointment_note)
                .bind(Ts(acquired))
                .bind(Ts(now))
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("creating contacts"))?;
            ids.push(id);
        }
        tx.commit().await.map_err(db_err("creating contacts"))?;
        Ok(ids)
    }

    pub(crate) async fn update_contact(
        &self,
        id: i64,
        f: &ContactFields,
    ) -> Result<(), StoreError> {
        self.check_contact_refs(f).await?;
        let now = db::now_ms();
        let done = sqlx::query(
            "UPDATE contacts SET name = $1, gender = $2, birthday = $3, mobile = $4, \
             mobile_norm = $5, phone = $6, phone_norm = $7, email = $8, wechat = $9, \
             city = $10, address = $11, category_id = $12, project_id = $13, \
             customer_id = $14, business_status = $15, remarks = $16, sharing = $17, \
             owner_id = $18, voided = $19, appointment_at = $20, appointment_note = $21, \
             acquired_at = CASE WHEN $22 THEN $23 ELSE acquired_at END, updated_at = $24, \
             appointment_sent = CASE WHEN appointment_at = $20 THEN appointment_sent ELSE $26 END \
             WHERE id = $25",
        )
        .bind(&f.name)
        .bind(&f.gender)
        .bind(&f.birthday)
        .bind(&f.mobile)
        .bind(norm(&f.mobile))
        .bind(&f.phone)
        .bind(norm(&f.phone))
        .bind(&f.email)
        .bind(&f.wechat)
        .bind(&f.city)
        .bind(&f.address)
        .bind(Self::opt(f.category_id))
        .bind(Self::opt(f.project_id))
        .bind(Self::opt(f.customer_id))
        .bind(&f.business_status)
        .bind(&f.remarks)
        .bind(&f.sharing)
        .bind(Self::opt(f.owner_id))
        .bind(f.voided)
        .bind(Self::opt(f.appointment_at.map(Ts)))
        .bind(&f.appointment_note)
        .bind(f.acquired_at > 0)
        .bind(Ts(f.acquired_at.max(0)))
        .bind(Ts(now))
        .bind(id)
        // A new appointment time reminds again.
        .bind(false)
        .execute(&self.pool)
        .await
        .map_err(db_err("changing a contact"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("contact", id));
        }
        Ok(())
    }

    pub(crate) async fn delete_contact(&self, id: i64) -> Result<(), StoreError> {
        let gone = sqlx::query("DELETE FROM contacts WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a contact"))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("contact", id));
        }
        Ok(())
    }

    pub(crate) async fn get_contact(&self, id: i64) -> Result<Option<Contact>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a contact"))?;
        row.as_ref()
            .map(Self::contact_of)
            .transpose()
            .map_err(db_err("reading a contact"))
    }

    pub(crate) async fn customer_contacts(&self, id: i64) -> Result<Vec<Contact>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE customer_id = $1 ORDER BY name, id"
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing a customer's contacts"))?;
        rows.iter()
            .map(Self::contact_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing a customer's contacts"))
    }

    pub(crate) async fn list_contacts(
        &self,
        q: &ContactQuery,
    ) -> Result<CrmPage<Contact>, StoreError> {
        let mut cond = vec![scope_sql(&q.scope)];
        // $1: the view's number (a time or a user), bound whatever the view.
        // $5 is `false`: `voided = $5` keeps the live contacts.
        // The last item: the index made for the tab (migration 20).
        let team = if q.team.is_empty() {
            // Nobody's department: nothing, its parameters still bound.
            "1 = 0 AND voided = $5 AND $1 = $1".to_string()
        } else {
            let ids: Vec<String> = q.team.iter().map(i64::to_string).collect();
            format!(
                "owner_id IN ({}) AND voided = $5 AND $1 = $1",
                ids.join(", ")
            )
        };
        let (view, arg, order, index) = match q.view {
            ContactView::Department => (
                team.as_str(),
                0,
                "updated_at DESC, id DESC",
                "contacts_tab_owner",
            ),
            ContactView::All => (
                "voided = $5 AND $1 = $1",
                0,
                "updated_at DESC, id DESC",
                "contacts_tab_updated",
            ),
            ContactView::CreatedSince(t) => (
                "voided = $5 AND created_at >= $1",
                t,
                "created_at DESC, id DESC",
                "contacts_tab_created",
            ),
            ContactView::OwnedBy(u) => (
                "owner_id = $1 AND voided = $5",
                u,
                "updated_at DESC, id DESC",
                "contacts_tab_owner",
            ),
            ContactView::Unassigned => (
                "owner_id IS NULL AND voided = $5 AND $1 = $1",
                0,
                "updated_at DESC, id DESC",
                "contacts_tab_owner",
            ),
            ContactView::Voided => (
                "voided = (NOT $5) AND $1 = $1",
                0,
                "updated_at DESC, id DESC",
                "contacts_tab_updated",
            ),
            ContactView::Appointments => (
                "appointment_at IS NOT NULL AND voided = $5 AND $1 = $1",
                0,
                "appointment_at, id",
                "contacts_tab_appointment",
            ),
            ContactView::CallFailed => (
                "call_failed_at IS NOT NULL AND voided = $5 AND $1 = $1",
                0,
                "call_failed_at DESC, id DESC",
                "contacts_tab_failed",
            ),
        };
        let created_since = matches!(q.view, ContactView::CreatedSince(_));
        cond.push(view.to_string());
        match q.category_id {
            Some(_) => cond.push("category_id = $2".into()),
            None => cond.push("$2 = $2".into()),
        }
        let search = q.search.trim();
        let digits = crm::normalize_number(search);
        // The search: a name prefix, and a number prefix of the mobile or
        // the phone when the text is a number.
        let searched = match (&digits, search.is_empty()) {
            (_, true) => None,
            (Some(_), false) => Some(
                "((name >= $3 AND name < ($3 || '\u{10FFFF}')) \
                 OR (mobile_norm >= $4 AND mobile_norm < ($4 || ':')) \
                 OR (phone_norm >= $4 AND phone_norm < ($4 || ':')))",
            ),
            (None, false) => Some("(name >= $3 AND name < ($3 || '\u{10FFFF}') AND $4 = $4)"),
        };
        let bind_arg = if created_since {
            ViewArg::Ts(arg)
        } else {
            ViewArg::Id(arg)
        };
        let name_like = search.to_string();
        let number_like = digits.clone().unwrap_or_default();
        let category = q.category_id.unwrap_or(0);
        // Binds $1 to $5, the same in every statement below.
        macro_rules! bound {
            ($sql:expr) => {{
                let query = sqlx::query(sqlx::AssertSqlSafe($sql));
                let query = match bind_arg {
                    ViewArg::Ts(t) => query.bind(Ts(t)),
                    ViewArg::Id(i) => query.bind(i),
                };
                query
                    .bind(category)
                    .bind(&name_like)
                    .bind(&number_like)
                    .bind(false)
            }};
        }
        // A search that names few contacts (a number, most names) is
        // answered from the search's own indexes: its contacts are found
        // first, then filtered and sorted. A search that matches more than
        // COUNT_CAP contacts in the whole base (a single digit or surname)
        // walks the tab's index instead, where matches come often.
        let candidates = match searched {
            Some(searched) => {
                let n = self
                    .count_rows(
                        bound!(format!(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM contacts WHERE {searched} \
                             AND $1 = $1 AND $2 = $2 AND $5 = $5 LIMIT {}) AS capped",
                            COUNT_CAP + 1
                        )),
                        "counting contacts",
                    )
                    .await?;
                (n <= COUNT_CAP).then_some(searched)
            }
            None => None,
        };
        let (from, filter) = match (candidates, searched) {
            (Some(searched), _) => (
                format!("contacts {}", DB::by_id_only()),
                format!(
                    "id IN (SELECT id FROM contacts WHERE {searched}) AND {}",
                    cond.join(" AND ")
                ),
            ),
            (None, Some(searched)) => {
                cond.push(searched.to_string());
                (
                    format!("contacts {}", DB::indexed_by(index)),
                    cond.join(" AND "),
                )
            }
            (None, None) => {
                cond.push("($3 = $3 AND $4 = $4)".into());
                (
                    format!("contacts {}", DB::indexed_by(index)),
                    cond.join(" AND "),
                )
            }
        };
        let limit = q.limit.clamp(1, 500);
        let offset = q.offset.max(0);
        // The department tab unsearched: each handler's newest contacts
        // come from their own range of the owner index (a page's worth
        // each), merged; one IN list over the index would sort every
        // contact of the department for one page.
        let team_page = matches!(q.view, ContactView::Department)
            && searched.is_none()
            && (1..=MAX_TEAM_BRANCHES).contains(&q.team.len());
        let page_from = if team_page {
            let others: Vec<&String> = cond
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, c)| c)
                .collect();
            let others = others
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" AND ");
            let branches: Vec<String> = q
                .team
                .iter()
                .enumerate()
                .map(|(i, owner)| {
                    format!(
                        "SELECT id FROM (SELECT id FROM contacts {} WHERE owner_id = {owner} \
                         AND voided = $5 AND $1 = $1 AND {others} \
                         ORDER BY updated_at DESC, id DESC LIMIT $6 + $7) AS t{i}",
                        DB::indexed_by(index)
                    )
                })
                .collect();
            format!(
                "contacts {} WHERE id IN ({})",
                DB::by_id_only(),
                branches.join(" UNION ALL ")
            )
        } else {
            format!("{from} WHERE {filter}")
        };
        let rows = bound!(format!(
            "SELECT {CONTACT_COLUMNS} FROM {page_from} ORDER BY {order} \
             LIMIT $6 OFFSET $7"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing contacts"))?;
        let rows = rows
            .iter()
            .map(Self::contact_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing contacts"))?;
        let broad = searched.is_some() && candidates.is_none();
        if let Some((total, more)) = broad
            .then(|| broad_search_total(rows.len(), limit, offset))
            .flatten()
        {
            return Ok(CrmPage { rows, total, more });
        }
        let total = self
            .count_rows(
                bound!(format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {filter} LIMIT {}) AS capped",
                    COUNT_CAP + 1
                )),
                "counting contacts",
            )
            .await?;
        Ok(CrmPage {
            rows,
            total: total.min(COUNT_CAP),
            more: total > COUNT_CAP,
        })
    }

    pub(crate) async fn set_contact_call_failed(
        &self,
        id: i64,
        at: Option<i64>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE contacts SET call_failed_at = $1 WHERE id = $2")
            .bind(Self::opt(at.map(Ts)))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("noting a failed call"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("contact", id));
        }
        Ok(())
    }

    pub(crate) async fn take_due_appointments(&self, now: i64) -> Result<Vec<Contact>, StoreError> {
        const CONTEXT: &str = "finding due appointments";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE appointment_sent = $1 \
             AND appointment_at <= $2 AND voided = $1 ORDER BY appointment_at, id LIMIT 500"
        )))
        .bind(false)
        .bind(Ts(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        let due = rows
            .iter()
            .map(Self::contact_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(CONTEXT))?;
        for c in &due {
            sqlx::query("UPDATE contacts SET appointment_sent = $1 WHERE id = $2")
                .bind(true)
                .bind(c.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(due)
    }

    pub(crate) async fn lookup_number(
        &self,
        n: &str,
        scope: &CrmScope,
    ) -> Result<NumberMatch, StoreError> {
        let filter = scope_sql(scope);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts \
             WHERE (mobile_norm = $1 OR phone_norm = $1) AND {filter} \
             ORDER BY voided, updated_at DESC, id DESC LIMIT $2"
        )))
        .bind(n)
        .bind(LOOKUP_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("looking a number up"))?;
        let contacts = rows
            .iter()
            .map(Self::contact_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("looking a number up"))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE phone_norm = $1 AND {filter} \
             ORDER BY updated_at DESC, id DESC LIMIT $2"
        )))
        .bind(n)
        .bind(LOOKUP_LIMIT)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("looking a number up"))?;
        let mut customers = rows
            .iter()
            .map(Self::customer_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("looking a number up"))?;
        // The customers the matching contacts belong to, if in scope.
        for id in contacts.iter().filter_map(|c| c.fields.customer_id) {
            if customers.iter().any(|c| c.id == id) || customers.len() as i64 >= LOOKUP_LIMIT {
                continue;
            }
            if let Some(c) = self.get_customer(id).await? {
                if scope.covers(c.fields.owner_id, &c.fields.sharing) {
                    customers.push(c);
                }
            }
        }
        Ok(NumberMatch {
            normalized: n.to_string(),
            contacts,
            customers,
        })
    }
}

/// The view's bound number: a time (bound as a timestamp) or an id.
enum ViewArg {
    Ts(i64),
    Id(i64),
}
