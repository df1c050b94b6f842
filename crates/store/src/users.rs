//! Users of the web module (FEATURES C1): who can sign in, their flags, and
//! their memberships in roles and departments.
//!
//! The store keeps password *hashes* only; hashing and verifying belong to
//! the web crate. Validation of the fields' format (e-mail syntax, allowed
//! characters) is the web crate's job too; the store guarantees integrity:
//! unique usernames, memberships that point at existing rows.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError};

/// The columns `Db::user_from_row` reads.
macro_rules! columns {
    () => {
        "id, username, name, email, mobile, must_change_password, is_admin, is_agent, \
         is_multimedia_agent, extension, enabled, created_at, updated_at"
    };
}

/// The search condition of [`Store::list_users`] (`$1`: a LIKE pattern).
macro_rules! user_filter {
    () => {
        " FROM users WHERE LOWER(username) LIKE $1 ESCAPE '\\' \
         OR LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(email) LIKE $1 ESCAPE '\\' \
         OR mobile LIKE $1 ESCAPE '\\' OR extension LIKE $1 ESCAPE '\\'"
    };
}

/// One user account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Generated id.
    pub id: i64,
    /// Sign-in name, unique.
    pub username: String,
    /// The person's name.
    pub name: String,
    /// E-mail address; may be empty.
    pub email: String,
    /// Mobile number; may be empty.
    pub mobile: String,
    /// The user must choose a new password before doing anything else.
    pub must_change_password: bool,
    /// Administrators have every permission.
    pub is_admin: bool,
    /// Call-center agent (may use the agent desk).
    pub is_agent: bool,
    /// Multimedia (chat) agent.
    pub is_multimedia_agent: bool,
    /// Bound extension; empty for none.
    pub extension: String,
    /// Disabled users cannot sign in and their tokens stop working.
    pub enabled: bool,
    /// Creation time (unix ms).
    pub created_at: i64,
    /// Last change (unix ms).
    pub updated_at: i64,
}

/// The editable fields of a user (what the user form holds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserFields {
    /// Sign-in name, unique, not empty.
    pub username: String,
    /// The person's name.
    pub name: String,
    /// E-mail address; may be empty.
    pub email: String,
    /// Mobile number; may be empty.
    pub mobile: String,
    /// Administrator flag.
    pub is_admin: bool,
    /// Call-center agent flag.
    pub is_agent: bool,
    /// Multimedia agent flag.
    pub is_multimedia_agent: bool,
    /// Bound extension; empty for none.
    pub extension: String,
    /// Enabled flag.
    pub enabled: bool,
}

/// A user with the password hash, for signing in.
#[derive(Clone, Debug)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The stored password hash (PHC string).
    pub password_hash: String,
}

/// Which users [`Store::list_users`] returns.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Substring matched against username, name, e-mail, mobile and
    /// extension (case-insensitive for ASCII); empty for all users.
    pub search: String,
    /// Rows to skip.
    pub offset: i64,
    /// Maximum rows to return.
    pub limit: i64,
}

