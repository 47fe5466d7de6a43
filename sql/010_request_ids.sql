-- The request id (nginx's X-Request-Id) a generation was asked with, so that a task's steps in
-- genworker's log and its events carry the id of the request that made it.

ALTER TABLE ai.generations ADD COLUMN request_id text CHECK (length(request_id) BETWEEN 1 AND 64);
