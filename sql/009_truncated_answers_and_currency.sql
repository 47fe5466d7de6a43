-- Whether an answer stopped at its max_tokens (rather than where the engine would have ended it),
-- so that a cut answer never reads as complete. And the currency of a plan's price.

ALTER TABLE ai.generations ADD COLUMN truncated boolean NOT NULL DEFAULT false;

ALTER TABLE billing.plans ADD COLUMN currency text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$');
