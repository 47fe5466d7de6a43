import Foundation
import PostgresClient
import ServiceKit

/// docsd's tables (schema `docs`, sql/016). Every statement is parameterized; every one that names
/// a user keeps to what that user may see.
struct PostgresDocumentStore: DocumentStore {
    let postgres: PostgresClient

    private static let columns: SQL = """
        d.id::text AS id, d.owner_id::text AS owner_id, d.title, d.body, d.kind, d.source_generation_id::text AS source_generation_id, d.version,
        (extract(epoch FROM d.created_at) * 1000000)::int8 AS created_micros, extract(epoch FROM d.updated_at)::float8 AS updated_at,
        extract(epoch FROM d.deleted_at)::float8 AS deleted_at
        """

    private static let listingColumns: SQL = """
        d.id::text AS id, d.owner_id::text AS owner_id, d.title, d.kind, d.version, octet_length(d.body) AS bytes,
        (extract(epoch FROM d.created_at) * 1000000)::int8 AS created_micros, extract(epoch FROM d.updated_at)::float8 AS updated_at,
        (extract(epoch FROM d.deleted_at) * 1000000)::int8 AS deleted_micros
        """

    private static func listing(_ row: PostgresRow) throws -> DocumentListing {
        DocumentListing(
            id: try row.decode("id"), ownerID: try row.decode("owner_id"), title: try row.decode("title"), kind: try row.decode("kind"),
            version: try row.decode("version"), createdMicros: try row.decode("created_micros"),
            updatedAt: Date(timeIntervalSince1970: try row.decode("updated_at")),
            deletedMicros: try row.decode("deleted_micros"), bytes: try row.decode("bytes"))
    }

    private static func document(_ row: PostgresRow) throws -> Document {
        Document(
            id: try row.decode("id"), ownerID: try row.decode("owner_id"), title: try row.decode("title"), body: try row.decode("body"),
            kind: try row.decode("kind"), sourceGenerationID: try row.decode("source_generation_id"), version: try row.decode("version"),
            createdMicros: try row.decode("created_micros"), updatedAt: Date(timeIntervalSince1970: try row.decode("updated_at")),
            deletedAt: (try row.decode("deleted_at", as: Double?.self)).map(Date.init(timeIntervalSince1970:)))
    }

