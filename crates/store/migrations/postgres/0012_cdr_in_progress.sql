-- Crash safety of CDRs (twin of migrations/sqlite/0012_cdr_in_progress.sql).
ALTER TABLE cdrs ADD COLUMN call_uid TEXT COLLATE "C";
-- true while the call is up (end_at, talk_secs and the hangup fields are not
-- final yet), false once it ended.
ALTER TABLE cdrs ADD COLUMN in_progress BOOLEAN NOT NULL DEFAULT FALSE;
-- The last time the server knew the call was up.
ALTER TABLE cdrs ADD COLUMN last_seen_at TIMESTAMPTZ;

-- A UNIQUE index admits any number of NULLs (rows written before call_uid).
CREATE UNIQUE INDEX cdrs_call_uid ON cdrs (call_uid);
-- Only the few rows in progress (SQLite spells the predicate in_progress = 1).
CREATE INDEX cdrs_in_progress ON cdrs (in_progress) WHERE in_progress;
