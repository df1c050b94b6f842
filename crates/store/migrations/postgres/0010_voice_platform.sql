-- Voice-platform lists, media resources and the rest of the extension form
-- (twin of migrations/sqlite/0010_voice_platform.sql).
CREATE TABLE voice_lists (
    list       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    note       TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ      NOT NULL,
    PRIMARY KEY (list, value)
);

INSERT INTO config_versions (name, version) VALUES ('voice', 0);

CREATE TABLE media_files (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    file        TEXT COLLATE "C" NOT NULL,
    bytes       BIGINT           NOT NULL,
    duration_ms BIGINT           NOT NULL,
    uploaded_by TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ      NOT NULL,
    updated_at  TIMESTAMPTZ      NOT NULL
);

ALTER TABLE extensions ADD COLUMN gateway TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN webrtc BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE extensions ADD COLUMN caller_ids TEXT COLLATE "C" NOT NULL DEFAULT '';
