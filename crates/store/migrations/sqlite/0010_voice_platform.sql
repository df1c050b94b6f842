-- Voice-platform lists the admin edits (manual 3.2): the access list of the
-- trunk profile (访问列表: networks allowed to send INVITEs to 5080), the
-- blacklist (黑名单: caller numbers refused), and the number pool (号码池:
-- outside caller-ID numbers extensions use when calling out). One table:
-- each is a list of values with a note; the engine checks each list's
-- values (a network, a number) before they are written.
CREATE TABLE voice_lists (
    list       TEXT   NOT NULL,
    value      TEXT   NOT NULL,
    note       TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (list, value)
);

INSERT INTO config_versions (name, version) VALUES ('voice', 0);

-- Media resources (媒体资源): uploaded prompts and music, by name. The file
-- is kept under the media directory; what it decoded to is recorded.
CREATE TABLE media_files (
    name        TEXT   NOT NULL PRIMARY KEY,
    file        TEXT   NOT NULL,
    bytes       BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    uploaded_by TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- The rest of the extension form (FEATURES T4): the SIP gateway it calls out
-- through, whether it may use the browser phone, and its outside caller-ID
-- numbers from the pool (comma-separated; one is picked per call).
ALTER TABLE extensions ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN webrtc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN caller_ids TEXT NOT NULL DEFAULT '';
