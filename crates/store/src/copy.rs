//! `switchboard db copy`: every row of every table from one database to
//! another (SQLite to PostgreSQL and back, or between two of a kind),
//! verified by per-table row counts and checksums.
//!
//! The copy is one transaction on the target: it empties the target's
//! tables, inserts the source's rows table by table (in foreign-key order,
//! in batches, ids kept), resets PostgreSQL's id sequences, then reads the
//! target back and compares each table's count and checksum with the
//! source's before committing. Any difference, or any error, rolls the
//! whole copy back. The source is read in one snapshot (a read-only
//! transaction), so it should not be written meanwhile anyway: stop the
//! server first.
//!
//! A target that holds anything beyond what its migrations put there (the
//! default administrator, the zeroed change counters) is refused unless
//! [`CopyOptions::replace`]: running the copy again is then an explicit
//! choice to overwrite.
//!
//! A row's checksum is the SHA-256 of a canonical serialization of its
//! values in column-name order (NULL, integer in decimal, or text with its
//! length), booleans as 0/1 and timestamps as unix milliseconds, so equal
//! data gives equal checksums on both backends. A table's checksum adds up
//! its rows' (the first 128 bits, wrapping), which does not depend on the
//! order rows are read in (the backends sort text differently).

use sha2::{Digest, Sha256};
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};

use crate::db::{db_err, Backend, Db, Ts, Tx, Value};
use crate::schema::{Family, Schema};
use crate::{Backends, Store, StoreError};

/// How [`copy`] runs.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Overwrite a target that already holds data.
    pub replace: bool,
    /// Rows read and inserted per statement (at most; tables with many
    /// columns use fewer, to stay under the backends' parameter limits).
    pub batch_rows: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            replace: false,
            batch_rows: 500,
        }
    }
}

/// One table's row count and checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSum {
    /// The table.
    pub table: String,
    /// Its rows.
    pub rows: u64,
    /// The sum of its rows' checksums, 32 hex digits.
    pub checksum: String,
}

/// What [`copy`] did: every table's count and checksum, equal on both
/// sides (the copy fails otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// The tables in the order they were copied.
    pub tables: Vec<TableSum>,
}

/// Bind parameters per statement kept under SQLite's limit (32,766) and
/// PostgreSQL's (65,535).
const MAX_PARAMS: usize = 30_000;

/// A value in transit, in the canonical form of the checksum: booleans and
/// timestamps as integers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Val {
    Null,
    Int(i64),
    Text(String),
}

/// A table's copy plan: its columns (with each side's family) and key.
struct Plan {
    table: String,
    /// (name, family on the source, family on the target), by name.
    columns: Vec<(String, Family, Family)>,
    /// Positions in `columns` of the primary key's columns, in key order.
    key: Vec<usize>,
    /// Generated columns on the target (their sequences are reset).
    generated: Vec<String>,
}

