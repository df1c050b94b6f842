-- Call-center applications: queues, agents and their tiers, IVR menus,
-- routing rules (settings), and the records they produce (queue events,
-- voicemails, satisfaction surveys, missed calls).
--
-- The engine owns the settings' shape: each `config` column holds one JSON
-- document written by the engine's serde types, as TEXT so both SQLite and
-- PostgreSQL store it verbatim. Ids named `id INTEGER ... PRIMARY KEY` are
-- generated (BIGSERIAL in the future PostgreSQL set) and never named on
-- insert; the other keys are given by the caller.

CREATE TABLE queues (
    name       TEXT   NOT NULL PRIMARY KEY,
    config     TEXT   NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE agents (
    id         TEXT   NOT NULL PRIMARY KEY,
    config     TEXT   NOT NULL DEFAULT '{}',
    -- Live status and state, persisted so they survive a restart. Written
    -- often and without bumping the configuration version.
    status     TEXT   NOT NULL DEFAULT 'logged_out',
    state      TEXT   NOT NULL DEFAULT 'waiting',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Which agents answer which queue. No FOREIGN KEY clauses: the store keeps
-- the references consistent itself (removing a queue or an agent removes
-- its tiers in the same transaction; a tier needs both to exist).
CREATE TABLE tiers (
    queue    TEXT    NOT NULL,
    agent    TEXT    NOT NULL,
    level    INTEGER NOT NULL DEFAULT 1,
    position INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (queue, agent)
);

CREATE INDEX tiers_agent ON tiers (agent);

CREATE TABLE ivr_menus (
    id         TEXT   NOT NULL PRIMARY KEY,
    config     TEXT   NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

-- The id is the rule's identity in the engine, given by the caller.
CREATE TABLE routing_rules (
    id         BIGINT NOT NULL PRIMARY KEY,
    config     TEXT   NOT NULL DEFAULT '{}',
    updated_at BIGINT NOT NULL
);

INSERT INTO config_versions (name, version) VALUES ('callcenter', 0);

-- What happened to a call in a queue (joined, answered, abandoned, ...),
-- written by the engine in batches.
CREATE TABLE queue_events (
    id        INTEGER NOT NULL PRIMARY KEY,
    at        BIGINT  NOT NULL,
    queue     TEXT    NOT NULL,
    call_id   TEXT    NOT NULL,
    caller    TEXT    NOT NULL DEFAULT '',
    -- NULL while no agent is involved (e.g. the caller joined or gave up).
    agent     TEXT,
    kind      TEXT    NOT NULL,
    reason    TEXT,
    wait_secs BIGINT,
    talk_secs BIGINT
);

CREATE INDEX queue_events_call_id ON queue_events (call_id);
CREATE INDEX queue_events_queue_at ON queue_events (queue, at);
CREATE INDEX queue_events_at ON queue_events (at);

CREATE TABLE voicemails (
    id        INTEGER NOT NULL PRIMARY KEY,
    extension TEXT    NOT NULL,
    caller    TEXT    NOT NULL DEFAULT '',
    at        BIGINT  NOT NULL,
    path      TEXT    NOT NULL,
    seconds   BIGINT  NOT NULL DEFAULT 0,
    -- 0 = new, 1 = heard (old)
    heard     INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX voicemails_extension_at ON voicemails (extension, at);

CREATE TABLE surveys (
    id      INTEGER NOT NULL PRIMARY KEY,
    call_id TEXT    NOT NULL,
    agent   TEXT,
    queue   TEXT,
    score   INTEGER NOT NULL,
    at      BIGINT  NOT NULL
);

CREATE INDEX surveys_agent_at ON surveys (agent, at);
CREATE INDEX surveys_call_id ON surveys (call_id);

CREATE TABLE missed_calls (
    id        INTEGER NOT NULL PRIMARY KEY,
    extension TEXT    NOT NULL,
    caller    TEXT    NOT NULL DEFAULT '',
    at        BIGINT  NOT NULL
);

CREATE INDEX missed_calls_extension_at ON missed_calls (extension, at);
