-- Web sign-in and permissions (FEATURES C1, the manual's chapter 2 and 3.1):
-- users, roles and their grants, departments (a tree) and their grants,
-- memberships, browser sessions and API tokens.
--
-- Portable SQL as in the earlier migrations: INTEGER/BIGINT/TEXT columns,
-- booleans as INTEGER 0/1, timestamps as BIGINT unix milliseconds, ids
-- `INTEGER ... PRIMARY KEY` (BIGSERIAL in the future PostgreSQL set) never
-- named on insert. No FOREIGN KEY clauses: the store keeps references
-- consistent itself (deleting a role deletes its grants and memberships in
-- the same transaction, and so on).

CREATE TABLE users (
    id                   INTEGER NOT NULL PRIMARY KEY,
    -- the sign-in name
    username             TEXT    NOT NULL UNIQUE,
    name                 TEXT    NOT NULL DEFAULT '',
    email                TEXT    NOT NULL DEFAULT '',
    mobile               TEXT    NOT NULL DEFAULT '',
    -- argon2id, PHC string format ($argon2id$v=19$...)
    password_hash        TEXT    NOT NULL,
    -- 1: the user must choose a new password before anything else
    must_change_password INTEGER NOT NULL DEFAULT 0,
    -- administrators have every permission
    is_admin             INTEGER NOT NULL DEFAULT 0,
    -- call-center agent (呼叫中心坐席) and multimedia agent (多媒体坐席)
    is_agent             INTEGER NOT NULL DEFAULT 0,
    is_multimedia_agent  INTEGER NOT NULL DEFAULT 0,
    -- the extension the user works at; '' for none
    extension            TEXT    NOT NULL DEFAULT '',
    enabled              INTEGER NOT NULL DEFAULT 1,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL
);

CREATE TABLE roles (
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- A permission is the text `resource:action` (e.g. `system.users:edit`); the
-- catalog of valid ones lives in the web crate.
CREATE TABLE role_grants (
    role_id    BIGINT NOT NULL,
    permission TEXT   NOT NULL,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE departments (
    id         INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    -- NULL for a top-level department; never forms a cycle (the store checks)
    parent_id  BIGINT,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE INDEX departments_parent_id ON departments (parent_id);

CREATE TABLE department_grants (
    department_id BIGINT NOT NULL,
    permission    TEXT   NOT NULL,
    PRIMARY KEY (department_id, permission)
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL,
    role_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, role_id)
);

CREATE INDEX user_roles_role_id ON user_roles (role_id);

CREATE TABLE user_departments (
    user_id       BIGINT NOT NULL,
    department_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, department_id)
);

CREATE INDEX user_departments_department_id ON user_departments (department_id);

-- Browser sessions. `id` is the SHA-256 (hex) of the random token in the
-- cookie, so reading this table does not give anyone a usable session.
CREATE TABLE sessions (
    id           TEXT   NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    -- synchronizer token every state-changing form must echo
    csrf_token   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- absolute expiry, whatever the activity
    expires_at   BIGINT NOT NULL,
    ip           TEXT   NOT NULL DEFAULT '',
    user_agent   TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_id ON sessions (user_id);

-- Per-user API tokens (`Authorization: Bearer ...`), stored as the SHA-256
-- (hex) of the token, which is shown once when created.
CREATE TABLE api_tokens (
    id           INTEGER NOT NULL PRIMARY KEY,
    user_id      BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    -- NULL until first used
    last_used_at BIGINT
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- The default administrator of the manual (admin / 123456). The hash is
-- argon2id of "123456"; must_change_password forces a new password at the
-- first sign-in, so the well-known one never stays usable.
INSERT INTO users (username, name, password_hash, must_change_password, is_admin,
                   created_at, updated_at)
VALUES ('admin', 'Administrator', '$argon2id$v=19$m=19456,t=2,p=1$ihKK7K0TTK6uO/+nlO1v2w$vBVlEkSgfbupxQsemAJTVLW7O0LA8lnhvII9J2LL2ds', 1, 1, 0, 0);