    func create(_ new: NewDocument, limit: Int) async throws -> Document? {
        try await postgres.withTransaction { transaction in
            // One creation per owner at a time: the count and the insert see the same documents.
            try await transaction.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 33))", [.text(new.ownerID)])
            let made = try await transaction.query(
                "SELECT \(Self.columns) FROM docs.documents d WHERE d.id = $1::uuid AND d.owner_id = $2::uuid", [.text(new.id), .text(new.ownerID)])
            if let row = made.first { return try Self.document(row) }
            let kept: Int = try await transaction.query(
                "SELECT count(*)::int8 FROM docs.documents WHERE owner_id = $1::uuid AND deleted_at IS NULL", [.text(new.ownerID)])[0].decode(at: 0)
            guard kept < limit else { return nil }
            let rows = try await transaction.query(
                """
                WITH made AS (
                    INSERT INTO docs.documents AS d (id, owner_id, title, body, kind, source_generation_id, version)
                    VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::uuid, 1) RETURNING d.*
                ), first AS (
                    INSERT INTO docs.versions (document_id, version, title, body, saved_by) SELECT id, 1, title, body, owner_id FROM made
                )
                SELECT \(Self.columns) FROM made d
                """,
                [.text(new.id), .text(new.ownerID), .text(new.title), .text(new.body), .text(new.kind), new.sourceGenerationID.map { .text($0) } ?? .null])
            return try Self.document(rows[0])
        }
    }

    func document(id: String, userID: String) async throws -> (Document, DocumentAccess)? {
        let rows = try await postgres.query(
            """
            SELECT \(Self.columns), CASE WHEN d.owner_id = $2::uuid THEN 'owner' ELSE s.access END AS access
            FROM docs.documents d LEFT JOIN docs.shares s ON s.document_id = d.id AND s.user_id = $2::uuid
            WHERE d.id = $1::uuid AND (d.owner_id = $2::uuid OR (s.user_id IS NOT NULL AND d.deleted_at IS NULL))
            """, [.text(id), .text(userID)])
        guard let row = rows.first, let access = DocumentAccess(rawValue: try row.decode("access")) else { return nil }
        return (try Self.document(row), access)
    }

    /// Each filter is in the statement only when asked for, so that every variant keeps a plan of
    /// its own that uses its index (the statements are prepared, and a generic plan cannot drop a
    /// `$n IS NULL OR ...` branch).
    func documents(ownerID: String, limit: Int, after cursor: PageCursor?, query: String?) async throws -> [DocumentListing] {
        var binds: [PostgresValue] = [.text(ownerID), .int(limit)] + Self.binds(cursor)
        var filters: SQL = cursor == nil ? "" : Self.after("d.created_at")
        if let query {
            binds.append(.text(query))
            // A placeholder's number, not a value: the query itself is a parameter.
            let placeholder = SQL(unsafeRaw: "$\(binds.count)::text")
            filters = "\(filters) AND d.search @@ (websearch_to_tsquery('russian', \(placeholder)) || websearch_to_tsquery('english', \(placeholder)))"
        }
        return try await postgres.query(
            """
            SELECT \(Self.listingColumns) FROM docs.documents d
            WHERE d.owner_id = $1::uuid AND d.deleted_at IS NULL \(filters)
            ORDER BY d.created_at DESC, d.id DESC LIMIT $2
            """, binds
        ).map(Self.listing)
    }

    /// The row-wise comparison that continues a page: `column` and the id before the cursor's.
    private static func after(_ column: SQL) -> SQL {
        "AND (\(column), d.id) < (timestamptz 'epoch' + $3::int8 * interval '1 microsecond', $4::uuid)"
    }

    func trash(ownerID: String, limit: Int, after cursor: PageCursor?) async throws -> [DocumentListing] {
        let filter: SQL = cursor == nil ? "" : Self.after("d.deleted_at")
        return try await postgres.query(
            """
            SELECT \(Self.listingColumns) FROM docs.documents d WHERE d.owner_id = $1::uuid AND d.deleted_at IS NOT NULL \(filter)
            ORDER BY d.deleted_at DESC, d.id DESC LIMIT $2
            """, [.text(ownerID), .int(limit)] + Self.binds(cursor)
        ).map(Self.listing)
    }

    func sharedWith(userID: String, limit: Int, after cursor: PageCursor?) async throws -> [(DocumentListing, DocumentAccess)] {
        let filter: SQL = cursor == nil ? "" : Self.after("d.created_at")
        return try await postgres.query(
            """
            SELECT \(Self.listingColumns), s.access FROM docs.shares s JOIN docs.documents d ON d.id = s.document_id
            WHERE s.user_id = $1::uuid AND d.deleted_at IS NULL \(filter) ORDER BY d.created_at DESC, d.id DESC LIMIT $2
            """, [.text(userID), .int(limit)] + Self.binds(cursor)
        ).map { (try Self.listing($0), DocumentAccess(rawValue: try $0.decode("access")) ?? .read) }
    }

    private static func binds(_ cursor: PageCursor?) -> [PostgresValue] {
        cursor.map { [.int($0.micros), .text($0.id)] } ?? []
    }

    func update(id: String, userID: String, expected: Int, title: String, body: String) async throws -> UpdateOutcome {
        try await postgres.withTransaction { transaction in
            let found = try await transaction.query(
                """
                SELECT \(Self.columns), CASE WHEN d.owner_id = $2::uuid THEN 'owner' ELSE s.access END AS access
                FROM docs.documents d LEFT JOIN docs.shares s ON s.document_id = d.id AND s.user_id = $2::uuid
                WHERE d.id = $1::uuid AND (d.owner_id = $2::uuid OR s.user_id IS NOT NULL) FOR UPDATE OF d
                """, [.text(id), .text(userID)])
            guard let row = found.first, let access = DocumentAccess(rawValue: try row.decode("access")) else { return .notFound }
            let current = try Self.document(row)
            if current.deletedAt != nil { return access == .owner ? .inTrash : .notFound }
            guard access != .read else { return .readOnly }
            guard current.version == expected else { return .stale(current: current.version) }
            let rows = try await transaction.query(
                """
                WITH saved AS (
                    UPDATE docs.documents d SET title = $2, body = $3, version = d.version + 1, updated_at = now() WHERE d.id = $1::uuid RETURNING d.*
                ), kept AS (
                    INSERT INTO docs.versions (document_id, version, title, body, saved_by) SELECT id, version, title, body, $4::uuid FROM saved
                )
                SELECT \(Self.columns) FROM saved d
                """, [.text(id), .text(title), .text(body), .text(userID)])
            let updated = try Self.document(rows[0])
            if access == .edit {
                try await transaction.query(
                    "SELECT docs.user_event('document.updated', $1::uuid, jsonb_build_object('document_id', $2::text, 'version', $3::text, 'by', $4::text))",
                    [.text(updated.ownerID), .text(updated.id), .text(String(updated.version)), .text(userID)])
            }
            return .updated(updated)
        }
    }

    func delete(id: String, ownerID: String, keep: Int) async throws -> Bool {
        try await postgres.withTransaction { transaction in
            let moved = try await transaction.query(
                "UPDATE docs.documents SET deleted_at = now() WHERE id = $1::uuid AND owner_id = $2::uuid AND deleted_at IS NULL RETURNING 1",
                [.text(id), .text(ownerID)])
            guard !moved.isEmpty else { return false }
            try await transaction.query("UPDATE docs.links SET revoked_at = now() WHERE document_id = $1::uuid AND revoked_at IS NULL", [.text(id)])
            try await transaction.query(
                """
                DELETE FROM docs.documents WHERE id IN (
                    SELECT id FROM docs.documents WHERE owner_id = $1::uuid AND deleted_at IS NOT NULL ORDER BY deleted_at DESC, id DESC OFFSET $2)
                """, [.text(ownerID), .int(keep)])
            return true
        }
    }

    func restore(id: String, ownerID: String, limit: Int) async throws -> RestoreOutcome {
        try await postgres.withTransaction { transaction in
            try await transaction.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 33))", [.text(ownerID)])
            let kept: Int = try await transaction.query(
                "SELECT count(*)::int8 FROM docs.documents WHERE owner_id = $1::uuid AND deleted_at IS NULL", [.text(ownerID)])[0].decode(at: 0)
            let rows = try await transaction.query(
                """
                UPDATE docs.documents d SET deleted_at = NULL WHERE d.id = $1::uuid AND d.owner_id = $2::uuid AND d.deleted_at IS NOT NULL AND $3::boolean
                RETURNING \(Self.columns)
                """, [.text(id), .text(ownerID), .bool(kept < limit)])
            if let row = rows.first { return .restored(try Self.document(row)) }
            let inTrash = try await transaction.query(
                "SELECT 1 FROM docs.documents WHERE id = $1::uuid AND owner_id = $2::uuid AND deleted_at IS NOT NULL", [.text(id), .text(ownerID)])
            return inTrash.isEmpty ? .notFound : .limitReached
        }
    }

    func versions(id: String, ownerID: String) async throws -> [VersionListing]? {
        let rows = try await postgres.query(
            """
            SELECT v.version, v.title, octet_length(v.body) AS bytes, v.saved_by::text AS saved_by, extract(epoch FROM v.saved_at)::float8 AS saved_at
            FROM docs.documents d JOIN docs.versions v ON v.document_id = d.id
            WHERE d.id = $1::uuid AND d.owner_id = $2::uuid ORDER BY v.version DESC
            """, [.text(id), .text(ownerID)])
        guard !rows.isEmpty else { return nil }
        return try rows.map {
            VersionListing(
                version: try $0.decode("version"), title: try $0.decode("title"), bytes: try $0.decode("bytes"), savedBy: try $0.decode("saved_by"),
                savedAt: Date(timeIntervalSince1970: try $0.decode("saved_at")))
        }
    }

    func version(_ number: Int, id: String, ownerID: String) async throws -> DocumentVersion? {
        try await postgres.query(
            """
            SELECT v.version, v.title, v.body, v.saved_by::text AS saved_by, extract(epoch FROM v.saved_at)::float8 AS saved_at
            FROM docs.documents d JOIN docs.versions v ON v.document_id = d.id
            WHERE d.id = $1::uuid AND d.owner_id = $2::uuid AND v.version = $3
            """, [.text(id), .text(ownerID), .int(number)]
        ).first.map {
            DocumentVersion(
                version: try $0.decode("version"), title: try $0.decode("title"), body: try $0.decode("body"), savedBy: try $0.decode("saved_by"),
                savedAt: Date(timeIntervalSince1970: try $0.decode("saved_at")))
        }
    }

    func purge(deletedBefore date: Date) async throws -> Int {
        try await postgres.query(
            "WITH gone AS (DELETE FROM docs.documents WHERE deleted_at < to_timestamp($1) RETURNING 1) SELECT count(*)::int8 FROM gone",
            [.double(date.timeIntervalSince1970)])[0].decode(at: 0)
    }

    private static let linkColumns: SQL = """
        l.id::text AS id, l.document_id::text AS document_id, l.access, extract(epoch FROM l.created_at)::float8 AS created_at,
        extract(epoch FROM l.expires_at)::float8 AS expires_at, extract(epoch FROM l.revoked_at)::float8 AS revoked_at
        """

    private static func link(_ row: PostgresRow) throws -> ShareLink {
        ShareLink(
            id: try row.decode("id"), documentID: try row.decode("document_id"), access: try row.decode("access"),
            createdAt: Date(timeIntervalSince1970: try row.decode("created_at")),
            expiresAt: (try row.decode("expires_at", as: Double?.self)).map(Date.init(timeIntervalSince1970:)),
            revokedAt: (try row.decode("revoked_at", as: Double?.self)).map(Date.init(timeIntervalSince1970:)))
    }

    func createLink(documentID: String, ownerID: String, tokenHash: [UInt8], expiresAt: Date?) async throws -> ShareLink? {
        let rows = try await postgres.query(
            """
            INSERT INTO docs.links AS l (id, document_id, token_hash, access, expires_at)
            SELECT gen_random_uuid(), d.id, $3, 'read', to_timestamp($4::float8) FROM docs.documents d
            WHERE d.id = $1::uuid AND d.owner_id = $2::uuid AND d.deleted_at IS NULL
            FOR SHARE OF d
            RETURNING \(Self.linkColumns)
            """, [.text(documentID), .text(ownerID), .bytes(tokenHash), expiresAt.map { .double($0.timeIntervalSince1970) } ?? .null])
        return try rows.first.map(Self.link)
    }

    func links(documentID: String, ownerID: String) async throws -> [ShareLink]? {
        guard try await owns(documentID: documentID, ownerID: ownerID) else { return nil }
        return try await postgres.query(
            "SELECT \(Self.linkColumns) FROM docs.links l WHERE l.document_id = $1::uuid ORDER BY l.created_at DESC, l.id", [.text(documentID)]
        ).map(Self.link)
    }

    func revokeLink(id: String, documentID: String, ownerID: String) async throws -> Bool {
        try await !postgres.query(
            """
            UPDATE docs.links l SET revoked_at = now() FROM docs.documents d
            WHERE l.id = $1::uuid AND l.document_id = $2::uuid AND d.id = l.document_id AND d.owner_id = $3::uuid AND l.revoked_at IS NULL
            RETURNING 1
            """, [.text(id), .text(documentID), .text(ownerID)]
        ).isEmpty
    }

    func linkedDocument(tokenHash: [UInt8]) async throws -> Document? {
        try await postgres.query(
            """
            SELECT \(Self.columns) FROM docs.links l JOIN docs.documents d ON d.id = l.document_id
            WHERE l.token_hash = $1 AND l.revoked_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > now()) AND d.deleted_at IS NULL
            """, [.bytes(tokenHash)]
        ).first.map(Self.document)
    }

    func share(documentID: String, ownerID: String, with userID: String, access: DocumentAccess) async throws -> Bool {
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query(
                """
                INSERT INTO docs.shares (document_id, user_id, access)
                SELECT d.id, $3::uuid, $4 FROM docs.documents d WHERE d.id = $1::uuid AND d.owner_id = $2::uuid AND d.deleted_at IS NULL
                ON CONFLICT (document_id, user_id) DO UPDATE SET access = EXCLUDED.access
                RETURNING 1
                """, [.text(documentID), .text(ownerID), .text(userID), .text(access.rawValue)])
            guard !rows.isEmpty else { return false }
            try await transaction.query(
                "SELECT docs.user_event('document.shared', $1::uuid, jsonb_build_object('document_id', $2::text, 'access', $3::text, 'by', $4::text))",
                [.text(userID), .text(documentID), .text(access.rawValue), .text(ownerID)])
            return true
        }
    }

    func shares(documentID: String, ownerID: String) async throws -> [(userID: String, access: DocumentAccess)]? {
        guard try await owns(documentID: documentID, ownerID: ownerID) else { return nil }
        return try await postgres.query(
            "SELECT user_id::text, access FROM docs.shares WHERE document_id = $1::uuid ORDER BY user_id", [.text(documentID)]
        ).map { (userID: try $0.decode(at: 0), access: DocumentAccess(rawValue: try $0.decode(at: 1)) ?? .read) }
    }

    func unshare(documentID: String, ownerID: String, userID: String) async throws -> Bool {
        try await !postgres.query(
            """
            DELETE FROM docs.shares s USING docs.documents d
            WHERE s.document_id = $1::uuid AND s.user_id = $3::uuid AND d.id = s.document_id AND d.owner_id = $2::uuid RETURNING 1
            """, [.text(documentID), .text(ownerID), .text(userID)]
        ).isEmpty
    }

    private func owns(documentID: String, ownerID: String) async throws -> Bool {
        try await !postgres.query("SELECT 1 FROM docs.documents WHERE id = $1::uuid AND owner_id = $2::uuid", [.text(documentID), .text(ownerID)]).isEmpty
    }

    func profile(userID: String) async throws -> Profile? {
        try await postgres.query("SELECT display_name, language, time_zone, max_tokens FROM docs.profiles WHERE user_id = $1::uuid", [.text(userID)])
            .first.map {
                Profile(
                    userID: userID, displayName: try $0.decode(at: 0), language: try $0.decode(at: 1), timeZone: try $0.decode(at: 2),
                    maxTokens: try $0.decode(at: 3), saved: true)
            }
    }

    func changeProfile(userID: String, _ change: @Sendable (inout Profile) throws -> Void) async throws -> Profile {
        try await postgres.withTransaction { transaction in
            let defaults = Profile.defaults(userID: userID)
            try await transaction.query(
                "INSERT INTO docs.profiles (user_id, language, time_zone) VALUES ($1::uuid, $2, $3) ON CONFLICT (user_id) DO NOTHING",
                [.text(userID), .text(defaults.language), .text(defaults.timeZone)])
            let row = try await transaction.query(
                "SELECT display_name, language, time_zone, max_tokens FROM docs.profiles WHERE user_id = $1::uuid FOR UPDATE", [.text(userID)])[0]
            var profile = Profile(
                userID: userID, displayName: try row.decode(at: 0), language: try row.decode(at: 1), timeZone: try row.decode(at: 2),
                maxTokens: try row.decode(at: 3), saved: true)
            try change(&profile)
            try await transaction.query(
                "UPDATE docs.profiles SET display_name = $2, language = $3, time_zone = $4, max_tokens = $5, updated_at = now() WHERE user_id = $1::uuid",
                [
                    .text(userID), profile.displayName.map { .text($0) } ?? .null, .text(profile.language), .text(profile.timeZone),
                    profile.maxTokens.map { .int($0) } ?? .null,
                ])
            return profile
        }
    }
}