/// A page of users and how many match in total.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserPage {
    /// The users of this page, ordered by username.
    pub users: Vec<User>,
    /// How many users match the search.
    pub total: i64,
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'`.
fn like_pattern(search: &str) -> String {
    let mut p = String::with_capacity(search.len() + 2);
    p.push('%');
    for c in search.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// Creates a user with an already hashed password and returns its id.
    /// Fails with [`StoreError::UsernameTaken`] if the username exists and
    /// [`StoreError::EmptyKey`] if it is empty.
    pub async fn create_user(
        &self,
        fields: &UserFields,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<i64, StoreError> {
        dispatch!(self, db => db.create_user(fields, password_hash, must_change_password))
    }

    /// Changes the editable fields of user `id`. Disabling a user also ends
    /// their sessions.
    pub async fn update_user(&self, id: i64, fields: &UserFields) -> Result<(), StoreError> {
        dispatch!(self, db => db.update_user(id, fields))
    }

    /// Enables or disables user `id`; disabling ends their sessions.
    pub async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<(), StoreError> {
        dispatch!(self, db => db.set_user_enabled(id, enabled))
    }

    /// Stores a new password hash for user `id` and ends every session of
    /// the user except `keep_session` (the one that changed its own
    /// password stays signed in).
    pub async fn set_user_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change_password: bool,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.set_user_password(id, password_hash, must_change_password, keep_session))
    }

    /// The user `id`, if it exists.
    pub async fn get_user(&self, id: i64) -> Result<Option<User>, StoreError> {
        dispatch!(self, db => db.get_user(id))
    }

    /// The user signing in as `username`, with the password hash.
    pub async fn user_credentials(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        dispatch!(self, db => db.user_credentials(username))
    }

    /// The stored password hash of user `id`.
    pub async fn user_password_hash(&self, id: i64) -> Result<Option<String>, StoreError> {
        dispatch!(self, db => db.user_password_hash(id))
    }

    /// A page of users matching `query`, ordered by username.
    pub async fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        dispatch!(self, db => db.list_users(query))
    }

    /// Every user, ordered by username (for pickers).
    pub async fn all_users(&self) -> Result<Vec<User>, StoreError> {
        dispatch!(self, db => db.all_users())
    }

    /// Makes user `id` a member of exactly `role_ids` (unknown roles refused
    /// with [`StoreError::RoleNotFound`]).
    pub async fn set_user_roles(&self, id: i64, role_ids: &[i64]) -> Result<(), StoreError> {
        dispatch!(self, db => db.set_user_roles(id, role_ids))
    }

    /// Makes user `id` a member of exactly `department_ids`.
    pub async fn set_user_departments(
        &self,
        id: i64,
        department_ids: &[i64],
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.set_user_departments(id, department_ids))
    }

    /// The ids of the roles user `id` belongs to.
    pub async fn user_role_ids(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        dispatch!(self, db => db.user_role_ids(id))
    }

    /// The ids of the departments user `id` belongs to.
    pub async fn user_department_ids(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        dispatch!(self, db => db.user_department_ids(id))
    }

    /// Every permission user `id` holds through roles and departments: the
    /// grants of their roles, of their departments and of those
    /// departments' ancestors, sorted and without duplicates. (Administrators
    /// hold everything; that rule is the web crate's, not stored.)
    pub async fn user_grants(&self, id: i64) -> Result<Vec<String>, StoreError> {
        dispatch!(self, db => db.user_grants(id))
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
    pub(crate) async fn create_user(
        &self,
        fields: &UserFields,
        password_hash: &str,
        must_change_password: bool,
    ) -> Result<i64, StoreError> {
        if fields.username.is_empty() {
            return Err(StoreError::EmptyKey("username"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a user"))?;
        Self::check_username_free(&mut tx, &fields.username, None).await?;
        let now = db::now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, name, email, mobile, password_hash, \
             must_change_password, is_admin, is_agent, is_multimedia_agent, extension, \
             enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(&fields.username)
        .bind(&fields.name)
        .bind(&fields.email)
        .bind(&fields.mobile)
        .bind(password_hash)
        .bind(must_change_password)
        .bind(fields.is_admin)
        .bind(fields.is_agent)
        .bind(fields.is_multimedia_agent)
        .bind(&fields.extension)
        .bind(fields.enabled)
        .bind(Ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating a user"))?;
        tx.commit().await.map_err(db_err("creating a user"))?;
        Ok(id)
    }

    pub(crate) async fn update_user(&self, id: i64, fields: &UserFields) -> Result<(), StoreError> {
        if fields.username.is_empty() {
            return Err(StoreError::EmptyKey("username"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("changing a user"))?;
        Self::check_user_exists(&mut tx, id).await?;
        Self::check_username_free(&mut tx, &fields.username, Some(id)).await?;
        sqlx::query(
            "UPDATE users SET username = $1, name = $2, email = $3, mobile = $4, \
             is_admin = $5, is_agent = $6, is_multimedia_agent = $7, extension = $8, \
             enabled = $9, updated_at = $10 WHERE id = $11",
        )
        .bind(&fields.username)
        .bind(&fields.name)
        .bind(&fields.email)
        .bind(&fields.mobile)
        .bind(fields.is_admin)
        .bind(fields.is_agent)
        .bind(fields.is_multimedia_agent)
        .bind(&fields.extension)
        .bind(fields.enabled)
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("changing a user"))?;
        if !fields.enabled {
            Self::delete_sessions_of(&mut tx, id, None).await?;
        }
        tx.commit().await.map_err(db_err("changing a user"))?;
        Ok(())
    }

    pub(crate) async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("enabling a user"))?;
        Self::check_user_exists(&mut tx, id).await?;
        sqlx::query("UPDATE users SET enabled = $1, updated_at = $2 WHERE id = $3")
            .bind(enabled)
            .bind(Ts(db::now_ms()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("enabling a user"))?;
        if !enabled {
            Self::delete_sessions_of(&mut tx, id, None).await?;
        }
        tx.commit().await.map_err(db_err("enabling a user"))?;
        Ok(())
    }

    pub(crate) async fn set_user_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change_password: bool,
        keep_session: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("setting a user's password"))?;
        Self::check_user_exists(&mut tx, id).await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(password_hash)
        .bind(must_change_password)
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("setting a user's password"))?;
        Self::delete_sessions_of(&mut tx, id, keep_session).await?;
        tx.commit()
            .await
            .map_err(db_err("setting a user's password"))?;
        Ok(())
    }

    pub(crate) async fn get_user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a user"))?;
        row.as_ref()
            .map(Self::user_from_row)
            .transpose()
            .map_err(db_err("reading a user"))
    }

    pub(crate) async fn user_credentials(
        &self,
        username: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            ", password_hash FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading a user"))?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<UserCredentials, sqlx::Error> {
            Ok(UserCredentials {
                user: Self::user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        };
        read().map(Some).map_err(db_err("reading a user"))
    }

    pub(crate) async fn user_password_hash(&self, id: i64) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a user"))
    }

    pub(crate) async fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        let pattern = like_pattern(&query.search);
        let total: i64 = sqlx::query_scalar(concat!("SELECT COUNT(*)", user_filter!()))
            .bind(&pattern)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("listing users"))?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            user_filter!(),
            " ORDER BY username LIMIT $2 OFFSET $3"
        ))
        .bind(&pattern)
        .bind(query.limit.max(0))
        .bind(query.offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing users"))?;
        let users = rows
            .iter()
            .map(Self::user_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing users"))?;
        Ok(UserPage { users, total })
    }

    pub(crate) async fn all_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing users"))?;
        rows.iter()
            .map(Self::user_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing users"))
    }

    pub(crate) async fn set_user_roles(&self, id: i64, role_ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("setting a user's roles"))?;
        Self::check_user_exists(&mut tx, id).await?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("setting a user's roles"))?;
        for &role in role_ids {
            Self::check_role_exists(&mut tx, role).await?;
            sqlx::query(
                "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) \
                 ON CONFLICT (user_id, role_id) DO NOTHING",
            )
            .bind(id)
            .bind(role)
            .execute(&mut *tx)
            .await
            .map_err(db_err("setting a user's roles"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("setting a user's roles"))?;
        Ok(())
    }

    pub(crate) async fn set_user_departments(
        &self,
        id: i64,
        department_ids: &[i64],
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("setting a user's departments"))?;
        Self::check_user_exists(&mut tx, id).await?;
        sqlx::query("DELETE FROM user_departments WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("setting a user's departments"))?;
        for &dept in department_ids {
            Self::check_department_exists(&mut tx, dept).await?;
            sqlx::query(
                "INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2) \
                 ON CONFLICT (user_id, department_id) DO NOTHING",
            )
            .bind(id)
            .bind(dept)
            .execute(&mut *tx)
            .await
            .map_err(db_err("setting a user's departments"))?;
        }
        tx.commit()
            .await
            .map_err(db_err("setting a user's departments"))?;
        Ok(())
    }

    pub(crate) async fn user_role_ids(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar("SELECT role_id FROM user_roles WHERE user_id = $1 ORDER BY role_id")
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("reading a user's roles"))
    }

    pub(crate) async fn user_department_ids(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT department_id FROM user_departments WHERE user_id = $1 ORDER BY department_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a user's departments"))
    }

    pub(crate) async fn user_grants(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let mut grants: Vec<String> = sqlx::query_scalar(
            "SELECT g.permission FROM role_grants g \
             JOIN user_roles ur ON ur.role_id = g.role_id WHERE ur.user_id = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a user's permissions"))?;
        let departments = self.user_department_ids(id).await?;
        if !departments.is_empty() {
            let tree = self.list_departments().await?;
            let mut seen = std::collections::HashSet::new();
            for start in departments {
                let mut cur = Some(start);
                while let Some(d) = cur {
                    if !seen.insert(d) {
                        break;
                    }
                    let Some(dept) = tree.iter().find(|x| x.id == d) else {
                        break;
                    };
                    grants.extend(dept.grants.iter().cloned());
                    cur = dept.parent_id;
                }
            }
        }
        grants.sort();
        grants.dedup();
        Ok(grants)
    }

    pub(crate) fn user_from_row(row: &DB::Row) -> Result<User, sqlx::Error> {
        Ok(User {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            mobile: row.try_get("mobile")?,
            must_change_password: row.try_get("must_change_password")?,
            is_admin: row.try_get("is_admin")?,
            is_agent: row.try_get("is_agent")?,
            is_multimedia_agent: row.try_get("is_multimedia_agent")?,
            extension: row.try_get("extension")?,
            enabled: row.try_get("enabled")?,
            created_at: row.try_get::<Ts, _>("created_at")?.0,
            updated_at: row.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    /// Fails with [`StoreError::UsernameTaken`] if `username` belongs to a user
    /// other than `except`.
    pub(crate) async fn check_username_free(
        tx: &mut Tx<DB>,
        username: &str,
        except: Option<i64>,
    ) -> Result<(), StoreError> {
        let owner: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("checking a username"))?;
        match owner {
            Some(id) if Some(id) != except => Err(StoreError::UsernameTaken(username.to_string())),
            _ => Ok(()),
        }
    }

    /// Fails with [`StoreError::UserNotFound`] if user `id` does not exist.
    pub(crate) async fn check_user_exists(tx: &mut Tx<DB>, id: i64) -> Result<(), StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("reading a user"))?;
        found.map(|_| ()).ok_or(StoreError::UserNotFound(id))
    }
}
