-- The audit log (FEATURES C2, manual 3.3): every change and sign-in, who,
-- from where, what (parameters with secrets already redacted), how long it
-- took and how it ended. Written by the web module, never updated.
CREATE TABLE audit_log (
    id          INTEGER NOT NULL PRIMARY KEY,
    at          BIGINT  NOT NULL,
    -- sign_in, sign_out or change
    action      TEXT    NOT NULL,
    username    TEXT    NOT NULL DEFAULT '',
    ip          TEXT    NOT NULL DEFAULT '',
    method      TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    params      TEXT    NOT NULL DEFAULT '',
    status      INTEGER NOT NULL,
    -- 1 when the request succeeded (status below 400)
    ok          INTEGER NOT NULL,
    duration_ms BIGINT  NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_username_at ON audit_log (username, at);

-- System settings (FEATURES C3): one value per key; the web module knows
-- the keys, their meaning and their checks.
CREATE TABLE settings (
    key        TEXT   NOT NULL PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Dictionaries (数据字典): named lists of values that forms offer.
CREATE TABLE dictionary_items (
    dictionary TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    label      TEXT    NOT NULL DEFAULT '',
    position   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dictionary, value)
);
