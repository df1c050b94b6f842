-- The digest algorithms an extension's phones are challenged with, most
-- preferred first, comma-separated ("SHA-256", "SHA-256,MD5"); empty: the
-- server's sip.auth_algorithms (MD5 by default, which every softphone answers).
ALTER TABLE extensions ADD COLUMN auth_algorithms TEXT NOT NULL DEFAULT '';
