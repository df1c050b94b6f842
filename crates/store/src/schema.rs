//! The database schema as found (tables, columns, keys, indexes), read from
//! either backend's catalog into one shape, and compared.
//!
//! The two migration sets must produce the same schema up to the backends'
//! types: a test migrates both and compares them, and `switchboard db
//! check` compares a live database with the schema this build's migrations
//! produce. Column types are compared as families: SQLite's INTEGER is
//! PostgreSQL's integer or boolean (SQLite has no boolean), its BIGINT is
//! bigint or timestamptz (the store keeps unix milliseconds there).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use sqlx::Row;

use crate::db::{db_err, Db};
use crate::{BackendKind, Backends, Store, StoreError};

/// A column's type, as the store reads and writes it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// 32-bit integer (`INTEGER`; `integer`).
    Int32,
    /// 64-bit integer (`BIGINT`, or SQLite's `INTEGER PRIMARY KEY`; `bigint`).
    Int64,
    /// Boolean (PostgreSQL `boolean`; SQLite stores these as INTEGER 0/1).
    Bool,
    /// Timestamp (PostgreSQL `timestamptz`; SQLite stores unix ms as BIGINT).
    Timestamp,
    /// Text.
    Text,
    /// Anything else, by the catalog's name for it.
    Other(String),
}

impl Family {
    /// Whether a column of this family on one backend and of `other` on the
    /// other backend hold the same values.
    pub fn matches(&self, other: &Family) -> bool {
        use Family::*;
        self == other
            || matches!(
                (self, other),
                (Int32, Bool) | (Bool, Int32) | (Int64, Timestamp) | (Timestamp, Int64)
            )
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Family::Int32 => f.write_str("int32"),
            Family::Int64 => f.write_str("int64"),
            Family::Bool => f.write_str("bool"),
            Family::Timestamp => f.write_str("timestamp"),
            Family::Text => f.write_str("text"),
            Family::Other(name) => write!(f, "{name}"),
        }
    }
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub family: Family,
    /// Whether it admits NULL.
    pub nullable: bool,
    /// Whether the database generates it (SQLite's `INTEGER PRIMARY KEY`
    /// rowid alias, PostgreSQL's identity columns).
    pub generated: bool,
    /// Its collation when not the database's default (PostgreSQL).
    pub collation: Option<String>,
}

/// One index that is not a key's (keys are [`Table::primary_key`] and
/// [`Table::unique`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// A UNIQUE index.
    pub unique: bool,
    /// A partial index (`WHERE ...`; the predicate's spelling differs
    /// between backends and is not compared).
    pub partial: bool,
}

/// One foreign key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub table: String,
    /// The referenced columns.
    pub references: Vec<String>,
}

/// One table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// The primary key's columns, in order.
    pub primary_key: Vec<String>,
    /// UNIQUE constraints, each a column list.
    pub unique: BTreeSet<Vec<String>>,
    /// Other indexes, by name.
    pub indexes: BTreeMap<String, Index>,
    /// Foreign keys.
    pub foreign_keys: BTreeSet<ForeignKey>,
}

impl Table {
    /// The column `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A database's schema: its tables by name (sqlx's `_sqlx_migrations`
/// left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// Where it was read.
    pub backend: BackendKind,
    /// The tables.
    pub tables: BTreeMap<String, Table>,
}

impl Schema {
    /// The tables in an order where every table comes after the tables its
    /// foreign keys reference (then by name), so rows can be inserted in it
    /// (and deleted in reverse). A cycle, which the schema does not have,
    /// would leave its tables last, by name.
    pub fn tables_in_dependency_order(&self) -> Vec<String> {
        let mut done: Vec<String> = Vec::new();
        let mut left: Vec<&String> = self.tables.keys().collect();
        while !left.is_empty() {
            let ready: Vec<&String> = left
                .iter()
                .copied()
                .filter(|t| {
                    self.tables[*t].foreign_keys.iter().all(|fk| {
                        fk.table == **t
                            || done.contains(&fk.table)
                            || !self.tables.contains_key(&fk.table)
                    })
                })
                .collect();
            if ready.is_empty() {
                done.extend(left.drain(..).cloned());
                break;
            }
            left.retain(|t| !ready.contains(t));
            done.extend(ready.into_iter().cloned());
        }
        done
    }
}

