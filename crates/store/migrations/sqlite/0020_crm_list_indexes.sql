-- The first page of every contact and ticket tab at a million contacts
-- (issue 16's benchmark): one index per tab whose leading columns are the
-- tab's condition and order, followed by the columns the data scope and the
-- other tab conditions test, so that a page and its capped count read only
-- the index (no table row per skipped entry). They replace the narrower
-- indexes that made the planner scan a million rows for a sparse tab.
DROP INDEX contacts_owner;
DROP INDEX contacts_voided_updated;
DROP INDEX contacts_voided_created;
DROP INDEX contacts_call_failed;
DROP INDEX contacts_appointment;
CREATE INDEX contacts_tab_updated ON contacts (voided, updated_at, id, sharing, owner_id);
CREATE INDEX contacts_tab_owner ON contacts (owner_id, voided, updated_at, id, sharing);
CREATE INDEX contacts_tab_created ON contacts (voided, created_at, id, sharing, owner_id);
CREATE INDEX contacts_tab_appointment ON contacts (appointment_at, id, voided, sharing, owner_id);
CREATE INDEX contacts_tab_failed ON contacts (call_failed_at, id, voided, sharing, owner_id);

DROP INDEX tickets_status;
DROP INDEX tickets_assignee;
DROP INDEX tickets_requester;
DROP INDEX tickets_updated;
CREATE INDEX tickets_tab_updated ON tickets (updated_at, id, status, requester_id, assignee_id);
CREATE INDEX tickets_tab_status ON tickets (status, updated_at, id, requester_id, assignee_id);
CREATE INDEX tickets_tab_assignee ON tickets (assignee_id, updated_at, id, status, requester_id);
CREATE INDEX tickets_tab_requester ON tickets (requester_id, updated_at, id, status, assignee_id);
-- A title search reads this narrow copy of the searched and filtered
-- columns instead of whole ticket rows (bodies can be long).
CREATE INDEX tickets_search ON tickets (title, phone_norm, status, requester_id, assignee_id, category_id, priority, updated_at);

DROP INDEX customers_owner;
DROP INDEX customers_updated;
DROP INDEX customers_type;
CREATE INDEX customers_tab_updated ON customers (updated_at, id, sharing, owner_id, customer_type, kind, created_at);
CREATE INDEX customers_tab_type ON customers (customer_type, updated_at, id, sharing, owner_id, kind, created_at);
