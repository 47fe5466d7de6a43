import Cryptography
import Foundation
import PostgresClient

/// authd's PostgreSQL tables (schema `auth`, sql/003): the truth for accounts, sessions, refresh
/// tokens, API keys and security events. Every statement is parameterized.
struct PostgresAccountStore: AccountStore {
    let postgres: PostgresClient

    init(postgres: PostgresClient) {
        self.postgres = postgres
    }

    /// A timestamp column as RFC 3339 UTC text, for JSON answers.
    static func iso(_ column: StaticString) -> SQL {
        SQL(unsafeRaw: "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    }

    private static let userColumns: SQL = "id::text AS id, email, password_hash, scopes, blocked"
    /// The same, from `auth.users u` in a join.
    private static let joinedUserColumns: SQL = "u.id::text AS id, u.email, u.password_hash, u.scopes, u.blocked"

    private static func user(_ row: PostgresRow) throws -> UserRecord {
        UserRecord(
            id: try row.decode("id"), email: try row.decode("email"), passwordHash: try row.decode("password_hash"),
            scopes: Scopes.parse(try row.decode("scopes", as: String.self)) ?? [], blocked: try row.decode("blocked"))
    }

    /// Creates an account; nil when the normalized email is taken.
    func createUser(email: String, normalizedEmail: String, passwordHash: String, scopes: [String]) async throws -> String? {
        let rows = try await postgres.query(
            "INSERT INTO auth.users (email, email_normalized, password_hash, scopes) VALUES ($1, $2, $3, $4) ON CONFLICT (email_normalized) DO NOTHING RETURNING id::text",
            [.text(email), .text(normalizedEmail), .text(passwordHash), .text(scopes.joined(separator: " "))])
        return try rows.first?.decode(at: 0)
    }

    func user(normalizedEmail: String) async throws -> UserRecord? {
        let rows = try await postgres.query("SELECT \(Self.userColumns) FROM auth.users WHERE email_normalized = $1", [.text(normalizedEmail)])
        return try rows.first.map(Self.user)
    }

    func user(id: String) async throws -> UserRecord? {
        let rows = try await postgres.query("SELECT \(Self.userColumns) FROM auth.users WHERE id = $1::uuid", [.text(id)])
        return try rows.first.map(Self.user)
    }

    /// Opens a session with its first refresh token.
    func createSession(userID: String, refreshDigest: [UInt8], lifetime: TimeInterval, userAgent: String?, clientIP: String?) async throws -> String {
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query(
                "INSERT INTO auth.sessions (user_id, expires_at, user_agent, client_ip) VALUES ($1::uuid, now() + $2 * interval '1 second', $3, $4) RETURNING id::text",
                [.text(userID), .double(lifetime), .text(userAgent.map { String($0.prefix(200)) }), .text(clientIP)])
            let sessionID: String = try rows[0].decode(at: 0)
            try await transaction.query(
                "INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2::uuid, now() + $3 * interval '1 second')",
                [.bytes(refreshDigest), .text(sessionID), .double(lifetime)])
            return sessionID
        }
    }

    /// A refresh token as it stands, read without a lock: the rotation's first step, so that the new
    /// access token can be recorded in Redis before any row is locked.
    func refreshToken(digest: [UInt8]) async throws -> RefreshTokenState? {
        try await postgres.query(Self.refreshTokenQuery, [.bytes(digest)]).first.map(Self.refreshTokenState)
    }

    /// A refresh token, its session's state and its owner; `$1` is the token's digest.
    private static let refreshTokenQuery: SQL = """
        SELECT t.session_id::text AS session_id, t.used_at IS NOT NULL AS used, t.expires_at > now() AND s.revoked_at IS NULL AS live,
               \(joinedUserColumns)
        FROM auth.refresh_tokens t JOIN auth.sessions s ON s.id = t.session_id JOIN auth.users u ON u.id = s.user_id
        WHERE t.token_hash = $1
        """

    private static func refreshTokenState(_ row: PostgresRow) throws -> RefreshTokenState {
        RefreshTokenState(sessionID: try row.decode("session_id"), used: try row.decode("used"), live: try row.decode("live"), user: try user(row))
    }

    /// Revokes session `$1` because a spent refresh token came back.
    private static let reuseRevocation: SQL =
        "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'refresh_reuse' WHERE id = $1::uuid AND revoked_at IS NULL"

    /// Spends a refresh token and stores its successor, in one short transaction that locks the
    /// token's and the session's rows and calls no other server: two concurrent uses of one token
    /// cannot both succeed (the second is a reuse). It spends the token only if it is still as
    /// `expected` (unused, live, same session, the owner's scopes unchanged and not blocked).
    func spendRefreshToken(digest: [UInt8], successor: [UInt8], lifetime: TimeInterval, expected: RefreshTokenState) async throws -> RotationResult {
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query("\(Self.refreshTokenQuery) FOR UPDATE OF t, s", [.bytes(digest)])
            guard let now = try rows.first.map(Self.refreshTokenState) else { return .invalid }
            if now.used {
                try await transaction.query(Self.reuseRevocation, [.text(now.sessionID)])
                return .reused(sessionID: now.sessionID, userID: now.user.id)
            }
            guard now.live, now.sessionID == expected.sessionID else { return .invalid }
            guard !now.user.blocked else { return .blocked }
            guard now.user.scopes == expected.user.scopes else { return .changed }
            try await transaction.query("UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1", [.bytes(digest)])
            try await transaction.query(
                "INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2::uuid, now() + $3 * interval '1 second')",
                [.bytes(successor), .text(now.sessionID), .double(lifetime)])
            try await transaction.query(
                "UPDATE auth.sessions SET last_used_at = now(), expires_at = now() + $2 * interval '1 second' WHERE id = $1::uuid",
                [.text(now.sessionID), .double(lifetime)])
            return .spent
        }
    }

