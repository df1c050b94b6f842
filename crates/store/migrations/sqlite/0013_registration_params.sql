-- A binding's Contact header parameters as the phone sent them
-- (";+sip.instance=\"<urn:uuid:...>\";reg-id=1"), without expires: the 200 OK
-- to REGISTER gives them back, also after a restart. Empty when none.
ALTER TABLE registrations ADD COLUMN params TEXT NOT NULL DEFAULT '';
