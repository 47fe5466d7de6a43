-- aid keeps users' profile defaults (the language and length a generation uses when the request
-- names neither) so that a generation costs no call to docsd for a user seen before. Every committed
-- change of a profile notifies `profiles_changed` with the user's id, and every aid instance drops
-- what it kept of that user. A trigger, not the code that writes: no write path can forget it, and
-- a rolled-back change notifies nothing.
CREATE FUNCTION docs.notify_profile_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('profiles_changed', OLD.user_id::text);
    ELSE
        PERFORM pg_notify('profiles_changed', NEW.user_id::text);
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION docs.notify_profile_changed() OWNER TO skillup_docs;
CREATE TRIGGER profiles_changed AFTER INSERT OR UPDATE OR DELETE ON docs.profiles
    FOR EACH ROW EXECUTE FUNCTION docs.notify_profile_changed();
