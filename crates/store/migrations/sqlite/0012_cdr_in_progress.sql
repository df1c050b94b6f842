-- Crash safety of CDRs: an answered call's row is written at answer, marked
-- in progress, and completed in place when the call ends. While it is in
-- progress the server refreshes `last_seen_at` every few seconds; at start it
-- closes the rows a crash left in progress, ending them at that last known
-- time (hangup cause SERVER_RESTART).
--
-- call_uid: the engine's unique id of the call, the key the completion
-- updates by (the caller's Call-ID is not unique: a client may reuse one, and
-- the column has no unique index). NULL on rows written before this
-- migration; a UNIQUE index admits any number of NULLs in SQLite and
-- PostgreSQL alike.
ALTER TABLE cdrs ADD COLUMN call_uid TEXT;
-- 1 while the call is up (end_at, talk_secs and the hangup fields are not
-- final yet), 0 once it ended. INTEGER rather than BOOLEAN so the same
-- queries run on SQLite and PostgreSQL.
ALTER TABLE cdrs ADD COLUMN in_progress INTEGER NOT NULL DEFAULT 0;
-- Unix ms: the last time the server knew the call was up.
ALTER TABLE cdrs ADD COLUMN last_seen_at BIGINT;

CREATE UNIQUE INDEX cdrs_call_uid ON cdrs (call_uid);
-- Only the few rows in progress: the heartbeat and the recovery at start
-- find them without scanning the table.
CREATE INDEX cdrs_in_progress ON cdrs (in_progress) WHERE in_progress = 1;
