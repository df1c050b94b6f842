-- The CRM's contacts and customers (FEATURES C4-C5, the manual's chapters
-- 4 and 5): contact categories and projects (4.1.1, 4.1.2), customers
-- (5.1, enterprise or personal, the seven types of 5.2) and contacts
-- (4.1.3), each linked to at most one customer.
--
-- As the earlier migrations: booleans as INTEGER 0/1, timestamps as BIGINT
-- unix milliseconds, no FOREIGN KEY clauses (the store keeps references
-- consistent). Phone numbers are kept as typed and normalised beside
-- (callcenter::crm::normalize_number; '' when empty): the screen pop looks
-- a caller up by the normalised columns, each indexed.

CREATE TABLE contact_categories (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);

CREATE TABLE contact_projects (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);

CREATE TABLE customers (
    id            INTEGER NOT NULL PRIMARY KEY,
    -- 'personal' or 'enterprise'
    kind          TEXT    NOT NULL DEFAULT 'personal',
    name          TEXT    NOT NULL,
    phone         TEXT    NOT NULL DEFAULT '',
    phone_norm    TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    province      TEXT    NOT NULL DEFAULT '',
    city          TEXT    NOT NULL DEFAULT '',
    address       TEXT    NOT NULL DEFAULT '',
    -- normal, vip, old, agent, supplier, partner, other
    customer_type TEXT    NOT NULL DEFAULT 'normal',
    -- free choices of the form (客户级别, 客户来源, 成熟度, 行业, 客户状态)
    level         TEXT    NOT NULL DEFAULT '',
    source        TEXT    NOT NULL DEFAULT '',
    maturity      TEXT    NOT NULL DEFAULT '',
    industry      TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT '',
    description   TEXT    NOT NULL DEFAULT '',
    -- 'private' (the owner and those whose data scope covers the owner) or 'everyone'
    sharing       TEXT    NOT NULL DEFAULT 'private',
    -- the owner (所有者), a user id; NULL: nobody's
    owner_id      BIGINT,
    creator_id    BIGINT,
    -- 获得时间
    acquired_at   BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX customers_phone_norm ON customers (phone_norm);
CREATE INDEX customers_owner ON customers (owner_id, updated_at);
CREATE INDEX customers_created ON customers (created_at);
CREATE INDEX customers_updated ON customers (updated_at);
-- The name search is a prefix search (a surname, a company's first word).
CREATE INDEX customers_name ON customers (name);
CREATE INDEX customers_type ON customers (customer_type, updated_at);

CREATE TABLE contacts (
    id               INTEGER NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL,
    -- unknown, male, female
    gender           TEXT    NOT NULL DEFAULT 'unknown',
    -- YYYY-MM-DD or ''
    birthday         TEXT    NOT NULL DEFAULT '',
    mobile           TEXT    NOT NULL DEFAULT '',
    mobile_norm      TEXT    NOT NULL DEFAULT '',
    -- landline (座机电话)
    phone            TEXT    NOT NULL DEFAULT '',
    phone_norm       TEXT    NOT NULL DEFAULT '',
    email            TEXT    NOT NULL DEFAULT '',
    wechat           TEXT    NOT NULL DEFAULT '',
    city             TEXT    NOT NULL DEFAULT '',
    address          TEXT    NOT NULL DEFAULT '',
    category_id      BIGINT,
    project_id       BIGINT,
    customer_id      BIGINT,
    -- 业务状态, free text of the form
    business_status  TEXT    NOT NULL DEFAULT '',
    remarks          TEXT    NOT NULL DEFAULT '',
    sharing          TEXT    NOT NULL DEFAULT 'private',
    -- the current handler (当前处理人); NULL: unassigned (未分配)
    owner_id         BIGINT,
    creator_id       BIGINT,
    -- 1: voided (已作废)
    voided           INTEGER NOT NULL DEFAULT 0,
    -- a callback time (预约) and its note; NULL: none
    appointment_at   BIGINT,
    appointment_note TEXT    NOT NULL DEFAULT '',
    -- when a call to the contact last failed (拨打失败); NULL: never
    call_failed_at   BIGINT,
    acquired_at      BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX contacts_mobile_norm ON contacts (mobile_norm);
CREATE INDEX contacts_phone_norm ON contacts (phone_norm);
CREATE INDEX contacts_owner ON contacts (owner_id, updated_at);
-- The tabs: newest change first, or newest first since a time, voided apart.
CREATE INDEX contacts_voided_updated ON contacts (voided, updated_at);
CREATE INDEX contacts_voided_created ON contacts (voided, created_at);
CREATE INDEX contacts_call_failed ON contacts (call_failed_at);
CREATE INDEX contacts_name ON contacts (name);
CREATE INDEX contacts_customer ON contacts (customer_id);
CREATE INDEX contacts_appointment ON contacts (appointment_at);
