-- docsd keeps its answers to the reads users make most (a document, the first page of the list) in
-- memory (issue 33's benchmark). Every committed change that could alter one notifies the channel
-- `docs_changed` with "<owner id> <document id>", so that every docsd instance drops what it kept of
-- that document and of its owner's list. A trigger, not the code that writes: no write path can
-- forget it, and a rolled-back change notifies nothing. A share given or taken back changes what its
-- user may read; its owner is looked up, and when the document itself is being deleted it is gone
-- already (empty), and the document's own notification says it all.
CREATE FUNCTION docs.notify_document_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
    owner text;
    document text;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    IF TG_TABLE_NAME = 'documents' THEN
        owner := changed.owner_id::text;
        document := changed.id::text;
    ELSE
        owner := coalesce((SELECT owner_id::text FROM docs.documents WHERE id = changed.document_id), '');
        document := changed.document_id::text;
    END IF;
    PERFORM pg_notify('docs_changed', owner || ' ' || document);
    RETURN NULL;
END
$$;
ALTER FUNCTION docs.notify_document_changed() OWNER TO skillup_docs;
CREATE TRIGGER documents_changed AFTER INSERT OR UPDATE OR DELETE ON docs.documents
    FOR EACH ROW EXECUTE FUNCTION docs.notify_document_changed();
CREATE TRIGGER shares_changed AFTER INSERT OR UPDATE OR DELETE ON docs.shares
    FOR EACH ROW EXECUTE FUNCTION docs.notify_document_changed();
