-- Subscription plans: the seed data every environment starts with. Limits are per calendar month
-- unless named per minute; the gateway's per-tier rate limits mirror requests_per_minute.
CREATE TABLE billing.plans (
    code                 text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    title                text NOT NULL,
    price_cents          integer NOT NULL CHECK (price_cents >= 0),
    requests_per_minute  integer NOT NULL CHECK (requests_per_minute > 0),
    generations_per_month integer NOT NULL CHECK (generations_per_month >= 0),
    features             text[] NOT NULL DEFAULT '{}'
);
ALTER TABLE billing.plans OWNER TO skillup_billing;

INSERT INTO billing.plans (code, title, price_cents, requests_per_minute, generations_per_month, features) VALUES
    ('free', 'Free', 0, 30, 50, ARRAY['generate.short']),
    ('pro', 'Pro', 1900, 300, 2000, ARRAY['generate.short', 'generate.long']),
    ('team', 'Team', 7900, 1200, 10000, ARRAY['generate.short', 'generate.long', 'team.seats'])
ON CONFLICT (code) DO NOTHING;
