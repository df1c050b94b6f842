-- Outbound campaigns, first part (issue 18; the manual's 8.1.1, 8.1.2,
-- 8.2.1, 8.2.2): batches of numbers with their own fields, the rows
-- imported into them, the import records, filter forms and filter runs.
--
-- As the earlier migrations: booleans as INTEGER 0/1, timestamps as BIGINT
-- unix milliseconds, no FOREIGN KEY clauses (the store keeps references
-- consistent). The internal do-not-call list is the voice list 'dnc'
-- (voice_lists), no table of its own.

CREATE TABLE campaign_batches (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- temporary (临时批次), planned (计划批次), external (外部批次)
    kind        TEXT    NOT NULL DEFAULT 'temporary',
    description TEXT    NOT NULL DEFAULT '',
    -- the department that owns it (its users see it); NULL: nobody's
    department_id BIGINT,
    created_by  BIGINT,
    -- the number of the next generated field key (f1, f2, ...): keys are
    -- never reused, so a row's values never meet a later field's key
    next_field  INTEGER NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX campaign_batches_department ON campaign_batches (department_id);

CREATE TABLE campaign_fields (
    batch_id        BIGINT  NOT NULL,
    -- generated, stable: f1, f2, ...
    key             TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    -- text, number, date, datetime
    data_type       TEXT    NOT NULL DEFAULT 'text',
    -- 1: the phone field (exactly one before data is imported)
    is_phone        INTEGER NOT NULL DEFAULT 0,
    -- text, choice (单选框)
    style           TEXT    NOT NULL DEFAULT 'text',
    -- a system dictionary's name; '' none
    dictionary      TEXT    NOT NULL DEFAULT '',
    required        INTEGER NOT NULL DEFAULT 0,
    -- comma-separated: list, add, edit, detail
    positions       TEXT    NOT NULL DEFAULT 'list,add,edit,detail',
    -- 1: left out of imports and exports (禁用导入导出)
    io_disabled     INTEGER NOT NULL DEFAULT 0,
    position        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, key)
);

CREATE TABLE campaign_imports (
    id          INTEGER NOT NULL PRIMARY KEY,
    batch_id    BIGINT  NOT NULL,
    -- <batch>_<YYYY-MM-DD HH:MM:SS>
    title       TEXT    NOT NULL,
    imported    BIGINT  NOT NULL DEFAULT 0,
    -- rows skipped: a bad number, one already in the batch or the file,
    -- one on the do-not-call list
    invalid     BIGINT  NOT NULL DEFAULT 0,
    duplicate   BIGINT  NOT NULL DEFAULT 0,
    dnc         BIGINT  NOT NULL DEFAULT 0,
    created_by  BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX campaign_imports_batch ON campaign_imports (batch_id, created_at);
CREATE INDEX campaign_imports_created ON campaign_imports (created_at);

CREATE TABLE campaign_rows (
    id             INTEGER NOT NULL PRIMARY KEY,
    batch_id       BIGINT  NOT NULL,
    -- the number, cleaned (callcenter::campaign::clean_phone)
    phone          TEXT    NOT NULL,
    -- the other fields' values, a JSON object keyed by field key
    data           TEXT    NOT NULL DEFAULT '{}',
    import_id      BIGINT,
    -- unassigned, assigned, dialing, succeeded, failed, abnormal, voided,
    -- recalled (callcenter::campaign::ROW_STATES)
    state          TEXT    NOT NULL DEFAULT 'unassigned',
    activity_id    BIGINT,
    -- who holds it: an agent's extension, a department id, a queue, a robot
    assignee       TEXT,
    -- agent, department, queue, robot
    assignee_kind  TEXT,
    dial_count     INTEGER NOT NULL DEFAULT 0,
    fail_count     INTEGER NOT NULL DEFAULT 0,
    preview_count  INTEGER NOT NULL DEFAULT 0,
    appointment_at BIGINT,
    last_result    TEXT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX campaign_rows_batch_state ON campaign_rows (batch_id, state);
CREATE INDEX campaign_rows_batch_phone ON campaign_rows (batch_id, phone);
CREATE INDEX campaign_rows_import ON campaign_rows (import_id);
CREATE INDEX campaign_rows_activity ON campaign_rows (activity_id, state);

CREATE TABLE campaign_filters (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    -- batch (批次筛选), business (业务筛选)
    kind        TEXT    NOT NULL DEFAULT 'batch',
    batch_id    BIGINT  NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    -- JSON list of callcenter::campaign::filter::Condition
    conditions  TEXT    NOT NULL DEFAULT '[]',
    created_by  BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX campaign_filters_batch ON campaign_filters (batch_id);

-- One extraction of a filter by an activity (8.2.2 筛选记录).
CREATE TABLE campaign_filter_runs (
    id                      INTEGER NOT NULL PRIMARY KEY,
    filter_id               BIGINT  NOT NULL,
    batch_id                BIGINT  NOT NULL,
    activity_id             BIGINT,
    -- <filter>_<YYYY-MM-DD HH:MM:SS>
    name                    TEXT    NOT NULL,
    matched                 BIGINT  NOT NULL DEFAULT 0,
    to_agents               BIGINT  NOT NULL DEFAULT 0,
    to_departments          BIGINT  NOT NULL DEFAULT 0,
    to_robots               BIGINT  NOT NULL DEFAULT 0,
    to_queues               BIGINT  NOT NULL DEFAULT 0,
    unassigned              BIGINT  NOT NULL DEFAULT 0,
    recalled                BIGINT  NOT NULL DEFAULT 0,
    recalled_to_departments BIGINT  NOT NULL DEFAULT 0,
    created_at              BIGINT  NOT NULL
);
CREATE INDEX campaign_filter_runs_filter ON campaign_filter_runs (filter_id, created_at);
CREATE INDEX campaign_filter_runs_created ON campaign_filter_runs (created_at);
