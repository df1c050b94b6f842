//! Departments (the manual's 3.1.3, 组织机构): a tree of named units that
//! users belong to and that grant permissions to their members (and to the
//! members of the departments below them).
//!
//! The tree never has a cycle: moving a department under itself or under
//! one of its descendants is refused with [`StoreError::DepartmentCycle`].

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError, User};

/// One department.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// Generated id.
    pub id: i64,
    /// Name (not necessarily unique: two branches may each have "Sales").
    pub name: String,
    /// The department above; `None` at the top.
    pub parent_id: Option<i64>,
    /// Granted permissions, sorted.
    pub grants: Vec<String>,
    /// How many users are direct members.
    pub members: i64,
}

/// The editable fields of a department.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentFields {
    /// Name, not empty.
    pub name: String,
    /// The department above; `None` at the top.
    pub parent_id: Option<i64>,
    /// Granted permissions.
    pub grants: Vec<String>,
}

impl Store {
    /// Creates a department and returns its id; the parent must exist.
    pub async fn create_department(&self, fields: &DepartmentFields) -> Result<i64, StoreError> {
        dispatch!(self, db => db.create_department(fields))
    }

    /// Changes department `id` (name, parent, grants). Refuses a parent that
    /// would make a cycle with [`StoreError::DepartmentCycle`], changing nothing.
    pub async fn update_department(
        &self,
        id: i64,
        fields: &DepartmentFields,
    ) -> Result<(), StoreError> {
        dispatch!(self, db => db.update_department(id, fields))
    }

    /// Deletes department `id` with its grants and memberships. A department
    /// with departments below it is refused with
    /// [`StoreError::DepartmentHasChildren`].
    pub async fn delete_department(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(self, db => db.delete_department(id))
    }

    /// Every department with its grants and member count, ordered by name
    /// (the web crate arranges them as a tree).
    pub async fn list_departments(&self) -> Result<Vec<Department>, StoreError> {
        dispatch!(self, db => db.list_departments())
    }

    /// Department `id`, if it exists.
    pub async fn get_department(&self, id: i64) -> Result<Option<Department>, StoreError> {
        dispatch!(self, db => db.get_department(id))
    }

    /// The direct members of department `id`, ordered by username.
    pub async fn department_members(&self, id: i64) -> Result<Vec<User>, StoreError> {
        dispatch!(self, db => db.department_members(id))
    }

    /// Makes the users `user_ids` direct members of department `id`, all or
    /// none: an unknown department fails with
    /// [`StoreError::DepartmentNotFound`], an unknown user with
    /// [`StoreError::UserNotFound`] naming it, and nothing changes. Users
    /// who are members already stay members. Returns how many memberships
    /// were new.
    pub async fn add_department_members(
        &self,
        id: i64,
        user_ids: &[i64],
    ) -> Result<u64, StoreError> {
        dispatch!(self, db => db.add_department_members(id, user_ids))
    }

