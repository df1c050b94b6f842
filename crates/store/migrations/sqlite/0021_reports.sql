-- Reports (issue 17): who handled each call, the agents' state log, and the
-- roll-up tables the reports read so that a year of calls stays fast.
--
-- The CDR names the agent who took (or placed) the call, the queue it came
-- through and the gateway it used, as the engine knew them at the end of
-- the call. NULL on rows written before this migration and where none
-- applies (an abandoned queue call has a queue and no agent).
ALTER TABLE cdrs ADD COLUMN agent TEXT;
ALTER TABLE cdrs ADD COLUMN queue TEXT;
ALTER TABLE cdrs ADD COLUMN gateway TEXT;
-- Seconds a queue call's caller waited before an agent answered (or until
-- the caller gave up): the queue's part of the call's talk time.
ALTER TABLE cdrs ADD COLUMN wait_secs BIGINT NOT NULL DEFAULT 0;
-- Seconds a queue call's agent was on it (the call's talk time counts the
-- wait and, after the agent, the survey too).
ALTER TABLE cdrs ADD COLUMN agent_secs BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cdrs_agent_start ON cdrs (agent, start_at);

-- One row per period an agent spent in one work state: ready, not_ready
-- (with its reason), ringing, talking, acw (after-call work), idle, or
-- logged_out. Written when the period ends.
CREATE TABLE agent_states (
    id       INTEGER NOT NULL PRIMARY KEY,
    agent    TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    reason   TEXT    NOT NULL DEFAULT '',
    start_at BIGINT  NOT NULL,
    end_at   BIGINT  NOT NULL
);
CREATE INDEX agent_states_agent_start ON agent_states (agent, start_at);
CREATE INDEX agent_states_start ON agent_states (start_at);

-- Roll-ups, added to in the same transaction as the raw rows they sum (not
-- by a nightly batch) and rebuilt from the raw rows by
-- `switchboard reports rebuild`. Buckets are unix ms: `day` the local
-- midnight starting the day, `hour` the start of the hour.
--
-- Complete calls per day, agent, kind and queue: kind is internal, inbound,
-- outbound, internal_queue or inbound_queue; agent the one who took or
-- placed the call (else the extension called; '' for none); lost 1 when no
-- person took it.
CREATE TABLE rollup_agent_calls (
    day           BIGINT  NOT NULL,
    agent         TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    lost          INTEGER NOT NULL,
    calls         BIGINT  NOT NULL,
    talk_secs     BIGINT  NOT NULL,
    ring_secs     BIGINT  NOT NULL,
    max_talk_secs BIGINT  NOT NULL,
    min_talk_secs BIGINT  NOT NULL,
    max_ring_secs BIGINT  NOT NULL,
    PRIMARY KEY (day, agent, kind, queue, lost)
);

-- Complete calls per hour, kind and queue (hourly traffic, the traffic
-- monitor).
CREATE TABLE rollup_hourly_calls (
    hour      BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    queue     TEXT    NOT NULL,
    lost      INTEGER NOT NULL,
    calls     BIGINT  NOT NULL,
    talk_secs BIGINT  NOT NULL,
    ring_secs BIGINT  NOT NULL,
    PRIMARY KEY (hour, kind, queue, lost)
);

-- Queue events per hour and queue: the service-level counts, with the
-- answered callers counted within each usual target and the abandons
-- within each usual short-abandon threshold (other thresholds are counted
-- from the raw events).
CREATE TABLE rollup_queues (
    hour              BIGINT NOT NULL,
    queue             TEXT   NOT NULL,
    offered           BIGINT NOT NULL,
    answered          BIGINT NOT NULL,
    answered_10       BIGINT NOT NULL,
    answered_15       BIGINT NOT NULL,
    answered_20       BIGINT NOT NULL,
    answered_30       BIGINT NOT NULL,
    answered_45       BIGINT NOT NULL,
    answered_60       BIGINT NOT NULL,
    answered_90       BIGINT NOT NULL,
    answered_120      BIGINT NOT NULL,
    answer_wait_secs  BIGINT NOT NULL,
    longest_wait_secs BIGINT NOT NULL,
    abandoned         BIGINT NOT NULL,
    abandoned_3       BIGINT NOT NULL,
    abandoned_5       BIGINT NOT NULL,
    abandoned_10      BIGINT NOT NULL,
    ended             BIGINT NOT NULL,
    talk_secs         BIGINT NOT NULL,
    PRIMARY KEY (hour, queue)
);

-- Seconds per day, agent, state and reason (periods split at midnight).
CREATE TABLE rollup_agent_states (
    day    BIGINT NOT NULL,
    agent  TEXT   NOT NULL,
    state  TEXT   NOT NULL,
    reason TEXT   NOT NULL,
    secs   BIGINT NOT NULL,
    PRIMARY KEY (day, agent, state, reason)
);

-- Survey answers per day, agent, queue and score.
CREATE TABLE rollup_surveys (
    day     BIGINT  NOT NULL,
    agent   TEXT    NOT NULL,
    queue   TEXT    NOT NULL,
    score   INTEGER NOT NULL,
    answers BIGINT  NOT NULL,
    PRIMARY KEY (day, agent, queue, score)
);
