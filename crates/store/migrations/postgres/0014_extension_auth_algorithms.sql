-- Per-extension digest algorithms (twin of
-- migrations/sqlite/0014_extension_auth_algorithms.sql).
ALTER TABLE extensions ADD COLUMN auth_algorithms TEXT COLLATE "C" NOT NULL DEFAULT '';
