-- Backing copy of the registrar's in-memory binding table, so registrations
-- survive a restart. One row per (address-of-record, contact).

CREATE TABLE registrations (
    aor        TEXT   NOT NULL,
    contact    TEXT   NOT NULL,
    -- transport and address the REGISTER came from, e.g. "udp:1.2.3.4:5060"
    source     TEXT   NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    user_agent TEXT   NOT NULL DEFAULT '',
    call_id    TEXT   NOT NULL DEFAULT '',
    cseq       BIGINT NOT NULL DEFAULT 0,
    -- kept as the literal text of the q parameter; NULL when absent
    q_value    TEXT,
    PRIMARY KEY (aor, contact)
);

CREATE INDEX registrations_expires_at ON registrations (expires_at);
