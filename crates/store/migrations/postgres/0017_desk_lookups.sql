-- What the agent desk looks up (screen pop, "my figures today"); twin of
-- migrations/sqlite/0017_desk_lookups.sql.
--
-- A number's calls, newest first: the caller and callee indexes gain the
-- start time, so "the 10 newest calls of N" and "its calls of the last 90
-- days" read one range of each index instead of every row of the number and
-- a sort (an extension or a busy customer has many). Same names: the
-- one-column indexes are prefixes of these and go.
DROP INDEX cdrs_caller;
DROP INDEX cdrs_callee;
CREATE INDEX cdrs_caller ON cdrs (caller, start_at);
CREATE INDEX cdrs_callee ON cdrs (callee, start_at);

-- An agent's queue events of the day (offers, answers, ends): without it
-- the figures of one agent read every queue's events since midnight.
CREATE INDEX queue_events_agent_at ON queue_events (agent, at);