/// Copies every table of `from` into `to` (see the module documentation).
///
/// Both databases must be at this build's latest migration with the
/// schema it expects ([`Store::check_schema`]); `to` was migrated when it
/// was opened, `from` may need `switchboard db migrate` first.
pub async fn copy(
    from: &Store,
    to: &Store,
    options: &CopyOptions,
) -> Result<CopyReport, StoreError> {
    for (store, role) in [(from, "source"), (to, "target")] {
        let status = store.migration_status().await?;
        if let Some(&version) = status.unknown.iter().max() {
            return Err(StoreError::UnknownMigration {
                version,
                latest: status.known.last().copied().unwrap_or(0),
            });
        }
        if !status.pending.is_empty() {
            return Err(StoreError::Copy(format!(
                "the {role} database has {} pending migrations: run `switchboard db migrate` on \
                 it first",
                status.pending.len()
            )));
        }
        let diff = store.check_schema().await?;
        if !diff.is_empty() {
            return Err(StoreError::Copy(format!(
                "the {role} database's schema differs from this build's: {}",
                diff.join("; ")
            )));
        }
    }
    let (source_schema, target_schema) = (from.schema().await?, to.schema().await?);
    let plans = plan(&source_schema, &target_schema)?;

    if !options.replace {
        let fresh = checksums(&crate::Store::open("sqlite::memory:").await?).await?;
        let now = checksums(to).await?;
        if let Some(t) = now.iter().find(|t| !fresh.contains(t)) {
            return Err(StoreError::Copy(format!(
                "the target database already holds data (table {}: {} rows); copy with --replace \
                 to overwrite it",
                t.table, t.rows
            )));
        }
    }

    let batch = options.batch_rows.max(1);
    let mut source = Reader::begin(from).await?;
    let mut target = Writer::begin(to).await?;
    for p in plans.iter().rev() {
        target.delete_all(&p.table).await?;
    }
    let mut sums = Vec::with_capacity(plans.len());
    for p in &plans {
        let rows_per_batch = (MAX_PARAMS / p.columns.len().max(1)).clamp(1, batch);
        let mut sum = Sum::default();
        let mut after: Option<Vec<Val>> = None;
        loop {
            let rows = source.read(p, after.as_deref(), rows_per_batch).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                sum.add(row);
            }
            target.write(p, &rows).await?;
            after = rows
                .last()
                .map(|r| p.key.iter().map(|&i| r[i].clone()).collect());
            if rows.len() < rows_per_batch {
                break;
            }
        }
        target.reset_sequences(p).await?;
        sums.push(sum.report(&p.table));
    }
    source.finish().await?;
    // Read back inside the transaction: a difference rolls everything back.
    let mut mismatched = Vec::new();
    for (p, expected) in plans.iter().zip(&sums) {
        let got = target.sum(p, batch).await?;
        if &got != expected {
            mismatched.push(format!(
                "{}: source {} rows {}, target {} rows {}",
                p.table, expected.rows, expected.checksum, got.rows, got.checksum
            ));
        }
    }
    if !mismatched.is_empty() {
        return Err(StoreError::Copy(format!(
            "verification failed, nothing was written: {}",
            mismatched.join("; ")
        )));
    }
    target.commit().await?;
    Ok(CopyReport { tables: sums })
}

/// Every table's row count and checksum, in the order [`copy`] copies them.
pub async fn checksums(store: &Store) -> Result<Vec<TableSum>, StoreError> {
    let schema = store.schema().await?;
    let plans = plan(&schema, &schema)?;
    let mut reader = Reader::begin(store).await?;
    let mut out = Vec::with_capacity(plans.len());
    for p in &plans {
        out.push(reader.sum(p, CopyOptions::default().batch_rows).await?);
    }
    reader.finish().await?;
    Ok(out)
}

/// Pairs the tables and columns of both schemas (which
/// [`Store::check_schema`] found equal to the reference, hence to each
/// other), in dependency order.
fn plan(source: &Schema, target: &Schema) -> Result<Vec<Plan>, StoreError> {
    let mut plans = Vec::new();
    for table in source.tables_in_dependency_order() {
        let s = &source.tables[&table];
        let t = target
            .tables
            .get(&table)
            .ok_or_else(|| StoreError::Copy(format!("table {table} is missing from the target")))?;
        let mut names: Vec<&String> = s.columns.iter().map(|c| &c.name).collect();
        names.sort();
        let mut columns = Vec::with_capacity(names.len());
        for name in names {
            let (Some(sc), Some(tc)) = (s.column(name), t.column(name)) else {
                return Err(StoreError::Copy(format!(
                    "column {table}.{name} is missing from the target"
                )));
            };
            columns.push((name.clone(), sc.family.clone(), tc.family.clone()));
        }
        if s.primary_key.is_empty() {
            return Err(StoreError::Copy(format!(
                "table {table} has no primary key"
            )));
        }
        let key = s
            .primary_key
            .iter()
            .map(|k| columns.iter().position(|c| &c.0 == k))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| StoreError::Copy(format!("the key of {table} is not a column")))?;
        let generated = t
            .columns
            .iter()
            .filter(|c| c.generated)
            .map(|c| c.name.clone())
            .collect();
        plans.push(Plan {
            table,
            columns,
            key,
            generated,
        });
    }
    Ok(plans)
}

