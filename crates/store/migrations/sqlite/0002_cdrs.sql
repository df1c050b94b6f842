-- Call detail records, written by the engine in batches.
--
-- `id INTEGER PRIMARY KEY` is SQLite's rowid alias, so it auto-increments
-- without the SQLite-only AUTOINCREMENT keyword. The PostgreSQL migration set
-- will declare it as `id BIGSERIAL PRIMARY KEY` instead; queries never name
-- the id on insert, so they work unchanged on both.

CREATE TABLE cdrs (
    id           INTEGER NOT NULL PRIMARY KEY,
    call_id      TEXT    NOT NULL,
    caller       TEXT    NOT NULL DEFAULT '',
    caller_name  TEXT    NOT NULL DEFAULT '',
    callee       TEXT    NOT NULL DEFAULT '',
    -- internal / inbound / outbound
    direction    TEXT    NOT NULL DEFAULT '',
    start_at     BIGINT  NOT NULL,
    -- NULL when the call was never answered.
    answer_at    BIGINT,
    end_at       BIGINT  NOT NULL,
    ring_secs    BIGINT  NOT NULL DEFAULT 0,
    talk_secs    BIGINT  NOT NULL DEFAULT 0,
    hangup_cause TEXT    NOT NULL DEFAULT '',
    -- caller / callee / system
    hangup_by    TEXT    NOT NULL DEFAULT '',
    sip_code     INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX cdrs_start_at ON cdrs (start_at);
CREATE INDEX cdrs_caller ON cdrs (caller);
CREATE INDEX cdrs_callee ON cdrs (callee);
