-- SRTP (SDES, RTP/SAVP) offered on calls out through a gateway.
ALTER TABLE gateways ADD COLUMN srtp BOOLEAN NOT NULL DEFAULT FALSE;
