-- SIP gateways (trunks, manual 3.2.6, issue 14): one row per gateway, one
-- typed column per setting (reports join CDRs and routing on the name).
-- Empty text means "the default" (see callcenter::gateway::config): the
-- auth username is the username, the realm the proxy, and so on.
--
-- The password is kept as given, not hashed: the engine computes digest
-- answers to the carrier's challenges with it. The pages and the API never
-- show it.
--
-- Lists (codecs, NNI addresses) are comma-separated. Booleans are INTEGER
-- 0/1 and timestamps BIGINT unix milliseconds, as in the other tables.
CREATE TABLE gateways (
    name              TEXT    NOT NULL PRIMARY KEY,
    note              TEXT    NOT NULL DEFAULT '',
    -- nni, uni or ims
    mode              TEXT    NOT NULL,
    proxy             TEXT    NOT NULL,
    port              INTEGER NOT NULL DEFAULT 5060,
    -- udp, tcp or tls
    transport         TEXT    NOT NULL DEFAULT 'udp',
    username          TEXT    NOT NULL DEFAULT '',
    auth_username     TEXT    NOT NULL DEFAULT '',
    password          TEXT    NOT NULL DEFAULT '',
    realm             TEXT    NOT NULL DEFAULT '',
    from_user         TEXT    NOT NULL DEFAULT '',
    from_domain       TEXT    NOT NULL DEFAULT '',
    register_proxy    TEXT    NOT NULL DEFAULT '',
    outbound_proxy    TEXT    NOT NULL DEFAULT '',
    expire_secs       INTEGER NOT NULL DEFAULT 3600,
    retry_secs        INTEGER NOT NULL DEFAULT 30,
    -- 0: no OPTIONS pings
    ping_secs         INTEGER NOT NULL DEFAULT 0,
    caller_id_in_from INTEGER NOT NULL DEFAULT 0,
    codecs            TEXT    NOT NULL DEFAULT '',
    -- 0: unlimited
    max_calls         INTEGER NOT NULL DEFAULT 0,
    strip_digits      INTEGER NOT NULL DEFAULT 0,
    add_prefix        TEXT    NOT NULL DEFAULT '',
    caller_id         TEXT    NOT NULL DEFAULT '',
    -- none or id
    privacy           TEXT    NOT NULL DEFAULT 'none',
    -- none, pai or ppi
    identity          TEXT    NOT NULL DEFAULT 'none',
    enabled           INTEGER NOT NULL DEFAULT 1,
    impu              TEXT    NOT NULL DEFAULT '',
    impi              TEXT    NOT NULL DEFAULT '',
    home_domain       TEXT    NOT NULL DEFAULT '',
    pcscf             TEXT    NOT NULL DEFAULT '',
    addresses         TEXT    NOT NULL DEFAULT '',
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);

-- Bumped by every change, so a running engine reloads its gateways.
INSERT INTO config_versions (name, version) VALUES ('gateways', 0);
