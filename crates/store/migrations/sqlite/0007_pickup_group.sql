-- Call pickup groups: a phone in a group may pick up (*8) a call ringing at
-- another extension of the same group. Empty: in no group.
ALTER TABLE extensions ADD COLUMN pickup_group TEXT NOT NULL DEFAULT '';
