-- One schema and one login role per service; no service can read another's schema.
-- Roles are cluster-wide, so they are created only when missing (another database may have made them).
DO $$
DECLARE
    service text;
BEGIN
    FOREACH service IN ARRAY ARRAY['auth', 'billing', 'ai'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'skillup_' || service) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', 'skillup_' || service);
        END IF;
    END LOOP;
END
$$;

CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION skillup_auth;
CREATE SCHEMA IF NOT EXISTS billing AUTHORIZATION skillup_billing;
CREATE SCHEMA IF NOT EXISTS ai AUTHORIZATION skillup_ai;

-- Nothing in public for anyone but the migrating owner.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA auth FROM PUBLIC;
REVOKE ALL ON SCHEMA billing FROM PUBLIC;
REVOKE ALL ON SCHEMA ai FROM PUBLIC;

ALTER ROLE skillup_auth SET search_path = auth;
ALTER ROLE skillup_billing SET search_path = billing;
ALTER ROLE skillup_ai SET search_path = ai;
