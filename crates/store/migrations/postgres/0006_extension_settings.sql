-- Extension types and flags (twin of migrations/sqlite/0006_extension_settings.sql).
ALTER TABLE extensions ADD COLUMN kind TEXT COLLATE "C" NOT NULL DEFAULT 'direct';
ALTER TABLE extensions ADD COLUMN target TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN announce_agent_id BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE extensions ADD COLUMN allow_outbound BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE extensions ADD COLUMN record BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE extensions ADD COLUMN after_call_work BOOLEAN NOT NULL DEFAULT FALSE;
-- off / all (every call) / queue (queue offers only)
ALTER TABLE extensions ADD COLUMN auto_answer TEXT COLLATE "C" NOT NULL DEFAULT 'off';
