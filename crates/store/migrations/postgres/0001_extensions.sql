-- PostgreSQL twin of migrations/sqlite/0001_extensions.sql: the same tables,
-- columns, keys and indexes (a test compares the two schemas), in this
-- backend's types: timestamps as timestamptz (the store converts to and from
-- unix milliseconds in one place), booleans as boolean, generated ids as
-- bigint identity, and text in the "C" collation so that ORDER BY sorts by
-- byte value as SQLite does, whatever the database's locale.

CREATE TABLE extensions (
    number       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    password     TEXT COLLATE "C" NOT NULL,
    display_name TEXT COLLATE "C" NOT NULL DEFAULT '',
    enabled      BOOLEAN          NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ      NOT NULL,
    updated_at   TIMESTAMPTZ      NOT NULL
);

-- One row per configuration area; `version` is bumped in the same
-- transaction as every change (and a NOTIFY sent) so other processes can
-- detect it.
CREATE TABLE config_versions (
    name    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    version BIGINT           NOT NULL
);

INSERT INTO config_versions (name, version) VALUES ('extensions', 0);

CREATE TABLE store_meta (
    key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);