    /// Marks a session revoked because a spent refresh token came back.
    func revokeSessionForReuse(_ sessionID: String) async throws {
        try await postgres.query(Self.reuseRevocation, [.text(sessionID)])
    }

    /// Marks one of the user's sessions revoked: true when this call revoked it, false when it
    /// already was, nil when the user has no such session.
    func revokeSession(_ sessionID: String, userID: String, reason: String) async throws -> Bool? {
        let rows = try await postgres.query(
            """
            UPDATE auth.sessions s SET revoked_at = coalesce(s.revoked_at, now()), revoked_reason = coalesce(s.revoked_reason, $3)
            FROM (SELECT id, revoked_at IS NULL AS live FROM auth.sessions WHERE id = $1::uuid AND user_id = $2::uuid) AS before
            WHERE s.id = before.id RETURNING before.live
            """,
            [.text(sessionID), .text(userID), .text(reason)])
        return try rows.first?.decode(at: 0)
    }

    func activeSessionIDs(userID: String, keeping: String?) async throws -> [String] {
        let rows = try await postgres.query(
            "SELECT id::text FROM auth.sessions WHERE user_id = $1::uuid AND revoked_at IS NULL AND id IS DISTINCT FROM $2::uuid",
            [.text(userID), .text(keeping)])
        return try rows.map { try $0.decode(at: 0) }
    }

    /// Revokes every active session of the user except `keeping`; returns the revoked ids.
    func revokeSessions(userID: String, keeping: String?, reason: String) async throws -> [String] {
        let rows = try await postgres.query(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $3 WHERE user_id = $1::uuid AND revoked_at IS NULL AND id IS DISTINCT FROM $2::uuid RETURNING id::text",
            [.text(userID), .text(keeping), .text(reason)])
        return try rows.map { try $0.decode(at: 0) }
    }

    func activeSessions(userID: String) async throws -> [SessionSummary] {
        let rows = try await postgres.query(
            """
            SELECT id::text AS id, \(Self.iso("created_at")) AS created_at, \(Self.iso("last_used_at")) AS last_used_at,
                   \(Self.iso("expires_at")) AS expires_at, user_agent, client_ip
            FROM auth.sessions WHERE user_id = $1::uuid AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC
            """, [.text(userID)])
        return try rows.map { row in
            SessionSummary(
                id: try row.decode("id"), created_at: try row.decode("created_at"), last_used_at: try row.decode("last_used_at"),
                expires_at: try row.decode("expires_at"), user_agent: try row.decode("user_agent"), client_ip: try row.decode("client_ip"))
        }
    }

