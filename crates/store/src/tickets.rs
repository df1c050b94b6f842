//! Tickets (the manual's chapter 6): types (6.2.6), the ticket itself with
//! its requester, handler, status, priority and tags (6.1.1), public and
//! private replies, the history of every change (变更记录), followers (关注)
//! and attachments (their bytes are files the web layer keeps; here what
//! they are).
//!
//! Who sees a ticket is the asker's [`CrmScope`]: everything, or the tickets
//! requested by or assigned to one of a set of users. The rules of statuses
//! are `callcenter::tickets`; the body arrives sanitised (the web layer runs
//! every rich text through its HTML sanitiser before it gets here).

use callcenter::crm::{self as fields, FieldError};
use callcenter::tickets::{self as rules, Priority, ReplyBy, TicketStatus};
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, CrmPage, CrmScope, Store, StoreError, COUNT_CAP};

/// A ticket type (工单分类).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketCategory {
    /// Generated id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// When it was made (unix ms).
    pub created_at: i64,
}

/// What a user sets on a ticket (6.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFields {
    /// 工单标题 (required).
    pub title: String,
    /// 工单内容: rich text as sanitised HTML.
    pub body: String,
    /// 联系人.
    pub contact_id: Option<i64>,
    /// 工单发起人 (a user).
    pub requester_id: Option<i64>,
    /// 受理部门.
    pub department_id: Option<i64>,
    /// 受理人; `None`: unassigned.
    pub assignee_id: Option<i64>,
    /// new, replied, closed or reopened.
    pub status: String,
    /// 工单类型.
    pub category_id: Option<i64>,
    /// low, medium, high or urgent.
    pub priority: String,
    /// 标签.
    pub tags: Vec<String>,
    /// The number the ticket is about; empty: the contact's.
    pub phone: String,
    /// The call it was opened from (a CDR's `call_id`), or empty.
    pub call_id: String,
    /// When it falls overdue (unix ms); `None` on creation: by priority.
    pub due_at: Option<i64>,
}

/// A stored ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Its number (编号).
    pub id: i64,
    /// What was set.
    #[serde(flatten)]
    pub fields: TicketFields,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed or replied to (unix ms).
    pub updated_at: i64,
    /// When it was closed, while it is.
    pub closed_at: Option<i64>,
}

/// A reply (回复) to a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketReply {
    /// Generated id.
    pub id: i64,
    /// Its ticket.
    pub ticket_id: i64,
    /// Who wrote it.
    pub author_id: Option<i64>,
    /// Sanitised HTML.
    pub body: String,
    /// A private note (私密回复, only agents see it).
    pub private: bool,
    /// When (unix ms).
    pub created_at: i64,
}

/// One change of one field (变更记录).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketChange {
    /// Who changed it.
    pub user_id: Option<i64>,
    /// The field (`created` for the creation).
    pub field: String,
    /// Its value before, as text.
    pub old_value: String,
    /// Its value after, as text.
    pub new_value: String,
    /// When (unix ms).
    pub changed_at: i64,
}

/// An attachment's record (the bytes are in the data dir).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketAttachment {
    /// Generated id.
    pub id: i64,
    /// Its ticket.
    pub ticket_id: i64,
    /// The name it was uploaded with.
    pub file_name: String,
    /// What it holds (checked against its bytes on upload).
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// The file's name in the attachments directory.
    pub stored_name: String,
    /// Who uploaded it.
    pub uploaded_by: Option<i64>,
    /// When (unix ms).
    pub created_at: i64,
}

/// Which tickets a list shows (6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketView {
    /// Every ticket in scope that is not closed, newest change first.
    Open,
    /// Every ticket in scope.
    All,
    /// 我的工单: requested by the user.
    Mine(i64),
    /// 待处理工单: assigned to the user and not closed.
    Pending(i64),
    /// 未分配工单: nobody assigned.
    Unassigned,
    /// 关注的工单: followed by the user.
    Followed(i64),
    /// 已关闭工单.
    Closed,
}

/// A page of tickets: view, scope, filters.
#[derive(Clone, Debug)]
pub struct TicketQuery {
    /// The tab.
    pub view: TicketView,
    /// Whose tickets the asker may see.
    pub scope: CrmScope,
    /// A ticket number, a number (prefix) or words of the title.
    pub search: String,
    /// Only of this status.
    pub status: Option<String>,
    /// Only of this type.
    pub category_id: Option<i64>,
    /// Only of this priority.
    pub priority: Option<String>,
    /// Page size (at most 500).
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// The overview of 6.1: totals and the spread by type and status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketOverview {
    /// Tickets in scope.
    pub total: i64,
    /// Of which not closed.
    pub open: i64,
    /// Requested by the asker.
    pub mine: i64,
    /// Assigned to the asker and not closed (待办).
    pub pending: i64,
    /// Count per status.
    pub by_status: Vec<(String, i64)>,
    /// Count per type id (`None`: no type).
    pub by_category: Vec<(Option<i64>, i64)>,
}

const TICKET_COLUMNS: &str = "id, title, body, contact_id, requester_id, department_id, \
     assignee_id, status, category_id, priority, tags, phone, call_id, due_at, created_at, \
     updated_at, closed_at";

