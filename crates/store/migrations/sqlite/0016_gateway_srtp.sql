-- SRTP (SDES, RTP/SAVP) offered on calls out through a gateway.
ALTER TABLE gateways ADD COLUMN srtp INTEGER NOT NULL DEFAULT 0;