    /// Takes user `user_id` out of department `id` (its direct members
    /// only). Fails with [`StoreError::DepartmentNotFound`] if the
    /// department does not exist; `Ok(false)` if the user was not a member
    /// (or does not exist).
    pub async fn remove_department_member(
        &self,
        id: i64,
        user_id: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_department_member(id, user_id))
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
    pub(crate) async fn create_department(
        &self,
        fields: &DepartmentFields,
    ) -> Result<i64, StoreError> {
        if fields.name.is_empty() {
            return Err(StoreError::EmptyKey("department name"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("creating a department"))?;
        Self::check_parent(&mut tx, None, fields.parent_id).await?;
        let now = db::now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO departments (name, parent_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(&fields.name)
        .bind(Self::opt(fields.parent_id))
        .bind(Ts(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err("creating a department"))?;
        Self::write_department_grants(&mut tx, id, &fields.grants).await?;
        tx.commit().await.map_err(db_err("creating a department"))?;
        Ok(id)
    }

    pub(crate) async fn update_department(
        &self,
        id: i64,
        fields: &DepartmentFields,
    ) -> Result<(), StoreError> {
        if fields.name.is_empty() {
            return Err(StoreError::EmptyKey("department name"));
        }
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("changing a department"))?;
        Self::check_department_exists(&mut tx, id).await?;
        Self::check_parent(&mut tx, Some(id), fields.parent_id).await?;
        sqlx::query(
            "UPDATE departments SET name = $1, parent_id = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&fields.name)
        .bind(Self::opt(fields.parent_id))
        .bind(Ts(db::now_ms()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err("changing a department"))?;
        Self::write_department_grants(&mut tx, id, &fields.grants).await?;
        tx.commit().await.map_err(db_err("changing a department"))?;
        Ok(())
    }

    pub(crate) async fn delete_department(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("deleting a department"))?;
        Self::check_department_exists(&mut tx, id).await?;
        let children: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM departments WHERE parent_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("deleting a department"))?;
        if children > 0 {
            return Err(StoreError::DepartmentHasChildren(id));
        }
        for sql in [
            "DELETE FROM department_grants WHERE department_id = $1",
            "DELETE FROM user_departments WHERE department_id = $1",
            "DELETE FROM departments WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err("deleting a department"))?;
        }
        tx.commit().await.map_err(db_err("deleting a department"))?;
        Ok(())
    }

    pub(crate) async fn list_departments(&self) -> Result<Vec<Department>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.name, d.parent_id, \
             (SELECT COUNT(*) FROM user_departments ud WHERE ud.department_id = d.id) AS members \
             FROM departments d ORDER BY d.name, d.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing departments"))?;
        let mut list = rows
            .iter()
            .map(|row| -> Result<Department, sqlx::Error> {
                Ok(Department {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    parent_id: row.try_get("parent_id")?,
                    grants: Vec::new(),
                    members: row.try_get("members")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err("listing departments"))?;
        let grants = sqlx::query(
            "SELECT department_id, permission FROM department_grants \
             ORDER BY department_id, permission",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing departments"))?;
        for row in &grants {
            let id: i64 = row
                .try_get("department_id")
                .map_err(db_err("listing departments"))?;
            let permission: String = row
                .try_get("permission")
                .map_err(db_err("listing departments"))?;
            if let Some(d) = list.iter_mut().find(|d| d.id == id) {
                d.grants.push(permission);
            }
        }
        Ok(list)
    }

    pub(crate) async fn get_department(&self, id: i64) -> Result<Option<Department>, StoreError> {
        Ok(self
            .list_departments()
            .await?
            .into_iter()
            .find(|d| d.id == id))
    }

    pub(crate) async fn department_members(&self, id: i64) -> Result<Vec<User>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT u.id FROM users u JOIN user_departments ud ON ud.user_id = u.id \
             WHERE ud.department_id = $1 ORDER BY u.username",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing a department's members"))?;
        let mut users = Vec::with_capacity(ids.len());
        for uid in ids {
            if let Some(u) = self.get_user(uid).await? {
                users.push(u);
            }
        }
        Ok(users)
    }

    pub(crate) async fn add_department_members(
        &self,
        id: i64,
        user_ids: &[i64],
    ) -> Result<u64, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("adding users to a department"))?;
        Self::check_department_exists(&mut tx, id).await?;
        let mut added = 0;
        for &user in user_ids {
            Self::check_user_exists(&mut tx, user).await?;
            added += sqlx::query(
                "INSERT INTO user_departments (user_id, department_id) VALUES ($1, $2) \
                 ON CONFLICT (user_id, department_id) DO NOTHING",
            )
            .bind(user)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err("adding users to a department"))?
            .rows_affected();
        }
        tx.commit()
            .await
            .map_err(db_err("adding users to a department"))?;
        Ok(added)
    }

    pub(crate) async fn remove_department_member(
        &self,
        id: i64,
        user_id: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("removing a user from a department"))?;
        Self::check_department_exists(&mut tx, id).await?;
        let removed =
            sqlx::query("DELETE FROM user_departments WHERE department_id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err("removing a user from a department"))?
                .rows_affected();
        tx.commit()
            .await
            .map_err(db_err("removing a user from a department"))?;
        Ok(removed > 0)
    }

    /// Fails with [`StoreError::DepartmentNotFound`] if department `id` does not exist.
    pub(crate) async fn check_department_exists(
        tx: &mut Tx<DB>,
        id: i64,
    ) -> Result<(), StoreError> {
        Self::parent_of(tx, id).await.map(|_| ())
    }

    /// The parent of department `id`; [`StoreError::DepartmentNotFound`] if it
    /// does not exist.
    pub(crate) async fn parent_of(tx: &mut Tx<DB>, id: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT parent_id FROM departments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err("reading a department"))?;
        match row {
            Some(row) => row
                .try_get::<Option<i64>, _>("parent_id")
                .map_err(db_err("reading a department")),
            None => Err(StoreError::DepartmentNotFound(id)),
        }
    }

    /// Checks that `parent` exists and that putting department `id` (`None`
    /// for a new one) under it makes no cycle.
    pub(crate) async fn check_parent(
        tx: &mut Tx<DB>,
        id: Option<i64>,
        parent: Option<i64>,
    ) -> Result<(), StoreError> {
        let Some(parent) = parent else { return Ok(()) };
        // Walk up from the new parent: meeting `id` means `id` would become its
        // own ancestor. The walk is bounded by the table size in case the
        // stored tree was damaged by hand.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM departments")
            .fetch_one(&mut **tx)
            .await
            .map_err(db_err("reading departments"))?;
        let mut cur = Some(parent);
        let mut steps = 0;
        while let Some(d) = cur {
            if Some(d) == id {
                return Err(StoreError::DepartmentCycle {
                    department: d,
                    parent,
                });
            }
            cur = Self::parent_of(tx, d).await?;
            steps += 1;
            if steps > count {
                break;
            }
        }
        Ok(())
    }

    /// Replaces the grants of department `id`.
    pub(crate) async fn write_department_grants(
        tx: &mut Tx<DB>,
        id: i64,
        grants: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM department_grants WHERE department_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db_err("writing a department's permissions"))?;
        for grant in grants {
            sqlx::query(
                "INSERT INTO department_grants (department_id, permission) VALUES ($1, $2) \
                 ON CONFLICT (department_id, permission) DO NOTHING",
            )
            .bind(id)
            .bind(grant)
            .execute(&mut **tx)
            .await
            .map_err(db_err("writing a department's permissions"))?;
        }
        Ok(())
    }
}