    func updatePassword(userID: String, passwordHash: String) async throws {
        try await postgres.query(
            "UPDATE auth.users SET password_hash = $2, password_changed_at = now() WHERE id = $1::uuid", [.text(userID), .text(passwordHash)])
    }

    /// Sets the blocked flag of the account with this email; returns its id, nil when there is none.
    func setBlocked(normalizedEmail: String, _ blocked: Bool) async throws -> String? {
        let rows = try await postgres.query(
            "UPDATE auth.users SET blocked = $2 WHERE email_normalized = $1 RETURNING id::text", [.text(normalizedEmail), .bool(blocked)])
        return try rows.first?.decode(at: 0)
    }

    private static let summaryQuery: SQL = """
        SELECT u.id::text, coalesce(u.email, 'telegram:' || (SELECT t.telegram_id FROM auth.telegram_accounts t WHERE t.user_id = u.id)), \(iso("u.created_at")), u.blocked, u.scopes,
               (SELECT count(*) FROM auth.sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > now())::int8,
               (SELECT count(*) FROM auth.api_keys k WHERE k.user_id = u.id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))::int8
        FROM auth.users u
        """

    private static func summary(_ row: PostgresRow) throws -> AccountSummary {
        AccountSummary(
            id: try row.decode(at: 0), email: try row.decode(at: 1), createdAt: try row.decode(at: 2), blocked: try row.decode(at: 3),
            scopes: (try row.decode(at: 4) as String).split(separator: " ").map(String.init),
            activeSessions: try row.decode(at: 5), liveAPIKeys: try row.decode(at: 6))
    }

    func summary(normalizedEmail: String) async throws -> AccountSummary? {
        try await postgres.query("\(Self.summaryQuery) WHERE u.email_normalized = $1", [.text(normalizedEmail)]).first.map(Self.summary)
    }

    /// Up to `limit` accounts whose email contains `filter`, in email order, after `after`.
    func summaries(filter: String?, after: String?, limit: Int) async throws -> [AccountSummary] {
        let rows = try await postgres.query(
            """
            \(Self.summaryQuery)
            WHERE ($1::text IS NULL OR strpos(u.email_normalized, lower($1)) > 0) AND ($2::text IS NULL OR u.email_normalized > lower($2))
            ORDER BY u.email_normalized LIMIT $3
            """, [.text(filter), .text(after), .int(limit)])
        return try rows.map(Self.summary)
    }

    /// Replaces the account's scopes; returns its id, nil when there is none.
    func setScopes(normalizedEmail: String, scopes: [String]) async throws -> String? {
        let rows = try await postgres.query(
            "UPDATE auth.users SET scopes = $2 WHERE email_normalized = $1 RETURNING id::text", [.text(normalizedEmail), .text(scopes.joined(separator: " "))])
        return try rows.first?.decode(at: 0)
    }

    /// Records a new key; nil when the user already has `limit` live keys.
    func createAPIKey(
        userID: String, name: String, digest: [UInt8], prefix: String, scopes: [String], dailyLimit: Int64?, lifetime: TimeInterval, limit: Int,
        team: TeamKeyGrant?
    ) async throws -> APIKeyCreation {
        try await postgres.withTransaction { transaction in
            // One key creation per owner at a time, so two at once cannot both pass the count: the
            // user's lock, or the team's, under which a member's removal revokes their keys, so
            // that no key is made for someone on their way out.
            if let team {
                try await Self.lockTeam(transaction, team.teamID)
                let maker = try await transaction.query(
                    "SELECT role FROM auth.team_members WHERE team_id = $1::uuid AND user_id = $2::uuid", [.text(team.teamID), .text(userID)])
                guard let role = try maker.first.flatMap({ try Self.optionalRole($0, at: 0) }), role.mayMakeKey(of: team.role) else { return .notAllowed }
            } else {
                try await transaction.query("SELECT pg_advisory_xact_lock(hashtext('auth.api_keys ' || $1))", [.text(userID)])
            }
            let rows = try await transaction.query(
                """
                INSERT INTO auth.api_keys (user_id, name, key_hash, key_prefix, scopes, expires_at, daily_limit_micros, team_id, team_role)
                SELECT $1::uuid, $2, $3, $4, $5, now() + $6 * interval '1 second', $8::bigint, $9::uuid, $10
                WHERE (SELECT count(*) FROM auth.api_keys
                       WHERE revoked_at IS NULL AND expires_at > now()
                         AND CASE WHEN $9::uuid IS NULL THEN user_id = $1::uuid AND team_id IS NULL ELSE team_id = $9::uuid END) < $7
                RETURNING id::text, extract(epoch FROM expires_at)::float8
                """,
                [
                    .text(userID), .text(name), .bytes(digest), .text(prefix), .text(scopes.joined(separator: " ")), .double(lifetime), .int(limit),
                    .int(dailyLimit.map { Int($0) }), .text(team?.teamID), .text(team?.role.rawValue),
                ])
            guard let row = rows.first else { return .tooMany }
            let id: String = try row.decode(at: 0)
            if let team {
                try await Self.audit(
                    transaction, team: team.teamID, actor: userID, action: "api_key_created", subject: id, detail: "\(team.role.rawValue) \(name)")
            }
            return .created(id: id, expiresAt: Date(timeIntervalSince1970: try row.decode(at: 1)))
        }
    }

