-- Outbound activities (issue 18; the manual's 8.1.3): what an activity
-- extracts from a filter form and to whom it allocates the rows. Each
-- start allocates once and is recorded as a filter run (8.2.2), which is
-- also the activity's dial task (8.2.3, named after the activity); a row
-- names the run that allocated it.
--
-- As the earlier migrations: timestamps as BIGINT unix milliseconds, no
-- FOREIGN KEY clauses (the store keeps references consistent).

CREATE TABLE campaign_activities (
    id              INTEGER NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    -- preview (预览式外呼), predictive (预测式外呼), robot (机器人外呼)
    kind            TEXT    NOT NULL,
    filter_id       BIGINT  NOT NULL,
    -- the filter's batch, kept for the data scope
    batch_id        BIGINT  NOT NULL,
    -- 业务类型, 业务状态
    business_type   TEXT    NOT NULL DEFAULT '',
    business_status TEXT    NOT NULL DEFAULT '',
    -- 抽取数量: rows extracted per start
    extract_count   BIGINT  NOT NULL DEFAULT 0,
    -- 默认分配数: rows for a target that names no count
    default_count   BIGINT  NOT NULL DEFAULT 0,
    -- 名单分配: the share of the extracted rows allocated, percent
    share_pct       INTEGER NOT NULL DEFAULT 100,
    -- JSON list of callcenter::campaign::allocate::Target
    targets         TEXT    NOT NULL DEFAULT '[]',
    -- JSON object: the dialing settings (pacing, calling hours, gateway)
    settings        TEXT    NOT NULL DEFAULT '{}',
    -- draft, running, paused, stopped
    state           TEXT    NOT NULL DEFAULT 'draft',
    description     TEXT    NOT NULL DEFAULT '',
    created_by      BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    started_at      BIGINT
);
CREATE INDEX campaign_activities_filter ON campaign_activities (filter_id);
CREATE INDEX campaign_activities_batch ON campaign_activities (batch_id);

ALTER TABLE campaign_rows ADD COLUMN run_id BIGINT;
CREATE INDEX campaign_rows_run ON campaign_rows (run_id);
CREATE INDEX campaign_filter_runs_activity ON campaign_filter_runs (activity_id, created_at);