fn invalid(e: FieldError) -> StoreError {
    StoreError::InvalidField(e)
}

impl TicketFields {
    /// The fields checked (title, lengths, status, priority, tags, phone)
    /// and tidied, or the first field at fault.
    pub fn normalized(mut self) -> Result<TicketFields, StoreError> {
        self.title = self.title.trim().to_string();
        if self.title.is_empty() {
            return Err(invalid(FieldError {
                field: "title",
                why: "is required".into(),
            }));
        }
        fields::check_len("title", &self.title, rules::MAX_TITLE).map_err(invalid)?;
        fields::check_len("body", &self.body, rules::MAX_BODY).map_err(invalid)?;
        if self.status.is_empty() {
            self.status = TicketStatus::New.as_str().into();
        }
        if TicketStatus::parse(&self.status).is_none() {
            return Err(invalid(FieldError {
                field: "status",
                why: format!(
                    "'{}' is not one of new, replied, closed, reopened",
                    self.status
                ),
            }));
        }
        if self.priority.is_empty() {
            self.priority = Priority::Medium.as_str().into();
        }
        if Priority::parse(&self.priority).is_none() {
            return Err(invalid(FieldError {
                field: "priority",
                why: format!(
                    "'{}' is not one of low, medium, high, urgent",
                    self.priority
                ),
            }));
        }
        self.tags = rules::parse_tags(&self.tags.join(",")).map_err(invalid)?;
        self.phone = self.phone.trim().to_string();
        fields::check_phone("phone", &self.phone).map_err(invalid)?;
        fields::check_len("call_id", &self.call_id, 200).map_err(invalid)?;
        Ok(self)
    }
}

/// The SQL condition of `scope` on tickets: requested by or assigned to one
/// of the owners (their ids inlined: numbers we made).
fn scope_sql(scope: &CrmScope) -> String {
    match scope {
        CrmScope::All => "1 = 1".into(),
        CrmScope::Owners(ids) if ids.is_empty() => "1 = 0".into(),
        CrmScope::Owners(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            let list = list.join(", ");
            format!("(requester_id IN ({list}) OR assignee_id IN ({list}))")
        }
    }
}

impl CrmScope {
    /// Whether a ticket requested by `requester` and assigned to `assignee`
    /// is in this scope.
    pub fn covers_ticket(&self, requester: Option<i64>, assignee: Option<i64>) -> bool {
        match self {
            CrmScope::All => true,
            CrmScope::Owners(ids) => [requester, assignee]
                .iter()
                .flatten()
                .any(|u| ids.contains(u)),
        }
    }
}

fn opt_text(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The field-by-field differences of two versions of a ticket, as history
/// rows (field, old, new).
fn differences(old: &TicketFields, new: &TicketFields) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut diff = |field: &'static str, a: String, b: String| {
        if a != b {
            out.push((field, a, b));
        }
    };
    diff("title", old.title.clone(), new.title.clone());
    // The body is named, not copied.
    let body_changed = old.body != new.body;
    diff(
        "body",
        String::new(),
        if body_changed {
            "…".into()
        } else {
            String::new()
        },
    );
    diff(
        "contact",
        opt_text(old.contact_id),
        opt_text(new.contact_id),
    );
    diff(
        "requester",
        opt_text(old.requester_id),
        opt_text(new.requester_id),
    );
    diff(
        "department",
        opt_text(old.department_id),
        opt_text(new.department_id),
    );
    diff(
        "assignee",
        opt_text(old.assignee_id),
        opt_text(new.assignee_id),
    );
    diff("status", old.status.clone(), new.status.clone());
    diff(
        "category",
        opt_text(old.category_id),
        opt_text(new.category_id),
    );
    diff("priority", old.priority.clone(), new.priority.clone());
    diff("tags", old.tags.join(", "), new.tags.join(", "));
    diff("phone", old.phone.clone(), new.phone.clone());
    // Unix ms; the pages show them as times.
    diff("due_at", opt_text(old.due_at), opt_text(new.due_at));
    out
}

impl Store {
    /// Creates a ticket type; its name must be new.
    pub async fn create_ticket_category(&self, name: &str) -> Result<i64, StoreError> {
        dispatch!(self, db => db.create_ticket_category(name))
    }

    /// Every ticket type, by name.
    pub async fn list_ticket_categories(&self) -> Result<Vec<TicketCategory>, StoreError> {
        dispatch!(self, db => db.list_ticket_categories())
    }