    /// Revokes every live key of the user; returns their ids and digests (hex).
    func revokeAPIKeys(userID: String) async throws -> [(id: String, digestHex: String)] {
        let rows = try await postgres.query(
            """
            WITH revoked AS (
                UPDATE auth.api_keys SET revoked_at = now() WHERE user_id = $1::uuid AND revoked_at IS NULL RETURNING id, team_id, key_hash, name),
            audited AS (
                INSERT INTO auth.team_audit (team_id, actor, action, subject, detail)
                SELECT team_id, $1::uuid, 'api_key_revoked', id::text, name || ' (with every key its maker made)' FROM revoked WHERE team_id IS NOT NULL)
            SELECT id::text, encode(key_hash, 'hex') FROM revoked
            """, [.text(userID)])
        return try rows.map { (try $0.decode(at: 0), try $0.decode(at: 1)) }
    }

    /// The ids and digests (hex) of the user's live keys.
    func liveAPIKeys(userID: String) async throws -> [(id: String, digestHex: String)] {
        let rows = try await postgres.query(
            "SELECT id::text, encode(key_hash, 'hex') FROM auth.api_keys WHERE user_id = $1::uuid AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
            [.text(userID)])
        return try rows.map { (try $0.decode(at: 0), try $0.decode(at: 1)) }
    }

    /// Revokes the user's oldest live sessions beyond the newest `keep`; returns the revoked ids.
    func revokeSessionsBeyond(_ keep: Int, userID: String) async throws -> [String] {
        let rows = try await postgres.query(
            """
            UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'session_limit'
            WHERE id IN (SELECT id FROM auth.sessions WHERE user_id = $1::uuid AND revoked_at IS NULL AND expires_at > now()
                         ORDER BY created_at DESC OFFSET $2)
            RETURNING id::text
            """, [.text(userID), .int(keep)])
        return try rows.map { try $0.decode(at: 0) }
    }

    func apiKeys(userID: String) async throws -> [APIKeySummary] {
        let rows = try await postgres.query(
            """
            SELECT id::text AS id, name, key_prefix, scopes, \(Self.iso("created_at")) AS created_at,
                   \(Self.iso("expires_at")) AS expires_at, \(Self.iso("last_used_at")) AS last_used_at, daily_limit_micros
            FROM auth.api_keys WHERE user_id = $1::uuid AND team_id IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            ORDER BY created_at DESC
            """, [.text(userID)])
        return try rows.map { row in
            APIKeySummary(
                id: try row.decode("id"), name: try row.decode("name"), prefix: try row.decode("key_prefix"),
                scopes: Scopes.parse(try row.decode("scopes", as: String.self)) ?? [], created_at: try row.decode("created_at"),
                expires_at: try row.decode("expires_at"), last_used_at: try row.decode("last_used_at"),
                daily_limit_micros: try row.decode("daily_limit_micros", as: Int?.self).map { Int64($0) })
        }
    }

    /// Revokes one of the user's keys (again, if it already was: a retry after a Redis failure must
    /// reach Redis too); returns its digest (hex), nil when it is not theirs.
    func revokeAPIKey(id: String, userID: String) async throws -> String? {
        let rows = try await postgres.query(
            "UPDATE auth.api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1::uuid AND user_id = $2::uuid AND team_id IS NULL RETURNING encode(key_hash, 'hex')",
            [.text(id), .text(userID)])
        return try rows.first?.decode(at: 0)
    }

