-- Call recording: where the file is and how many seconds it holds (paused
-- time excluded). NULL path = the call was not recorded.
ALTER TABLE cdrs ADD COLUMN recording_path TEXT;
ALTER TABLE cdrs ADD COLUMN recorded_secs BIGINT NOT NULL DEFAULT 0;