/// The differences between `expected` and `actual`, one sentence each
/// (empty when they match). Column types are compared by
/// [`Family::matches`], so a SQLite and a PostgreSQL schema can match.
pub fn compare(expected: &Schema, actual: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let (e_name, a_name) = (expected.backend.name(), actual.backend.name());
    for name in expected.tables.keys() {
        if !actual.tables.contains_key(name) {
            out.push(format!("table {name} is missing"));
        }
    }
    for name in actual.tables.keys() {
        if !expected.tables.contains_key(name) {
            out.push(format!("table {name} is not expected"));
        }
    }
    for (name, e) in &expected.tables {
        let Some(a) = actual.tables.get(name) else {
            continue;
        };
        for ec in &e.columns {
            let Some(ac) = a.column(&ec.name) else {
                out.push(format!("column {name}.{} is missing", ec.name));
                continue;
            };
            if !ec.family.matches(&ac.family) {
                out.push(format!(
                    "column {name}.{} is {} ({a_name}), expected {} ({e_name})",
                    ec.name, ac.family, ec.family
                ));
            }
            if ec.nullable != ac.nullable {
                out.push(format!(
                    "column {name}.{} is {}, expected {}",
                    ec.name,
                    null_word(ac.nullable),
                    null_word(ec.nullable)
                ));
            }
            if ec.generated != ac.generated {
                out.push(format!(
                    "column {name}.{} is {}generated by the database, expected {}",
                    ec.name,
                    if ac.generated { "" } else { "not " },
                    if ec.generated {
                        "generated"
                    } else {
                        "not generated"
                    }
                ));
            }
        }
        for ac in &a.columns {
            if e.column(&ac.name).is_none() {
                out.push(format!("column {name}.{} is not expected", ac.name));
            }
        }
        if e.primary_key != a.primary_key {
            out.push(format!(
                "table {name} has primary key ({}), expected ({})",
                a.primary_key.join(", "),
                e.primary_key.join(", ")
            ));
        }
        if e.unique != a.unique {
            out.push(format!(
                "table {name} has unique constraints {:?}, expected {:?}",
                a.unique, e.unique
            ));
        }
        for (index, ei) in &e.indexes {
            match a.indexes.get(index) {
                None => out.push(format!("index {index} on {name} is missing")),
                Some(ai) if ai != ei => out.push(format!(
                    "index {index} on {name} is {}, expected {}",
                    describe(ai),
                    describe(ei)
                )),
                Some(_) => {}
            }
        }
        for index in a.indexes.keys() {
            if !e.indexes.contains_key(index) {
                out.push(format!("index {index} on {name} is not expected"));
            }
        }
        if e.foreign_keys != a.foreign_keys {
            out.push(format!(
                "table {name} has foreign keys {:?}, expected {:?}",
                a.foreign_keys, e.foreign_keys
            ));
        }
    }
    out
}

/// The PostgreSQL schema's own rules, which a comparison with SQLite cannot
/// see: timestamps (`at`, `*_at`) are timestamptz and text columns use the
/// "C" collation (byte order, as SQLite sorts). Empty for SQLite.
pub fn postgres_conventions(schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    if schema.backend != BackendKind::Postgres {
        return out;
    }
    for (name, table) in &schema.tables {
        for c in &table.columns {
            let timestamp_name = c.name == "at" || c.name.ends_with("_at");
            if timestamp_name && c.family != Family::Timestamp {
                out.push(format!(
                    "column {name}.{} is {}, expected timestamp",
                    c.name, c.family
                ));
            }
            if c.family == Family::Text && c.collation.as_deref() != Some("C") {
                out.push(format!(
                    "column {name}.{} has collation {}, expected \"C\"",
                    c.name,
                    c.collation.as_deref().unwrap_or("(default)")
                ));
            }
        }
    }
    out
}

fn null_word(nullable: bool) -> &'static str {
    if nullable {
        "NULL"
    } else {
        "NOT NULL"
    }
}

fn describe(i: &Index) -> String {
    format!(
        "{}({}){}",
        if i.unique { "UNIQUE " } else { "" },
        i.columns.join(", "),
        if i.partial { " WHERE ..." } else { "" }
    )
}

/// The schema this build's migrations produce: a migrated in-memory SQLite
/// database, read back.
pub async fn reference() -> Result<Schema, StoreError> {
    let store = Store::open("sqlite::memory:").await?;
    let schema = store.schema().await;
    store.close().await;
    schema
}

impl Store {
    /// Reads this database's schema from its catalog.
    pub async fn schema(&self) -> Result<Schema, StoreError> {
        match &self.db {
            Backends::Sqlite(db) => read_sqlite(db).await,
            Backends::Postgres(db) => read_postgres(db).await,
        }
        .map_err(db_err("reading the schema"))
    }

    /// The differences between this database's schema and the one this
    /// build's migrations produce ([`compare`] with [`reference()`], plus
    /// [`postgres_conventions`]); empty when they match.
    pub async fn check_schema(&self) -> Result<Vec<String>, StoreError> {
        let actual = self.schema().await?;
        let mut out = compare(&reference().await?, &actual);
        out.extend(postgres_conventions(&actual));
        Ok(out)
    }
}