/// A table's count and checksum, accumulated row by row.
#[derive(Default)]
struct Sum {
    rows: u64,
    sum: u128,
}

impl Sum {
    fn add(&mut self, row: &[Val]) {
        let mut bytes = Vec::with_capacity(64);
        for v in row {
            match v {
                Val::Null => bytes.extend_from_slice(b"N;"),
                Val::Int(i) => bytes.extend_from_slice(format!("I{i};").as_bytes()),
                Val::Text(s) => {
                    bytes.extend_from_slice(format!("S{}:", s.len()).as_bytes());
                    bytes.extend_from_slice(s.as_bytes());
                    bytes.push(b';');
                }
            }
        }
        let digest = Sha256::digest(&bytes);
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
        self.rows += 1;
    }

    fn report(&self, table: &str) -> TableSum {
        TableSum {
            table: table.to_string(),
            rows: self.rows,
            checksum: format!("{:032x}", self.sum),
        }
    }
}

/// `"name"`: identifiers come from the catalog, quoted all the same.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The source side: one read-only snapshot.
enum Reader {
    Sqlite(Tx<Sqlite>),
    Postgres(Tx<Postgres>),
}

impl Reader {
    async fn begin(store: &Store) -> Result<Reader, StoreError> {
        const CONTEXT: &str = "starting to read the source";
        Ok(match &store.db {
            // A deferred transaction: its snapshot starts at the first read.
            Backends::Sqlite(db) => Reader::Sqlite(db.pool.begin().await.map_err(db_err(CONTEXT))?),
            Backends::Postgres(db) => Reader::Postgres(
                db.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(db_err(CONTEXT))?,
            ),
        })
    }

    async fn read(
        &mut self,
        p: &Plan,
        after: Option<&[Val]>,
        limit: usize,
    ) -> Result<Vec<Vec<Val>>, StoreError> {
        match self {
            Reader::Sqlite(tx) => Db::<Sqlite>::read_rows(tx, p, after, limit).await,
            Reader::Postgres(tx) => Db::<Postgres>::read_rows(tx, p, after, limit).await,
        }
    }

    async fn sum(&mut self, p: &Plan, batch: usize) -> Result<TableSum, StoreError> {
        match self {
            Reader::Sqlite(tx) => Db::<Sqlite>::sum_table(tx, p, batch).await,
            Reader::Postgres(tx) => Db::<Postgres>::sum_table(tx, p, batch).await,
        }
    }

    async fn finish(self) -> Result<(), StoreError> {
        match self {
            Reader::Sqlite(tx) => tx.rollback().await,
            Reader::Postgres(tx) => tx.rollback().await,
        }
        .map_err(db_err("ending the read of the source"))
    }
}

/// The target side: one write transaction.
enum Writer {
    Sqlite(Tx<Sqlite>),
    Postgres(Tx<Postgres>),
}

impl Writer {
    async fn begin(store: &Store) -> Result<Writer, StoreError> {
        const CONTEXT: &str = "starting to write the target";
        Ok(match &store.db {
            Backends::Sqlite(db) => Writer::Sqlite(
                crate::db::begin_write(&db.pool)
                    .await
                    .map_err(db_err(CONTEXT))?,
            ),
            // Plain READ COMMITTED: nothing else should write meanwhile,
            // and a copy is too long to be run again on a conflict.
            Backends::Postgres(db) => {
                Writer::Postgres(db.pool.begin().await.map_err(db_err(CONTEXT))?)
            }
        })
    }