    func setAPIKeyDailyLimit(id: String, userID: String, dailyLimit: Int64?) async throws -> String? {
        let rows = try await postgres.query(
            """
            UPDATE auth.api_keys SET daily_limit_micros = $3::bigint
            WHERE id = $1::uuid AND user_id = $2::uuid AND team_id IS NULL AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            RETURNING encode(key_hash, 'hex')
            """, [.text(id), .text(userID), .int(dailyLimit.map { Int($0) })])
        return try rows.first?.decode(at: 0)
    }

    func activeAPIKey(digestHex: String, now: Date) async throws -> APIKeyRecord? {
        let rows = try await postgres.query(
            """
            SELECT k.user_id::text, k.id::text, k.scopes, extract(epoch FROM k.expires_at)::float8, u.blocked, u.scopes, k.daily_limit_micros,
                   k.team_id::text
            FROM auth.api_keys k JOIN auth.users u ON u.id = k.user_id
            WHERE k.key_hash = decode($1, 'hex') AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
            """, [.text(digestHex)])
        guard let row = rows.first else { return nil }
        let expiresAt: Double? = try row.decode(at: 3)
        return APIKeyRecord(
            userID: try row.decode(at: 0), keyID: try row.decode(at: 1),
            scopes: Scopes.parse(try row.decode(at: 2, as: String.self)) ?? [], expiresAt: expiresAt.map(Date.init(timeIntervalSince1970:)),
            ownerBlocked: try row.decode(at: 4), ownerScopes: Scopes.parse(try row.decode(at: 5, as: String.self)) ?? [],
            dailyLimit: try row.decode(at: 6, as: Int?.self).map { Int64($0) }, teamID: try row.decode(at: 7))
    }

    /// The secret that seals API-key records in Redis (see ``RecordSeal``): `candidate` is stored
    /// when there is none yet; whichever instance came first, every one reads the same row.
    func recordSealSecret(candidate: String) async throws -> String {
        try await postgres.query("INSERT INTO auth.record_seal (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", [.text(candidate)])
        guard let secret: String = try await postgres.query("SELECT secret FROM auth.record_seal WHERE id = 1").first?.decode(at: 0) else {
            throw UnexpectedRow(message: "auth.record_seal has no row after inserting one")
        }
        return secret
    }

    func recordEvent(_ event: SecurityEvent) async throws {
        try await postgres.query(
            "INSERT INTO auth.security_events (kind, user_id, session_id, client_ip, request_id, detail) VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6)",
            [.text(event.kind.rawValue), .text(event.userID), .text(event.sessionID), .text(event.clientIP), .text(event.requestID), .text(event.detail)])
    }
}

struct UnexpectedRow: Error, CustomStringConvertible {
    let message: String
    var description: String { "unexpected PostgreSQL answer: \(message)" }
}

extension PostgresAccountStore {
    func user(telegramID: Int64) async throws -> UserRecord? {
        let rows = try await postgres.query(
            "SELECT \(Self.joinedUserColumns) FROM auth.telegram_accounts t JOIN auth.users u ON u.id = t.user_id WHERE t.telegram_id = $1",
            [.int(Int(telegramID))])
        return try rows.first.map(Self.user)
    }

    /// The account and its link in one transaction: when a concurrent sign-in linked the same
    /// Telegram user first, the link's insert finds it and the new account is rolled back.
    func createTelegramUser(_ telegram: TelegramUser, scopes: [String]) async throws -> String? {
        do {
            return try await postgres.withTransaction { transaction in
                let userID: String = try await transaction.query(
                    "INSERT INTO auth.users (scopes) VALUES ($1) RETURNING id::text", [.text(scopes.joined(separator: " "))])[0].decode(at: 0)
                let linked = try await transaction.query(
                    """
                    INSERT INTO auth.telegram_accounts (telegram_id, user_id, username, first_name, language_code)
                    VALUES ($1, $2::uuid, $3, $4, $5) ON CONFLICT (telegram_id) DO NOTHING RETURNING user_id
                    """, Self.telegramParameters(telegram, userID: userID))
                guard !linked.isEmpty else { throw TelegramLinkRace() }
                return userID
            }
        } catch is TelegramLinkRace {
            return nil
        }
    }

