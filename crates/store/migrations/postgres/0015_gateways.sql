-- SIP gateways (twin of migrations/sqlite/0015_gateways.sql). The password
-- is kept as given: the engine answers the carrier's digest challenges with
-- it.
CREATE TABLE gateways (
    name              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    note              TEXT COLLATE "C" NOT NULL DEFAULT '',
    mode              TEXT COLLATE "C" NOT NULL,
    proxy             TEXT COLLATE "C" NOT NULL,
    port              INTEGER          NOT NULL DEFAULT 5060,
    transport         TEXT COLLATE "C" NOT NULL DEFAULT 'udp',
    username          TEXT COLLATE "C" NOT NULL DEFAULT '',
    auth_username     TEXT COLLATE "C" NOT NULL DEFAULT '',
    password          TEXT COLLATE "C" NOT NULL DEFAULT '',
    realm             TEXT COLLATE "C" NOT NULL DEFAULT '',
    from_user         TEXT COLLATE "C" NOT NULL DEFAULT '',
    from_domain       TEXT COLLATE "C" NOT NULL DEFAULT '',
    register_proxy    TEXT COLLATE "C" NOT NULL DEFAULT '',
    outbound_proxy    TEXT COLLATE "C" NOT NULL DEFAULT '',
    expire_secs       INTEGER          NOT NULL DEFAULT 3600,
    retry_secs        INTEGER          NOT NULL DEFAULT 30,
    ping_secs         INTEGER          NOT NULL DEFAULT 0,
    caller_id_in_from BOOLEAN          NOT NULL DEFAULT FALSE,
    codecs            TEXT COLLATE "C" NOT NULL DEFAULT '',
    max_calls         INTEGER          NOT NULL DEFAULT 0,
    strip_digits      INTEGER          NOT NULL DEFAULT 0,
    add_prefix        TEXT COLLATE "C" NOT NULL DEFAULT '',
    caller_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
    privacy           TEXT COLLATE "C" NOT NULL DEFAULT 'none',
    identity          TEXT COLLATE "C" NOT NULL DEFAULT 'none',
    enabled           BOOLEAN          NOT NULL DEFAULT TRUE,
    impu              TEXT COLLATE "C" NOT NULL DEFAULT '',
    impi              TEXT COLLATE "C" NOT NULL DEFAULT '',
    home_domain       TEXT COLLATE "C" NOT NULL DEFAULT '',
    pcscf             TEXT COLLATE "C" NOT NULL DEFAULT '',
    addresses         TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ      NOT NULL,
    updated_at        TIMESTAMPTZ      NOT NULL
);

INSERT INTO config_versions (name, version) VALUES ('gateways', 0);
