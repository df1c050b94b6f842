-- Call recording (twin of migrations/sqlite/0004_cdr_recording.sql).
ALTER TABLE cdrs ADD COLUMN recording_path TEXT COLLATE "C";
ALTER TABLE cdrs ADD COLUMN recorded_secs BIGINT NOT NULL DEFAULT 0;