    /// Renames a ticket type.
    pub async fn rename_ticket_category(&self, id: i64, name: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.rename_ticket_category(id, name))
    }

    /// Deletes a ticket type; its tickets keep everything else.
    pub async fn delete_ticket_category(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_ticket_category(id))
    }

    /// Creates a ticket by user `by` (its history starts with "created");
    /// without a due time it gets its priority's; without a number, its
    /// contact's.
    pub async fn create_ticket(
        &self,
        fields: TicketFields,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        let fields = fields.normalized()?;
        let f = &fields;
        dispatch!(self, db => db.create_ticket(f, by))
    }

    /// Changes ticket `id` to `fields` on behalf of user `by`: one history
    /// row per field changed, which are returned.
    pub async fn update_ticket(
        &self,
        id: i64,
        fields: TicketFields,
        by: Option<i64>,
    ) -> Result<Vec<TicketChange>, StoreError> {
        let fields = fields.normalized()?;
        let f = &fields;
        dispatch!(self, db => db.update_ticket(id, f, by))
    }

    /// Deletes ticket `id` with its replies, history, followers and
    /// attachment records; returns the attachments' stored names so their
    /// files can go too.
    pub async fn delete_ticket(&self, id: i64) -> Result<Vec<String>, StoreError> {
        dispatch!(self, db => db.delete_ticket(id))
    }

    /// Ticket `id`.
    pub async fn get_ticket(&self, id: i64) -> Result<Option<Ticket>, StoreError> {
        dispatch!(self, db => db.get_ticket(id))
    }

    /// A page of one of 6.2's tabs.
    pub async fn list_tickets(&self, q: &TicketQuery) -> Result<CrmPage<Ticket>, StoreError> {
        dispatch!(self, db => db.list_tickets(q))
    }

    /// The overview of 6.1 for user `user` within `scope`.
    pub async fn ticket_overview(
        &self,
        scope: &CrmScope,
        user: i64,
    ) -> Result<TicketOverview, StoreError> {
        dispatch!(self, db => db.ticket_overview(scope, user))
    }

    /// Adds a reply by `author`; a public one moves the status (see
    /// `callcenter::tickets::status_after_reply`: `by` says whether the
    /// author answers or asks again). Returns the reply's id and the
    /// ticket's status after it.
    pub async fn add_ticket_reply(
        &self,
        ticket: i64,
        author: Option<i64>,
        body: &str,
        private: bool,
        by: ReplyBy,
    ) -> Result<(i64, TicketStatus), StoreError> {
        if body.trim().is_empty() {
            return Err(invalid(FieldError {
                field: "body",
                why: "is required".into(),
            }));
        }
        fields::check_len("body", body, rules::MAX_BODY).map_err(invalid)?;
        dispatch!(self, db => db.add_ticket_reply(ticket, author, body, private, by))
    }

    /// The replies of a ticket, oldest first; private ones only if asked.
    pub async fn ticket_replies(
        &self,
        ticket: i64,
        with_private: bool,
    ) -> Result<Vec<TicketReply>, StoreError> {
        dispatch!(self, db => db.ticket_replies(ticket, with_private))
    }

    /// The history of a ticket, oldest first.
    pub async fn ticket_changes(&self, ticket: i64) -> Result<Vec<TicketChange>, StoreError> {
        dispatch!(self, db => db.ticket_changes(ticket))
    }

    /// Makes `user` follow ticket `ticket` or stop following it.
    pub async fn follow_ticket(
        &self,
        ticket: i64,
        user: i64,
        follow: bool,
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.follow_ticket(ticket, user, follow))
    }

    /// The users who follow a ticket.
    pub async fn ticket_followers(&self, ticket: i64) -> Result<Vec<i64>, StoreError> {
        dispatch!(self, db => db.ticket_followers(ticket))
    }

    /// Records an attachment whose bytes are already stored.
    pub async fn add_ticket_attachment(&self, a: &TicketAttachment) -> Result<i64, StoreError> {
        dispatch!(self, db => db.add_ticket_attachment(a))
    }

    /// The attachments of a ticket, oldest first.
    pub async fn ticket_attachments(
        &self,
        ticket: i64,
    ) -> Result<Vec<TicketAttachment>, StoreError> {
        dispatch!(self, db => db.ticket_attachments(ticket, None))
    }

    /// Attachment `id`.
    pub async fn get_ticket_attachment(
        &self,
        id: i64,
    ) -> Result<Option<TicketAttachment>, StoreError> {
        let rows = dispatch!(self, db => db.ticket_attachments(0, Some(id)))?;
        Ok(rows.into_iter().next())
    }

    /// The open tickets about number `n` (normalised) or one of the
    /// contacts `contacts`, within `scope`, newest first (at most 20).
    pub async fn open_tickets_of(
        &self,
        n: &str,
        contacts: &[i64],
        scope: &CrmScope,
    ) -> Result<Vec<Ticket>, StoreError> {
        dispatch!(self, db => db.open_tickets_of(n, contacts, scope))
    }

    /// Open tickets past their due time whose overdue notice has not gone
    /// out, marking them as sent (each notice goes out once).
    pub async fn take_overdue_tickets(&self, now: i64) -> Result<Vec<Ticket>, StoreError> {
        dispatch!(self, db => db.take_overdue_tickets(now))
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
    pub(crate) async fn create_ticket_category(&self, name: &str) -> Result<i64, StoreError> {
        let name = name.trim();
        fields::check_name("name", name).map_err(invalid)?;
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a ticket type"))?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM ticket_categories WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("creating a ticket type"))?;
        if taken.is_some() {
            return Err(StoreError::CrmNameTaken("ticket type", name.to_string()));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_categories (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(Ts(db::now_ms()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating a ticket type"))?;
        tx.commit()
            .await
            .map_err(db_err("creating a ticket type"))?;
        Ok(id)
    }

    pub(crate) async fn list_ticket_categories(&self) -> Result<Vec<TicketCategory>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, created_at FROM ticket_categories ORDER BY name, id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing ticket types"))?;
        rows.iter()
            .map(|r| -> Result<TicketCategory, sqlx::Error> {
                Ok(TicketCategory {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get::<Ts, _>("created_at")?.0,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing ticket types"))
    }

    pub(crate) async fn rename_ticket_category(
        &self,
        id: i64,
        name: &str,
    ) -> Result<(), StoreError> {
        let name = name.trim();
        fields::check_name("name", name).map_err(invalid)?;
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("renaming a ticket type"))?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM ticket_categories WHERE name = $1 AND id <> $2")
                .bind(name)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("renaming a ticket type"))?;
        if taken.is_some() {
            return Err(StoreError::CrmNameTaken("ticket type", name.to_string()));
        }
        let done = sqlx::query("UPDATE ticket_categories SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("renaming a ticket type"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("ticket type", id));
        }
        tx.commit().await.map_err(db_err("renaming a ticket type"))
    }

    pub(crate) async fn delete_ticket_category(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("deleting a ticket type"))?;
        let gone = sqlx::query("DELETE FROM ticket_categories WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("deleting a ticket type"))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("ticket type", id));
        }
        sqlx::query("UPDATE tickets SET category_id = NULL WHERE category_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("deleting a ticket type"))?;
        tx.commit().await.map_err(db_err("deleting a ticket type"))
    }

    async fn check_ticket_refs(
        tx: &mut crate::db::Tx<DB>,
        f: &TicketFields,
    ) -> Result<(), StoreError> {
        for (table, what, id) in [
            ("contacts", "contact", f.contact_id),
            ("users", "user", f.requester_id),
            ("users", "user", f.assignee_id),
            ("departments", "department", f.department_id),
            ("ticket_categories", "ticket type", f.category_id),
        ] {
            let Some(id) = id else { continue };
            let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {table} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("checking a ticket's references"))?;
            if found.is_none() {
                return Err(StoreError::CrmNotFound(what, id));
            }
        }
        Ok(())
    }

    /// The contact's number when the ticket names none.
    async fn contact_phone(
        tx: &mut crate::db::Tx<DB>,
        f: &TicketFields,
    ) -> Result<String, StoreError> {
        if !f.phone.is_empty() {
            return Ok(f.phone.clone());
        }
        let Some(id) = f.contact_id else {
            return Ok(String::new());
        };
        let row = sqlx::query("SELECT mobile, phone FROM contacts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("reading a ticket's contact"))?;
        let Some(row) = row else {
            return Ok(String::new());
        };
        let mobile: String = row
            .try_get("mobile")
            .map_err(db_err("reading a ticket's contact"))?;
        let phone: String = row
            .try_get("phone")
            .map_err(db_err("reading a ticket's contact"))?;
        Ok(if mobile.is_empty() { phone } else { mobile })
    }

    async fn record_change(
        tx: &mut crate::db::Tx<DB>,
        ticket: i64,
        by: Option<i64>,
        field: &str,
        old: &str,
        new: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ticket_changes (ticket_id, user_id, field, old_value, new_value, \
             changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ticket)
        .bind(Self::opt(by))
        .bind(field)
        .bind(old)
        .bind(new)
        .bind(Ts(at))
        .execute(&mut **tx)
        .await
        .map_err(db_err("recording a ticket's change"))?;
        Ok(())
    }

    pub(crate) async fn create_ticket(
        &self,
        f: &TicketFields,
        by: Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a ticket"))?;
        Self::check_ticket_refs(&mut tx, f).await?;
        let phone = Self::contact_phone(&mut tx, f).await?;
        let now = db::now_ms();
        let priority = Priority::parse(&f.priority).unwrap_or_default();
        let due = f.due_at.unwrap_or(now + rules::due_after_ms(priority));
        let closed = (f.status == TicketStatus::Closed.as_str()).then_some(now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tickets (title, body, contact_id, requester_id, department_id, \
             assignee_id, status, category_id, priority, tags, phone, phone_norm, call_id, \
             due_at, overdue_sent, created_at, updated_at, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $16, $17) RETURNING id",
        )
        .bind(&f.title)
        .bind(&f.body)
        .bind(Self::opt(f.contact_id))
        .bind(Self::opt(f.requester_id))
        .bind(Self::opt(f.department_id))
        .bind(Self::opt(f.assignee_id))
        .bind(&f.status)
        .bind(Self::opt(f.category_id))
        .bind(&f.priority)
        .bind(f.tags.join(","))
        .bind(&phone)
        .bind(fields::normalize_number(&phone).unwrap_or_default())
        .bind(&f.call_id)
        .bind(Ts(due))
        .bind(false)
        .bind(Ts(now))
        .bind(Self::opt(closed.map(Ts)))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating a ticket"))?;
        Self::record_change(&mut tx, id, by, "created", "", &f.status, now).await?;
        tx.commit().await.map_err(db_err("creating a ticket"))?;
        Ok(id)
    }

    pub(crate) async fn update_ticket(
        &self,
        id: i64,
        f: &TicketFields,
        by: Option<i64>,
    ) -> Result<Vec<TicketChange>, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("changing a ticket"))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err("changing a ticket"))?;
        let old = row
            .as_ref()
            .map(Self::ticket_of)
            .transpose()
            .map_err(db_err("changing a ticket"))?
            .ok_or(StoreError::CrmNotFound("ticket", id))?;
        Self::check_ticket_refs(&mut tx, f).await?;
        let mut new = f.clone();
        new.phone = Self::contact_phone(&mut tx, f).await?;
        let due = new.due_at.or(old.fields.due_at);
        new.due_at = due;
        let now = db::now_ms();
        let closed = if new.status == TicketStatus::Closed.as_str() {
            old.closed_at.or(Some(now))
        } else {
            None
        };
        sqlx::query(
            "UPDATE tickets SET title = $1, body = $2, contact_id = $3, requester_id = $4, \
             department_id = $5, assignee_id = $6, status = $7, category_id = $8, \
             priority = $9, tags = $10, phone = $11, phone_norm = $12, call_id = $13, \
             due_at = $14, overdue_sent = CASE WHEN $15 THEN overdue_sent ELSE $16 END, \
             updated_at = $17, closed_at = $18 WHERE id = $19",
        )
        .bind(&new.title)
        .bind(&new.body)
        .bind(Self::opt(new.contact_id))
        .bind(Self::opt(new.requester_id))
        .bind(Self::opt(new.department_id))
        .bind(Self::opt(new.assignee_id))
        .bind(&new.status)
        .bind(Self::opt(new.category_id))
        .bind(&new.priority)
        .bind(new.tags.join(","))
        .bind(&new.phone)
        .bind(fields::normalize_number(&new.phone).unwrap_or_default())
        .bind(&new.call_id)
        .bind(Self::opt(due.map(Ts)))
        // A new due time may fall overdue again.
        .bind(due == old.fields.due_at)
        .bind(false)
        .bind(Ts(now))
        .bind(Self::opt(closed.map(Ts)))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("changing a ticket"))?;
        let mut changes = Vec::new();
        for (field, a, b) in differences(&old.fields, &new) {
            Self::record_change(&mut tx, id, by, field, &a, &b, now).await?;
            changes.push(TicketChange {
                user_id: by,
                field: field.to_string(),
                old_value: a,
                new_value: b,
                changed_at: now,
            });
        }
        tx.commit().await.map_err(db_err("changing a ticket"))?;
        Ok(changes)
    }

    pub(crate) async fn delete_ticket(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("deleting a ticket"))?;
        let files: Vec<String> = sqlx::query_scalar(
            "SELECT stored_name FROM ticket_attachments WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err("deleting a ticket"))?;
        let gone = sqlx::query("DELETE FROM tickets WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("deleting a ticket"))?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::CrmNotFound("ticket", id));
        }
        for table in [
            "ticket_replies",
            "ticket_changes",
            "ticket_followers",
            "ticket_attachments",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE ticket_id = $1"
            )))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("deleting a ticket"))?;
        }
        tx.commit().await.map_err(db_err("deleting a ticket"))?;
        Ok(files)
    }

    fn ticket_of(r: &DB::Row) -> Result<Ticket, sqlx::Error> {
        let tags: String = r.try_get("tags")?;
        Ok(Ticket {
            id: r.try_get("id")?,
            fields: TicketFields {
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                contact_id: r.try_get("contact_id")?,
                requester_id: r.try_get("requester_id")?,
                department_id: r.try_get("department_id")?,
                assignee_id: r.try_get("assignee_id")?,
                status: r.try_get("status")?,
                category_id: r.try_get("category_id")?,
                priority: r.try_get("priority")?,
                tags: tags
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
                phone: r.try_get("phone")?,
                call_id: r.try_get("call_id")?,
                due_at: r.try_get::<Option<Ts>, _>("due_at")?.map(|t| t.0),
            },
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
            closed_at: r.try_get::<Option<Ts>, _>("closed_at")?.map(|t| t.0),
        })
    }

    pub(crate) async fn get_ticket(&self, id: i64) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a ticket"))?;
        row.as_ref()
            .map(Self::ticket_of)
            .transpose()
            .map_err(db_err("reading a ticket"))
    }

    pub(crate) async fn list_tickets(
        &self,
        q: &TicketQuery,
    ) -> Result<CrmPage<Ticket>, StoreError> {
        let mut cond = vec![scope_sql(&q.scope)];
        // $1: the view's user, bound whatever the view. The last item: the
        // index made for the tab (migration 20); None: by the followers' ids.
        let (view, user, index) = match q.view {
            TicketView::Open => (
                "status <> 'closed' AND $1 = $1",
                0,
                Some("tickets_tab_updated"),
            ),
            TicketView::All => ("$1 = $1", 0, Some("tickets_tab_updated")),
            TicketView::Mine(u) => ("requester_id = $1", u, Some("tickets_tab_requester")),
            TicketView::Pending(u) => (
                "assignee_id = $1 AND status <> 'closed'",
                u,
                Some("tickets_tab_assignee"),
            ),
            TicketView::Unassigned => (
                "assignee_id IS NULL AND $1 = $1",
                0,
                Some("tickets_tab_assignee"),
            ),
            TicketView::Followed(u) => (
                "id IN (SELECT ticket_id FROM ticket_followers WHERE user_id = $1)",
                u,
                None,
            ),
            TicketView::Closed => (
                "status = 'closed' AND $1 = $1",
                0,
                Some("tickets_tab_status"),
            ),
        };
        cond.push(view.into());
        cond.push(match q.status {
            Some(_) => "status = $2".into(),
            None => "$2 = $2".into(),
        });
        cond.push(match q.category_id {
            Some(_) => "category_id = $3".into(),
            None => "$3 = $3".into(),
        });
        cond.push(match q.priority {
            Some(_) => "priority = $4".into(),
            None => "$4 = $4".into(),
        });
        let search = q.search.trim();
        // "#123" is ticket number 123 and nothing else; plain digits may
        // also be a number in a title or the ticket's phone.
        let by_number = search.starts_with('#');
        let number = search.trim_start_matches('#');
        let id_search = number.parse::<i64>().ok().filter(|_| !number.is_empty());
        let digits = fields::normalize_number(search);
        // $5 a ticket number, $6 a number prefix, $7 words of the title.
        let title_like = format!(
            "%{}%",
            search
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let searched = if search.is_empty() {
            None
        } else if by_number && id_search.is_some() {
            Some("(id = $5 AND $6 = $6 AND $7 = $7)".to_string())
        } else {
            let mut any = vec!["title LIKE $7 ESCAPE '\\'".to_string()];
            if id_search.is_some() {
                any.push("id = $5".into());
            } else {
                // Bound but matching nothing.
                any.push("$5 <> $5".into());
            }
            if digits.is_some() {
                any.push("(phone_norm >= $6 AND phone_norm < ($6 || ':'))".into());
            } else {
                any.push("$6 <> $6".into());
            }
            Some(format!("({})", any.join(" OR ")))
        };
        let status = q.status.clone().unwrap_or_default();
        let category = q.category_id.unwrap_or(0);
        let priority = q.priority.clone().unwrap_or_default();
        let id_arg = id_search.unwrap_or(0);
        let digits = digits.unwrap_or_default();
        let limit = q.limit.clamp(1, 500);
        let offset = q.offset.max(0);
        // Binds $1 to $9, the same in every statement below.
        macro_rules! bound {
            ($sql:expr) => {
                sqlx::query(sqlx::AssertSqlSafe($sql))
                    .bind(user)
                    .bind(&status)
                    .bind(category)
                    .bind(&priority)
                    .bind(id_arg)
                    .bind(&digits)
                    .bind(&title_like)
                    .bind(limit)
                    .bind(offset)
            };
        }
        let of_rows = |rows: &[DB::Row]| -> Result<Vec<Ticket>, StoreError> {
            rows.iter()
                .map(Self::ticket_of)
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err("listing tickets"))
        };
        let walked = match index {
            Some(index) => format!("tickets {}", DB::indexed_by(index)),
            None => format!("tickets {}", DB::by_id_only()),
        };
        if let Some(searched) = searched {
            // A title search cannot use an index's order: its matches are
            // found in one pass over the narrow search index (at most
            // COUNT_CAP + 1 of them), counted and sorted there by their
            // index entries alone; only the page's rows are read whole.
            let filter = format!("{searched} AND {}", cond.join(" AND "));
            let columns: Vec<String> = TICKET_COLUMNS
                .split(',')
                .map(|c| format!("t.{}", c.trim()))
                .collect();
            let found = bound!(format!(
                "SELECT {}, p.found FROM (\
                   SELECT id, updated_at, found FROM (\
                     SELECT id, updated_at, COUNT(*) OVER () AS found FROM (\
                       SELECT id, updated_at FROM tickets {} WHERE {filter} LIMIT {}\
                     ) AS m\
                   ) AS c ORDER BY updated_at DESC, id DESC LIMIT $8 OFFSET $9\
                 ) AS p JOIN tickets t ON t.id = p.id \
                 ORDER BY p.updated_at DESC, p.id DESC",
                columns.join(", "),
                // "#N" reads ticket N by its key; a title, the search index.
                if by_number && id_search.is_some() {
                    String::new()
                } else {
                    DB::indexed_by("tickets_search")
                },
                COUNT_CAP + 1
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing tickets"))?;
            let total = match found.first() {
                Some(r) => r
                    .try_get::<i64, _>("found")
                    .map_err(db_err("counting tickets"))?,
                None => {
                    self.count_rows(
                        bound!(format!(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM tickets WHERE {filter} \
                         AND $8 = $8 AND $9 = $9 LIMIT {}) AS capped",
                            COUNT_CAP + 1
                        )),
                        "counting tickets",
                    )
                    .await?
                }
            };
            if total <= COUNT_CAP {
                return Ok(CrmPage {
                    rows: of_rows(&found)?,
                    total,
                    more: false,
                });
            }
            // More than the cap match: the first matches in the tab's order
            // come soon when walking its index.
            let rows = bound!(format!(
                "SELECT {TICKET_COLUMNS} FROM {walked} WHERE {filter} \
                 ORDER BY updated_at DESC, id DESC LIMIT $8 OFFSET $9"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing tickets"))?;
            return Ok(CrmPage {
                rows: of_rows(&rows)?,
                total: COUNT_CAP,
                more: true,
            });
        }
        cond.push("($5 = $5 AND $6 = $6 AND $7 = $7)".into());
        let filter = cond.join(" AND ");
        let total = self
            .count_rows(
                bound!(format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM {walked} WHERE {filter} \
                 AND $8 = $8 AND $9 = $9 LIMIT {}) AS capped",
                    COUNT_CAP + 1
                )),
                "counting tickets",
            )
            .await?;
        let rows = bound!(format!(
            "SELECT {TICKET_COLUMNS} FROM {walked} WHERE {filter} \
             ORDER BY updated_at DESC, id DESC LIMIT $8 OFFSET $9"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing tickets"))?;
        Ok(CrmPage {
            rows: of_rows(&rows)?,
            total: total.min(COUNT_CAP),
            more: total > COUNT_CAP,
        })
    }

    pub(crate) async fn ticket_overview(
        &self,
        scope: &CrmScope,
        user: i64,
    ) -> Result<TicketOverview, StoreError> {
        const CONTEXT: &str = "counting tickets";
        let filter = scope_sql(scope);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT status, COUNT(*) AS n FROM tickets WHERE {filter} \
             GROUP BY status ORDER BY status"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let by_status = rows
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("status")?, r.try_get::<i64, _>("n")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err(CONTEXT))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT category_id, COUNT(*) AS n FROM tickets WHERE {filter} \
             GROUP BY category_id ORDER BY category_id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let by_category = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<Option<i64>, _>("category_id")?,
                    r.try_get::<i64, _>("n")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err(CONTEXT))?;
        let mine: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM tickets WHERE {filter} AND requester_id = $1"
        )))
        .bind(user)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let pending: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM tickets WHERE {filter} AND assignee_id = $1 \
             AND status <> 'closed'"
        )))
        .bind(user)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        let total = by_status.iter().map(|(_, n)| n).sum();
        let open = by_status
            .iter()
            .filter(|(s, _)| s != TicketStatus::Closed.as_str())
            .map(|(_, n)| n)
            .sum();
        Ok(TicketOverview {
            total,
            open,
            mine,
            pending,
            by_status,
            by_category,
        })
    }

    pub(crate) async fn add_ticket_reply(
        &self,
        ticket: i64,
        author: Option<i64>,
        body: &str,
        private: bool,
        by: ReplyBy,
    ) -> Result<(i64, TicketStatus), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("replying to a ticket"))?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1")
            .bind(ticket)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("replying to a ticket"))?;
        let status = status.ok_or(StoreError::CrmNotFound("ticket", ticket))?;
        let before = TicketStatus::parse(&status).unwrap_or_default();
        let after = rules::status_after_reply(before, by, private);
        let now = db::now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_replies (ticket_id, author_id, body, private, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(ticket)
        .bind(Self::opt(author))
        .bind(body)
        .bind(private)
        .bind(Ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("replying to a ticket"))?;
        let reopened = after != TicketStatus::Closed;
        sqlx::query(
            "UPDATE tickets SET status = $1, updated_at = $2, \
             closed_at = CASE WHEN $3 THEN NULL ELSE closed_at END WHERE id = $4",
        )
        .bind(after.as_str())
        .bind(Ts(now))
        .bind(reopened)
        .bind(ticket)
        .execute(&mut *tx)
        .await
        .map_err(db_err("replying to a ticket"))?;
        if after != before {
            Self::record_change(
                &mut tx,
                ticket,
                author,
                "status",
                before.as_str(),
                after.as_str(),
                now,
            )
            .await?;
        }
        tx.commit().await.map_err(db_err("replying to a ticket"))?;
        Ok((id, after))
    }

    pub(crate) async fn ticket_replies(
        &self,
        ticket: i64,
        with_private: bool,
    ) -> Result<Vec<TicketReply>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ticket_id, author_id, body, private, created_at FROM ticket_replies \
             WHERE ticket_id = $1 AND (private = $2 OR $3) ORDER BY id",
        )
        .bind(ticket)
        .bind(false)
        .bind(with_private)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a ticket's replies"))?;
        rows.iter()
            .map(|r| -> Result<TicketReply, sqlx::Error> {
                Ok(TicketReply {
                    id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    author_id: r.try_get("author_id")?,
                    body: r.try_get("body")?,
                    private: r.try_get("private")?,
                    created_at: r.try_get::<Ts, _>("created_at")?.0,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading a ticket's replies"))
    }

    pub(crate) async fn ticket_changes(
        &self,
        ticket: i64,
    ) -> Result<Vec<TicketChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, field, old_value, new_value, changed_at FROM ticket_changes \
             WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(ticket)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a ticket's history"))?;
        rows.iter()
            .map(|r| -> Result<TicketChange, sqlx::Error> {
                Ok(TicketChange {
                    user_id: r.try_get("user_id")?,
                    field: r.try_get("field")?,
                    old_value: r.try_get("old_value")?,
                    new_value: r.try_get("new_value")?,
                    changed_at: r.try_get::<Ts, _>("changed_at")?.0,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading a ticket's history"))
    }

    pub(crate) async fn follow_ticket(
        &self,
        ticket: i64,
        user: i64,
        follow: bool,
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("following a ticket"))?;
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1")
            .bind(ticket)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("following a ticket"))?;
        if found.is_none() {
            return Err(StoreError::CrmNotFound("ticket", ticket));
        }
        sqlx::query("DELETE FROM ticket_followers WHERE ticket_id = $1 AND user_id = $2")
            .bind(ticket)
            .bind(user)
            .execute(&mut *tx)
            .await
            .map_err(db_err("following a ticket"))?;
        if follow {
            sqlx::query("INSERT INTO ticket_followers (ticket_id, user_id) VALUES ($1, $2)")
                .bind(ticket)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(db_err("following a ticket"))?;
        }
        tx.commit().await.map_err(db_err("following a ticket"))
    }

    pub(crate) async fn ticket_followers(&self, ticket: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT user_id FROM ticket_followers WHERE ticket_id = $1 ORDER BY user_id",
        )
        .bind(ticket)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a ticket's followers"))
    }

    pub(crate) async fn add_ticket_attachment(
        &self,
        a: &TicketAttachment,
    ) -> Result<i64, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("attaching a file"))?;
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE id = $1")
            .bind(a.ticket_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err("attaching a file"))?;
        if found.is_none() {
            return Err(StoreError::CrmNotFound("ticket", a.ticket_id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_attachments (ticket_id, file_name, content_type, size, sha256, \
             stored_name, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id",
        )
        .bind(a.ticket_id)
        .bind(&a.file_name)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.sha256)
        .bind(&a.stored_name)
        .bind(Self::opt(a.uploaded_by))
        .bind(Ts(db::now_ms()))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("attaching a file"))?;
        sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
            .bind(Ts(db::now_ms()))
            .bind(a.ticket_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("attaching a file"))?;
        tx.commit().await.map_err(db_err("attaching a file"))?;
        Ok(id)
    }

    /// The attachments of `ticket`, or (with `one`) the attachment of that
    /// id whatever its ticket.
    pub(crate) async fn ticket_attachments(
        &self,
        ticket: i64,
        one: Option<i64>,
    ) -> Result<Vec<TicketAttachment>, StoreError> {
        let (filter, arg) = match one {
            Some(id) => ("id = $1", id),
            None => ("ticket_id = $1", ticket),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, ticket_id, file_name, content_type, size, sha256, stored_name, \
             uploaded_by, created_at FROM ticket_attachments WHERE {filter} ORDER BY id"
        )))
        .bind(arg)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading attachments"))?;
        rows.iter()
            .map(|r| -> Result<TicketAttachment, sqlx::Error> {
                Ok(TicketAttachment {
                    id: r.try_get("id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    file_name: r.try_get("file_name")?,
                    content_type: r.try_get("content_type")?,
                    size: r.try_get("size")?,
                    sha256: r.try_get("sha256")?,
                    stored_name: r.try_get("stored_name")?,
                    uploaded_by: r.try_get("uploaded_by")?,
                    created_at: r.try_get::<Ts, _>("created_at")?.0,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("reading attachments"))
    }

    pub(crate) async fn open_tickets_of(
        &self,
        n: &str,
        contacts: &[i64],
        scope: &CrmScope,
    ) -> Result<Vec<Ticket>, StoreError> {
        let filter = scope_sql(scope);
        let of_contacts = if contacts.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = contacts.iter().map(i64::to_string).collect();
            format!(" OR contact_id IN ({})", ids.join(", "))
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE (phone_norm = $1{of_contacts}) \
             AND status <> 'closed' AND {filter} ORDER BY updated_at DESC, id DESC LIMIT 20"
        )))
        .bind(n)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("looking a number's tickets up"))?;
        rows.iter()
            .map(Self::ticket_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("looking a number's tickets up"))
    }

    pub(crate) async fn take_overdue_tickets(&self, now: i64) -> Result<Vec<Ticket>, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("finding overdue tickets"))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE due_at < $1 AND status <> 'closed' \
             AND overdue_sent = $2 ORDER BY due_at, id LIMIT 500"
        )))
        .bind(Ts(now))
        .bind(false)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err("finding overdue tickets"))?;
        let tickets = rows
            .iter()
            .map(Self::ticket_of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("finding overdue tickets"))?;
        for t in &tickets {
            sqlx::query("UPDATE tickets SET overdue_sent = $1 WHERE id = $2")
                .bind(true)
                .bind(t.id)
                .execute(&mut *tx)
                .await
                .map_err(db_err("finding overdue tickets"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("finding overdue tickets"))?;
        Ok(tickets)
    }
}
