-- Extension types and flags (FEATURES T4, the manual's extension form):
-- what a number does (direct: ring its phones; ivr / queue / robot: the
-- named menu, queue or robot answers) and the per-extension switches.
-- Booleans as INTEGER 0/1 like `enabled`, so both engines decode them alike.
ALTER TABLE extensions ADD COLUMN kind TEXT NOT NULL DEFAULT 'direct';
ALTER TABLE extensions ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE extensions ADD COLUMN announce_agent_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN allow_outbound INTEGER NOT NULL DEFAULT 1;
ALTER TABLE extensions ADD COLUMN record INTEGER NOT NULL DEFAULT 0;
ALTER TABLE extensions ADD COLUMN after_call_work INTEGER NOT NULL DEFAULT 0;
-- off / all (every call) / queue (queue offers only)
ALTER TABLE extensions ADD COLUMN auto_answer TEXT NOT NULL DEFAULT 'off';
