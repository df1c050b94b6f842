-- Tickets (the manual's chapter 6, FEATURES C6) and the knowledge base
-- (chapter 7, C7).
--
-- As the earlier migrations: booleans as INTEGER 0/1, timestamps as BIGINT
-- unix milliseconds, no FOREIGN KEY clauses (the store keeps references
-- consistent).

-- Ticket types (工单分类, 6.2.6): 咨询, 投诉...
CREATE TABLE ticket_categories (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE tickets (
    id             INTEGER NOT NULL PRIMARY KEY,
    title          TEXT    NOT NULL,
    -- rich text as sanitised HTML (the store accepts only what the
    -- sanitiser lets through)
    body           TEXT    NOT NULL DEFAULT '',
    contact_id     BIGINT,
    -- 工单发起人: a user
    requester_id   BIGINT,
    -- 受理部门 / 受理人; NULL assignee: unassigned (未分配)
    department_id  BIGINT,
    assignee_id    BIGINT,
    -- new (未受理), replied (已回复), closed (已关闭), reopened (再追问)
    status         TEXT    NOT NULL DEFAULT 'new',
    category_id    BIGINT,
    -- low, medium, high, urgent
    priority       TEXT    NOT NULL DEFAULT 'medium',
    -- comma-separated
    tags           TEXT    NOT NULL DEFAULT '',
    -- the number the ticket is about (the contact's, or the caller's of the
    -- call it was opened from), as typed and normalised for the screen pop
    phone          TEXT    NOT NULL DEFAULT '',
    phone_norm     TEXT    NOT NULL DEFAULT '',
    -- the call it was opened from (cdrs.call_id), '' for none
    call_id        TEXT    NOT NULL DEFAULT '',
    due_at         BIGINT,
    -- 1 once the overdue notice went out (sent once per due time)
    overdue_sent   INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    closed_at      BIGINT
);
CREATE INDEX tickets_status ON tickets (status, updated_at);
CREATE INDEX tickets_assignee ON tickets (assignee_id, status, updated_at);
CREATE INDEX tickets_requester ON tickets (requester_id, updated_at);
CREATE INDEX tickets_updated ON tickets (updated_at);
CREATE INDEX tickets_phone_norm ON tickets (phone_norm);
CREATE INDEX tickets_contact ON tickets (contact_id);
CREATE INDEX tickets_due ON tickets (due_at);

-- 关注的工单: who follows which ticket.
CREATE TABLE ticket_followers (
    ticket_id  BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_followers_user ON ticket_followers (user_id);

-- 回复记录: public replies and private notes (only agents see them).
CREATE TABLE ticket_replies (
    id          INTEGER NOT NULL PRIMARY KEY,
    ticket_id   BIGINT  NOT NULL,
    author_id   BIGINT,
    body        TEXT    NOT NULL,
    private     INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX ticket_replies_ticket ON ticket_replies (ticket_id, id);

-- 变更记录: every change of a field, by whom and when.
CREATE TABLE ticket_changes (
    id          INTEGER NOT NULL PRIMARY KEY,
    ticket_id   BIGINT  NOT NULL,
    user_id     BIGINT,
    field       TEXT    NOT NULL,
    old_value   TEXT    NOT NULL DEFAULT '',
    new_value   TEXT    NOT NULL DEFAULT '',
    changed_at  BIGINT  NOT NULL
);
CREATE INDEX ticket_changes_ticket ON ticket_changes (ticket_id, id);

-- Attachments: the bytes are a file in the data dir (attachments/), named
-- by the store; here what the user called it and what it holds.
CREATE TABLE ticket_attachments (
    id            INTEGER NOT NULL PRIMARY KEY,
    ticket_id     BIGINT  NOT NULL,
    file_name     TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          BIGINT  NOT NULL,
    sha256        TEXT    NOT NULL,
    stored_name   TEXT    NOT NULL UNIQUE,
    uploaded_by   BIGINT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id, id);

-- Knowledge base categories (7.1.1).
CREATE TABLE kb_categories (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);

-- Articles (7.1.2): title, validity window (有效期), similar questions
-- (类似问题, one per line), hot flag (热点问题) and the answer (回复内容).
CREATE TABLE kb_articles (
    id           INTEGER NOT NULL PRIMARY KEY,
    category_id  BIGINT,
    title        TEXT    NOT NULL,
    questions    TEXT    NOT NULL DEFAULT '',
    body         TEXT    NOT NULL DEFAULT '',
    valid_from   BIGINT,
    valid_to     BIGINT,
    hot          INTEGER NOT NULL DEFAULT 0,
    creator_id   BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX kb_articles_category ON kb_articles (category_id, hot, updated_at);
CREATE INDEX kb_articles_updated ON kb_articles (hot, updated_at);

-- The search index (7.2): each article's terms (callcenter::kb::terms:
-- Chinese in overlapping pairs, English words) with a weight (a title's
-- term counts most, then a similar question's, then the answer's), the
-- same on both backends.
CREATE TABLE kb_terms (
    term        TEXT    NOT NULL,
    article_id  BIGINT  NOT NULL,
    weight      INTEGER NOT NULL,
    PRIMARY KEY (term, article_id)
);
CREATE INDEX kb_terms_article ON kb_terms (article_id);

-- A ticket opened from a call names the call (its call_uid, or its SIP
-- Call-ID): the ticket page finds the CDR and its recording by it.
CREATE INDEX cdrs_call_id ON cdrs (call_id);

-- 1 once the owner was reminded of the contact's appointment (once per
-- appointment time: a new time reminds again).
ALTER TABLE contacts ADD COLUMN appointment_sent INTEGER NOT NULL DEFAULT 0;
CREATE INDEX contacts_appointment_due ON contacts (appointment_sent, appointment_at);
