-- Backing copy of the registrar's bindings (twin of
-- migrations/sqlite/0003_registrations.sql).

CREATE TABLE registrations (
    aor        TEXT COLLATE "C" NOT NULL,
    contact    TEXT COLLATE "C" NOT NULL,
    source     TEXT COLLATE "C" NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ      NOT NULL,
    user_agent TEXT COLLATE "C" NOT NULL DEFAULT '',
    call_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
    cseq       BIGINT           NOT NULL DEFAULT 0,
    -- kept as the literal text of the q parameter; NULL when absent
    q_value    TEXT COLLATE "C",
    PRIMARY KEY (aor, contact)
);

CREATE INDEX registrations_expires_at ON registrations (expires_at);
