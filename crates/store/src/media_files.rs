//! Media resources (媒体资源, manual 3.2.5): uploaded prompts and music, by
//! name. The engine checks and stores the file; this records it.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Value};
use crate::{dispatch, Store, StoreError};

/// One uploaded media file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// The name settings refer to it by (unique).
    pub name: String,
    /// The file, relative to the media directory.
    pub file: String,
    /// Its size.
    pub bytes: i64,
    /// How long it plays.
    pub duration_ms: i64,
    /// Who uploaded it (user name).
    pub uploaded_by: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last rename or replacement.
    pub updated_at: i64,
}

/// The columns `Db::media_from_row` reads (a macro so queries stay literals).
macro_rules! columns {
    () => {
        "name, file, bytes, duration_ms, uploaded_by, created_at, updated_at"
    };
}

impl Store {
    /// Records a new media file; [`StoreError::MediaExists`] if the name is
    /// taken.
    pub async fn add_media_file(&self, m: &MediaFile) -> Result<(), StoreError> {
        dispatch!(self, db => db.add_media_file(m))
    }

    /// All media files, by name.
    pub async fn list_media_files(&self) -> Result<Vec<MediaFile>, StoreError> {
        dispatch!(self, db => db.list_media_files())
    }

    /// The media file `name`, if it exists.
    pub async fn get_media_file(&self, name: &str) -> Result<Option<MediaFile>, StoreError> {
        dispatch!(self, db => db.get_media_file(name))
    }

    /// Renames media file `from` to `to`; [`StoreError::MediaNotFound`] or
    /// [`StoreError::MediaExists`] when it cannot.
    pub async fn rename_media_file(&self, from: &str, to: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.rename_media_file(from, to))
    }

    /// Forgets media file `name`; whether it existed (the engine removes
    /// the file itself).
    pub async fn remove_media_file(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_media_file(name))
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
    pub(crate) async fn add_media_file(&self, m: &MediaFile) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a media file";
        if m.name.trim().is_empty() {
            return Err(StoreError::EmptyKey("media name"));
        }
        let now = Ts(db::now_ms());
        let added = sqlx::query(
            "INSERT INTO media_files (name, file, bytes, duration_ms, uploaded_by, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&m.name)
        .bind(&m.file)
        .bind(m.bytes)
        .bind(m.duration_ms)
        .bind(&m.uploaded_by)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?
        .rows_affected();
        if added == 0 {
            return Err(StoreError::MediaExists(m.name.clone()));
        }
        Ok(())
    }

    pub(crate) async fn list_media_files(&self) -> Result<Vec<MediaFile>, StoreError> {
        const CONTEXT: &str = "listing media files";
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM media_files ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(Self::media_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn get_media_file(&self, name: &str) -> Result<Option<MediaFile>, StoreError> {
        const CONTEXT: &str = "reading a media file";
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM media_files WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        row.as_ref()
            .map(Self::media_from_row)
            .transpose()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn rename_media_file(&self, from: &str, to: &str) -> Result<(), StoreError> {
        const CONTEXT: &str = "renaming a media file";
        if to.trim().is_empty() {
            return Err(StoreError::EmptyKey("media name"));
        }
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM media_files WHERE name = $1")
            .bind(to)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        if taken.is_some() {
            return Err(StoreError::MediaExists(to.to_string()));
        }
        let changed =
            sqlx::query("UPDATE media_files SET name = $1, updated_at = $2 WHERE name = $3")
                .bind(to)
                .bind(Ts(db::now_ms()))
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::MediaNotFound(from.to_string()));
        }
        tx.commit().await.map_err(db_err(CONTEXT))
    }

    pub(crate) async fn remove_media_file(&self, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM media_files WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db_err("removing a media file"))?
            .rows_affected();
        Ok(removed > 0)
    }

    pub(crate) fn media_from_row(r: &DB::Row) -> Result<MediaFile, sqlx::Error> {
        Ok(MediaFile {
            name: r.try_get("name")?,
            file: r.try_get("file")?,
            bytes: r.try_get("bytes")?,
            duration_ms: r.try_get("duration_ms")?,
            uploaded_by: r.try_get("uploaded_by")?,
            created_at: r.try_get::<Ts, _>("created_at")?.0,
            updated_at: r.try_get::<Ts, _>("updated_at")?.0,
        })
    }
}
