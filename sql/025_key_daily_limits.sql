-- An API key may carry a spending limit per UTC day on the developers' API (/v1), in micro-units of
-- USD (1 USD = 1,000,000): authd hands it to nginx with the key's identity (X-Key-Daily-Limit), and
-- subscribed refuses a hold that would take the key's holds and charges of the day past it.
ALTER TABLE auth.api_keys ADD COLUMN daily_limit_micros bigint CHECK (daily_limit_micros BETWEEN 1 AND 1000000000000);
