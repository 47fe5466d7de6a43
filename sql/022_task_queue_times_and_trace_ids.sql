-- When a task last went into a queue (accepted, put back after a failed attempt, or replayed):
-- genworker reports how long a task waited there (skillup_task_queue_wait_seconds) and the age of
-- the oldest one waiting (skillup_task_oldest_queued_age_seconds, behind the queue-age alert). A
-- partial index keeps that read to the few rows waiting, however long the history grows.
ALTER TABLE ai.generations ADD COLUMN queued_at timestamptz;
UPDATE ai.generations SET queued_at = created_at WHERE status = 'queued';
CREATE INDEX generations_queued_since ON ai.generations (queued_at) WHERE status = 'queued';

-- A generation keeps the W3C trace id of the request that asked for it (nginx/conf.d/tracing.conf):
-- genworker reads it with the task and carries the trace on, so that one trace id follows a task
-- from nginx's log to genworker's. Older rows have none.
ALTER TABLE ai.generations ADD COLUMN trace_id text;