    private struct TelegramLinkRace: Error {}

    private static func telegramParameters(_ telegram: TelegramUser, userID: String) -> [PostgresValue] {
        [.int(Int(telegram.id)), .text(userID), .text(telegram.username), .text(String(telegram.firstName.prefix(200))), .text(telegram.languageCode)]
    }

    /// Under the user's row lock, so that two links for one user at once cannot both pass the check.
    func linkTelegram(_ telegram: TelegramUser, userID: String) async throws -> TelegramLinkResult {
        try await postgres.withTransaction { transaction in
            let current = try await transaction.query(
                """
                SELECT (SELECT telegram_id FROM auth.telegram_accounts WHERE user_id = u.id) FROM auth.users u WHERE u.id = $1::uuid FOR UPDATE
                """, [.text(userID)])
            if let linked = try current.first?.decode(at: 0) as Int?, Int64(linked) != telegram.id { return .userHasAnother }
            let rows = try await transaction.query(
                """
                INSERT INTO auth.telegram_accounts (telegram_id, user_id, username, first_name, language_code) VALUES ($1, $2::uuid, $3, $4, $5)
                ON CONFLICT (telegram_id) DO UPDATE SET username = EXCLUDED.username, first_name = EXCLUDED.first_name,
                    language_code = EXCLUDED.language_code
                WHERE auth.telegram_accounts.user_id = EXCLUDED.user_id
                RETURNING user_id
                """, Self.telegramParameters(telegram, userID: userID))
            return rows.isEmpty ? .linkedElsewhere : .linked
        }
    }

    func unlinkTelegram(userID: String) async throws -> TelegramUnlinkResult {
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query(
                """
                SELECT t.telegram_id, u.password_hash IS NOT NULL FROM auth.telegram_accounts t JOIN auth.users u ON u.id = t.user_id
                WHERE t.user_id = $1::uuid FOR UPDATE OF t
                """, [.text(userID)])
            guard let row = rows.first else { return .notLinked }
            guard try row.decode(at: 1) as Bool else { return .onlySignInMethod }
            try await transaction.query("DELETE FROM auth.telegram_accounts WHERE user_id = $1::uuid", [.text(userID)])
            return .unlinked(telegramID: Int64(try row.decode(at: 0) as Int))
        }
    }

    func linkedTelegram(userID: String) async throws -> LinkedTelegram? {
        try await postgres.query("SELECT telegram_id, username FROM auth.telegram_accounts WHERE user_id = $1::uuid", [.text(userID)]).first.map {
            LinkedTelegram(id: Int64(try $0.decode(at: 0) as Int), username: try $0.decode(at: 1))
        }
    }

    /// Expired uses go in the same statement, so the table holds at most `telegram.max-age` of sign-ins.
    func claimInitData(digest: [UInt8], until: Date) async throws -> Bool {
        let rows = try await postgres.query(
            """
            WITH expired AS (DELETE FROM auth.telegram_init_data_uses WHERE expires_at < now())
            INSERT INTO auth.telegram_init_data_uses (digest, expires_at) VALUES ($1, to_timestamp($2))
            ON CONFLICT (digest) DO NOTHING RETURNING 1
            """, [.bytes(digest), .double(until.timeIntervalSince1970)])
        return !rows.isEmpty
    }

    /// The newest live session of that name, used again; a new one (with a refresh token no one is
    /// given) when there is none. Two callers at once may each make one; both work.
    func namedSession(userID: String, name: String, lifetime: TimeInterval) async throws -> String {
        let rows = try await postgres.query(
            """
            UPDATE auth.sessions SET last_used_at = now(), expires_at = now() + $3 * interval '1 second'
            WHERE id = (SELECT id FROM auth.sessions WHERE user_id = $1::uuid AND user_agent = $2 AND revoked_at IS NULL AND expires_at > now()
                        ORDER BY created_at DESC LIMIT 1)
            RETURNING id::text
            """, [.text(userID), .text(name), .double(lifetime)])
        if let id: String = try rows.first?.decode(at: 0) { return id }
        return try await createSession(userID: userID, refreshDigest: try SecureRandom.bytes(count: 32), lifetime: lifetime, userAgent: name, clientIP: nil)
    }
}
