-- A binding's Contact header parameters (twin of
-- migrations/sqlite/0013_registration_params.sql).
ALTER TABLE registrations ADD COLUMN params TEXT COLLATE "C" NOT NULL DEFAULT '';
