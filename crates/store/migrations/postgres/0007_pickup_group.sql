-- Call pickup groups (twin of migrations/sqlite/0007_pickup_group.sql).
ALTER TABLE extensions ADD COLUMN pickup_group TEXT COLLATE "C" NOT NULL DEFAULT '';
