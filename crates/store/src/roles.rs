//! Roles: named sets of permissions that users are added to (the manual's
//! 3.1.2). A permission is stored as the text `resource:action`; which ones
//! exist is defined by the web crate's catalog.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError, User};

/// One role and what it grants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Generated id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Granted permissions, sorted.
    pub grants: Vec<String>,
    /// How many users are members.
    pub members: i64,
}

impl Store {
    /// Creates a role and returns its id. Fails with
    /// [`StoreError::RoleNameTaken`] or [`StoreError::EmptyKey`].
    pub async fn create_role(
        &self,
        name: &str,
        description: &str,
        grants: &[String],
    ) -> Result<i64, StoreError> {
        dispatch!(self, db => db.create_role(name, description, grants))
    }

    /// Changes role `id`: name, description and (all of) its grants.
    pub async fn update_role(
        &self,
        id: i64,
        name: &str,
        description: &str,
        grants: &[String],
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.update_role(id, name, description, grants))
    }

    /// Deletes role `id` with its grants and memberships.
    pub async fn delete_role(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_role(id))
    }

    /// Every role with its grants and member count, ordered by name.
    pub async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        dispatch!(self, db => db.list_roles())
    }

    /// Role `id` with its grants, if it exists.
    pub async fn get_role(&self, id: i64) -> Result<Option<Role>, StoreError> {
        dispatch!(self, db => db.get_role(id))
    }

    /// The members of role `id`, ordered by username.
    pub async fn role_members(&self, id: i64) -> Result<Vec<User>, StoreError> {
        dispatch!(self, db => db.role_members(id))
    }

    /// Makes the users `user_ids` members of role `id`, all or none: an
    /// unknown role fails with [`StoreError::RoleNotFound`], an unknown user
    /// with [`StoreError::UserNotFound`] naming it, and nothing changes.
    /// Users who are members already stay members. Returns how many
    /// memberships were new.
    pub async fn add_role_members(&self, id: i64, user_ids: &[i64]) -> Result<u64, StoreError> {
        dispatch!(self, db => db.add_role_members(id, user_ids))
    }

    /// Takes user `user_id` out of role `id`. Fails with
    /// [`StoreError::RoleNotFound`] if the role does not exist; `Ok(false)`
    /// if the user was not a member (or does not exist).
    pub async fn remove_role_member(&self, id: i64, user_id: i64) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_role_member(id, user_id))
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
    pub(crate) async fn create_role(
        &self,
        name: &str,
        description: &str,
        grants: &[String],
    ) -> Result<i64, StoreError> {
        if name.is_empty() {
            return Err(StoreError::EmptyKey("role name"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a role"))?;
        Self::check_role_name_free(&mut tx, name, None).await?;
        let now = db::now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO roles (name, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(Ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating a role"))?;
        Self::write_role_grants(&mut tx, id, grants).await?;
        tx.commit().await.map_err(db_err("creating a role"))?;
        Ok(id)
    }

    pub(crate) async fn update_role(
        &self,
        id: i64,
        name: &str,
        description: &str,
        grants: &[String],
    ) -> Result<(), StoreError> {
        if name.is_empty() {
            return Err(StoreError::EmptyKey("role name"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("changing a role"))?;
        Self::check_role_exists(&mut tx, id).await?;
        Self::check_role_name_free(&mut tx, name, Some(id)).await?;
        sqlx::query("UPDATE roles SET name = $1, description = $2, updated_at = $3 WHERE id = $4")
            .bind(name)
            .bind(description)
            .bind(Ts(db::now_ms()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("changing a role"))?;
        Self::write_role_grants(&mut tx, id, grants).await?;
        tx.commit().await.map_err(db_err("changing a role"))?;
        Ok(())
    }

    pub(crate) async fn delete_role(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("deleting a role"))?;
        Self::check_role_exists(&mut tx, id).await?;
        for sql in [
            "DELETE FROM role_grants WHERE role_id = $1",
            "DELETE FROM user_roles WHERE role_id = $1",
            "DELETE FROM roles WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err("deleting a role"))?;
        }
        tx.commit().await.map_err(db_err("deleting a role"))?;
        Ok(())
    }

    pub(crate) async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.description, \
             (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS members \
             FROM roles r ORDER BY r.name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing roles"))?;
        let mut roles = rows
            .iter()
            .map(|row| -> Result<Role, sqlx::Error> {
                Ok(Role {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    grants: Vec::new(),
                    members: row.try_get("members")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing roles"))?;
        let grants =
            sqlx::query("SELECT role_id, permission FROM role_grants ORDER BY role_id, permission")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing roles"))?;
        for row in &grants {
            let role_id: i64 = row.try_get("role_id").map_err(db_err("listing roles"))?;
            let permission: String = row.try_get("permission").map_err(db_err("listing roles"))?;
            if let Some(r) = roles.iter_mut().find(|r| r.id == role_id) {
                r.grants.push(permission);
            }
        }
        Ok(roles)
    }

    pub(crate) async fn get_role(&self, id: i64) -> Result<Option<Role>, StoreError> {
        Ok(self.list_roles().await?.into_iter().find(|r| r.id == id))
    }

    pub(crate) async fn role_members(&self, id: i64) -> Result<Vec<User>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id \
             WHERE ur.role_id = $1 ORDER BY u.username",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing a role's members"))?;
        let mut users = Vec::with_capacity(ids.len());
        for uid in ids {
            if let Some(u) = self.get_user(uid).await? {
                users.push(u);
            }
        }
        Ok(users)
    }

    pub(crate) async fn add_role_members(
        &self,
        id: i64,
        user_ids: &[i64],
    ) -> Result<u64, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("adding users to a role"))?;
        Self::check_role_exists(&mut tx, id).await?;
        let mut added = 0;
        for &user in user_ids {
            Self::check_user_exists(&mut tx, user).await?;
            added += sqlx::query(
                "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) \
                 ON CONFLICT (user_id, role_id) DO NOTHING",
            )
            .bind(user)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("adding users to a role"))?
            .rows_affected();
        }
        tx.commit()
            .await
            .map_err(db_err("adding users to a role"))?;
        Ok(added)
    }

    pub(crate) async fn remove_role_member(
        &self,
        id: i64,
        user_id: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("removing a user from a role"))?;
        Self::check_role_exists(&mut tx, id).await?;
        let removed = sqlx::query("DELETE FROM user_roles WHERE role_id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("removing a user from a role"))?
            .rows_affected();
        tx.commit()
            .await
            .map_err(db_err("removing a user from a role"))?;
        Ok(removed > 0)
    }

    /// Fails with [`StoreError::RoleNotFound`] if role `id` does not exist.
    pub(crate) async fn check_role_exists(tx: &mut Tx<DB>, id: i64) -> Result<(), StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM roles WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("reading a role"))?;
        found.map(|_| ()).ok_or(StoreError::RoleNotFound(id))
    }

    /// Fails with [`StoreError::RoleNameTaken`] if another role has `name`.
    pub(crate) async fn check_role_name_free(
        tx: &mut Tx<DB>,
        name: &str,
        except: Option<i64>,
    ) -> Result<(), StoreError> {
        let owner: Option<i64> = sqlx::query_scalar("SELECT id FROM roles WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("checking a role name"))?;
        match owner {
            Some(id) if Some(id) != except => Err(StoreError::RoleNameTaken(name.to_string())),
            _ => Ok(()),
        }
    }

    /// Replaces the grants of role `id`.
    pub(crate) async fn write_role_grants(
        tx: &mut Tx<DB>,
        id: i64,
        grants: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM role_grants WHERE role_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db_err("writing a role's permissions"))?;
        for grant in grants {
            sqlx::query(
                "INSERT INTO role_grants (role_id, permission) VALUES ($1, $2) \
                 ON CONFLICT (role_id, permission) DO NOTHING",
            )
            .bind(id)
            .bind(grant)
            .execute(&mut **tx)
            .await
            .map_err(db_err("writing a role's permissions"))?;
        }
        Ok(())
    }
}
