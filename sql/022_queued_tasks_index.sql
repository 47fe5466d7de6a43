-- genworker reports the age of the oldest task waiting in a queue (its metric
-- skillup_task_oldest_queued_age_seconds, behind the queue-age alert). A partial index keeps that
-- read to the few rows waiting, however long the history grows.
CREATE INDEX generations_queued_since ON ai.generations (created_at) WHERE status = 'queued';
