-- Extensions (SIP accounts) and the change counters the running server polls.
-- Portable SQL only (SQLite now, PostgreSQL later): INTEGER/BIGINT/TEXT,
-- timestamps as BIGINT unix milliseconds, no engine-specific syntax.

CREATE TABLE extensions (
    number       TEXT    NOT NULL PRIMARY KEY,
    password     TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    -- 1 = enabled, 0 = disabled; INTEGER rather than BOOLEAN so both engines
    -- store and decode it identically.
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

-- One row per configuration area; `version` is bumped in the same
-- transaction as every change so another process can detect it cheaply.
CREATE TABLE config_versions (
    name    TEXT   NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL
);

INSERT INTO config_versions (name, version) VALUES ('extensions', 0);

-- Small key/value facts about the database itself (e.g. the `seeded` marker
-- that makes first-run seeding happen only once).
CREATE TABLE store_meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