/// Splits a comma-joined column list.
fn list(joined: Option<String>) -> Vec<String> {
    joined
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

async fn read_sqlite(db: &Db<Sqlite>) -> Result<Schema, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut tables = BTreeMap::new();
    for name in names {
        let mut table = Table::default();
        let cols = sqlx::query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(&db.pool)
        .await?;
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &cols {
            let col: String = c.try_get("name")?;
            let declared: String = c.try_get("type")?;
            let not_null: i64 = c.try_get("notnull")?;
            let pk_pos: i64 = c.try_get("pk")?;
            if pk_pos > 0 {
                pk.push((pk_pos, col.clone()));
            }
            table.columns.push(Column {
                name: col,
                family: match declared.to_ascii_uppercase().as_str() {
                    "INTEGER" => Family::Int32,
                    "BIGINT" => Family::Int64,
                    "TEXT" => Family::Text,
                    "BOOLEAN" => Family::Bool,
                    other => Family::Other(other.to_string()),
                },
                nullable: not_null == 0,
                generated: false,
                collation: None,
            });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        // `INTEGER PRIMARY KEY` alone is the rowid: 64-bit, generated.
        if let [only] = table.primary_key.as_slice() {
            if let Some(c) = table.columns.iter_mut().find(|c| &c.name == only) {
                if c.family == Family::Int32 {
                    c.family = Family::Int64;
                    c.generated = true;
                }
            }
        }
        let indexes = sqlx::query(
            "SELECT name, \"unique\", origin, partial FROM pragma_index_list($1) ORDER BY name",
        )
        .bind(&name)
        .fetch_all(&db.pool)
        .await?;
        for i in &indexes {
            let index: String = i.try_get("name")?;
            let unique: i64 = i.try_get("unique")?;
            let origin: String = i.try_get("origin")?;
            let partial: i64 = i.try_get("partial")?;
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&db.pool)
                    .await?;
            match origin.as_str() {
                "pk" => {}
                "u" => {
                    table.unique.insert(columns);
                }
                _ => {
                    table.indexes.insert(
                        index,
                        Index {
                            columns,
                            unique: unique != 0,
                            partial: partial != 0,
                        },
                    );
                }
            }
        }
        let fks = sqlx::query(
            "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list($1) \
             ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(&db.pool)
        .await?;
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for f in &fks {
            let id: i64 = f.try_get("id")?;
            let fk = by_id.entry(id).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                table: String::new(),
                references: Vec::new(),
            });
            fk.table = f.try_get("table")?;
            fk.columns.push(f.try_get("from")?);
            fk.references
                .push(f.try_get::<Option<String>, _>("to")?.unwrap_or_default());
        }
        table.foreign_keys = by_id.into_values().collect();
        tables.insert(name, table);
    }
    Ok(Schema {
        backend: BackendKind::Sqlite,
        tables,
    })
}

async fn read_postgres(db: &Db<Postgres>) -> Result<Schema, sqlx::Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut tables = BTreeMap::new();
    for name in names {
        let mut table = Table::default();
        let cols = sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type, \
             is_nullable = 'YES' AS nullable, is_identity = 'YES' AS generated, \
             collation_name::text AS collation FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(&db.pool)
        .await?;
        for c in &cols {
            let declared: String = c.try_get("type")?;
            table.columns.push(Column {
                name: c.try_get("name")?,
                family: match declared.as_str() {
                    "integer" => Family::Int32,
                    "bigint" => Family::Int64,
                    "boolean" => Family::Bool,
                    "timestamp with time zone" => Family::Timestamp,
                    "text" => Family::Text,
                    other => Family::Other(other.to_string()),
                },
                nullable: c.try_get("nullable")?,
                generated: c.try_get("generated")?,
                collation: c.try_get("collation")?,
            });
        }
        let constraints = sqlx::query(
            "SELECT con.contype::text AS kind, \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
              FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS cols, \
             con.confrelid::regclass::text AS ref_table, \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
              FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) \
              AS ref_cols \
             FROM pg_constraint con WHERE con.conrelid = quote_ident($1)::regclass \
             AND con.contype IN ('p', 'u', 'f') ORDER BY con.conname",
        )
        .bind(&name)
        .fetch_all(&db.pool)
        .await?;
        for c in &constraints {
            let kind: String = c.try_get("kind")?;
            let cols = list(c.try_get("cols")?);
            match kind.as_str() {
                "p" => table.primary_key = cols,
                "u" => {
                    table.unique.insert(cols);
                }
                _ => {
                    table.foreign_keys.insert(ForeignKey {
                        columns: cols,
                        table: c.try_get("ref_table")?,
                        references: list(c.try_get("ref_cols")?),
                    });
                }
            }
        }
        let indexes = sqlx::query(
            "SELECT i.relname::text AS name, ix.indisunique AS is_unique, \
             ix.indpred IS NOT NULL AS partial, \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) \
              FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
              JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum) AS cols \
             FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
             WHERE ix.indrelid = quote_ident($1)::regclass \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid \
             AND c.conrelid = ix.indrelid AND c.contype IN ('p', 'u', 'x')) \
             ORDER BY 1",
        )
        .bind(&name)
        .fetch_all(&db.pool)
        .await?;
        for i in &indexes {
            table.indexes.insert(
                i.try_get("name")?,
                Index {
                    columns: list(i.try_get("cols")?),
                    unique: i.try_get("is_unique")?,
                    partial: i.try_get("partial")?,
                },
            );
        }
        tables.insert(name, table);
    }
    Ok(Schema {
        backend: BackendKind::Postgres,
        tables,
    })
}