    async fn delete_all(&mut self, table: &str) -> Result<(), StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {}", quoted(table)));
        match self {
            Writer::Sqlite(tx) => sqlx::query(sql).execute(&mut **tx).await.map(|_| ()),
            Writer::Postgres(tx) => sqlx::query(sql).execute(&mut **tx).await.map(|_| ()),
        }
        .map_err(db_err("emptying the target"))
    }

    async fn write(&mut self, p: &Plan, rows: &[Vec<Val>]) -> Result<(), StoreError> {
        match self {
            Writer::Sqlite(tx) => Db::<Sqlite>::write_rows(tx, p, rows).await,
            Writer::Postgres(tx) => Db::<Postgres>::write_rows(tx, p, rows).await,
        }
    }

    /// Moves PostgreSQL's identity sequences past the copied ids (SQLite
    /// continues after the largest rowid by itself).
    async fn reset_sequences(&mut self, p: &Plan) -> Result<(), StoreError> {
        let Writer::Postgres(tx) = self else {
            return Ok(());
        };
        for column in &p.generated {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), \
                 COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)",
                c = quoted(column),
                t = quoted(&p.table)
            ));
            sqlx::query(sql)
                .bind(quoted(&p.table))
                .bind(column)
                .execute(&mut **tx)
                .await
                .map_err(db_err("resetting an id sequence"))?;
        }
        Ok(())
    }

    async fn sum(&mut self, p: &Plan, batch: usize) -> Result<TableSum, StoreError> {
        // The target's families are on the other side of the plan.
        let mirrored = Plan {
            table: p.table.clone(),
            columns: p
                .columns
                .iter()
                .map(|(n, _, t)| (n.clone(), t.clone(), t.clone()))
                .collect(),
            key: p.key.clone(),
            generated: Vec::new(),
        };
        match self {
            Writer::Sqlite(tx) => Db::<Sqlite>::sum_table(tx, &mirrored, batch).await,
            Writer::Postgres(tx) => Db::<Postgres>::sum_table(tx, &mirrored, batch).await,
        }
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Writer::Sqlite(tx) => tx.commit().await,
            Writer::Postgres(tx) => tx.commit().await,
        }
        .map_err(db_err("committing the copy"))
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
    /// Up to `limit` rows of `p.table` after key `after`, in key order, as
    /// read with the source's families.
    async fn read_rows(
        tx: &mut Tx<DB>,
        p: &Plan,
        after: Option<&[Val]>,
        limit: usize,
    ) -> Result<Vec<Vec<Val>>, StoreError> {
        const CONTEXT: &str = "reading the source";
        let names: Vec<String> = p.columns.iter().map(|c| quoted(&c.0)).collect();
        let key: Vec<&String> = p.key.iter().map(|&i| &names[i]).collect();
        let key_list = key
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = QueryBuilder::<DB>::new(format!(
            "SELECT {} FROM {}",
            names.join(", "),
            quoted(&p.table)
        ));
        if let Some(after) = after {
            // Keyset paging; the row-value comparison is the same on both.
            q.push(format!(" WHERE ({key_list}) > ("));
            let mut sep = q.separated(", ");
            for (&i, v) in p.key.iter().zip(after) {
                Self::push_val(&mut sep, v, &p.columns[i].1)?;
            }
            q.push(")");
        }
        q.push(format!(" ORDER BY {key_list} LIMIT {limit}"));
        let rows = q
            .build()
            .fetch_all(&mut **tx)
            .await
            .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(|row| {
                p.columns
                    .iter()
                    .enumerate()
                    .map(|(i, (name, family, _))| Self::get_val(row, i, name, family))
                    .collect::<Result<Vec<Val>, StoreError>>()
            })
            .collect()
    }

    /// A table's count and checksum, read in key order in batches.
    async fn sum_table(tx: &mut Tx<DB>, p: &Plan, batch: usize) -> Result<TableSum, StoreError> {
        let rows_per_batch = (MAX_PARAMS / p.columns.len().max(1)).clamp(1, batch.max(1));
        let mut sum = Sum::default();
        let mut after: Option<Vec<Val>> = None;
        loop {
            let rows = Self::read_rows(tx, p, after.as_deref(), rows_per_batch).await?;
            for row in &rows {
                sum.add(row);
            }
            if rows.len() < rows_per_batch {
                break;
            }
            after = rows
                .last()
                .map(|r| p.key.iter().map(|&i| r[i].clone()).collect());
        }
        Ok(sum.report(&p.table))
    }

    /// Inserts `rows` into `p.table` with the target's families.
    async fn write_rows(tx: &mut Tx<DB>, p: &Plan, rows: &[Vec<Val>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = p.columns.iter().map(|c| quoted(&c.0)).collect();
        let mut q = QueryBuilder::<DB>::new(format!(
            "INSERT INTO {} ({}) VALUES ",
            quoted(&p.table),
            names.join(", ")
        ));
        for (r, row) in rows.iter().enumerate() {
            if r > 0 {
                q.push(", ");
            }
            q.push("(");
            let mut sep = q.separated(", ");
            for (v, (_, _, family)) in row.iter().zip(&p.columns) {
                Self::push_val(&mut sep, v, family)?;
            }
            q.push(")");
        }
        q.build()
            .execute(&mut **tx)
            .await
            .map_err(db_err("writing the target"))?;
        Ok(())
    }

    /// Binds `v` as a value of `family`.
    fn push_val<Sep: std::fmt::Display>(
        sep: &mut sqlx::query_builder::Separated<'_, DB, Sep>,
        v: &Val,
        family: &Family,
    ) -> Result<(), StoreError> {
        let int = |v: &Val| match v {
            Val::Int(i) => Ok(Some(*i)),
            Val::Null => Ok(None),
            Val::Text(_) => Err(StoreError::Copy(format!(
                "a text value for a {family} column"
            ))),
        };
        match family {
            Family::Int32 => {
                let i = int(v)?
                    .map(i32::try_from)
                    .transpose()
                    .map_err(|_| StoreError::Copy("a value out of the 32-bit range".into()))?;
                sep.push_bind(Self::opt(i));
            }
            Family::Int64 => {
                sep.push_bind(Self::opt(int(v)?));
            }
            Family::Bool => {
                sep.push_bind(Self::opt(int(v)?.map(|i| i != 0)));
            }
            Family::Timestamp => {
                sep.push_bind(Self::opt(int(v)?.map(Ts)));
            }
            Family::Text => {
                let s = match v {
                    Val::Text(s) => Some(s.clone()),
                    Val::Null => None,
                    Val::Int(_) => {
                        return Err(StoreError::Copy("an integer for a text column".into()))
                    }
                };
                sep.push_bind(Self::opt(s));
            }
            Family::Other(name) => {
                return Err(StoreError::Copy(format!(
                    "cannot copy a column of type {name}"
                )))
            }
        }
        Ok(())
    }

    /// Column `i` (`name`) of `row`, read as `family`.
    fn get_val(row: &DB::Row, i: usize, name: &str, family: &Family) -> Result<Val, StoreError> {
        let read = |e: sqlx::Error| StoreError::Copy(format!("reading column {name}: {e}"));
        let v = match family {
            Family::Int32 => row
                .try_get::<Option<i32>, _>(i)
                .map_err(read)?
                .map(|v| Val::Int(i64::from(v))),
            Family::Int64 => row
                .try_get::<Option<i64>, _>(i)
                .map_err(read)?
                .map(Val::Int),
            Family::Bool => row
                .try_get::<Option<bool>, _>(i)
                .map_err(read)?
                .map(|b| Val::Int(i64::from(b))),
            Family::Timestamp => row
                .try_get::<Option<Ts>, _>(i)
                .map_err(read)?
                .map(|t| Val::Int(t.0)),
            Family::Text => row
                .try_get::<Option<String>, _>(i)
                .map_err(read)?
                .map(Val::Text),
            Family::Other(t) => {
                return Err(StoreError::Copy(format!(
                    "cannot copy column {name} of type {t}"
                )))
            }
        };
        Ok(v.unwrap_or(Val::Null))
    }
}
