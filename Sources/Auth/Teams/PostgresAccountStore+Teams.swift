import Foundation
import PostgresClient

/// Teams in PostgreSQL (sql/027). A change that depends on who holds which role (the last owner,
/// an admin and an owner) runs under the team's advisory lock, so two at once cannot both pass.
extension PostgresAccountStore {
    static func audit(
        _ transaction: PostgresTransaction, team: String, actor: String, action: String, subject: String?, detail: String = ""
    ) async throws {
        try await transaction.query(
            "INSERT INTO auth.team_audit (team_id, actor, action, subject, detail) VALUES ($1::uuid, $2::uuid, $3, $4, $5)",
            [.text(team), .text(actor), .text(action), .text(subject), .text(detail)])
    }

    static func lockTeam(_ transaction: PostgresTransaction, _ team: String) async throws {
        try await transaction.query("SELECT pg_advisory_xact_lock(hashtext('auth.team ' || $1))", [.text(team)])
    }

    func createTeam(name: String, ownerID: String, limit: Int) async throws -> TeamSummary? {
        try await postgres.withTransaction { transaction in
            try await transaction.query("SELECT pg_advisory_xact_lock(hashtext('auth.teams ' || $1))", [.text(ownerID)])
            let rows = try await transaction.query(
                """
                INSERT INTO auth.teams (name, created_by) SELECT $1, $2::uuid
                WHERE (SELECT count(*) FROM auth.teams WHERE created_by = $2::uuid) < $3
                RETURNING id::text, \(Self.iso("created_at"))
                """, [.text(name), .text(ownerID), .int(limit)])
            guard let row = rows.first else { return nil }
            let team = TeamSummary(id: try row.decode(at: 0), name: name, role: .owner, created_at: try row.decode(at: 1))
            let id = team.id
            try await transaction.query(
                "INSERT INTO auth.team_members (team_id, user_id, role) VALUES ($1::uuid, $2::uuid, 'owner')", [.text(id), .text(ownerID)])
            try await Self.audit(transaction, team: id, actor: ownerID, action: "team_created", subject: ownerID, detail: name)
            return team
        }
    }

    func teams(userID: String) async throws -> [TeamSummary] {
        let rows = try await postgres.query(
            """
            SELECT t.id::text, t.name, m.role, \(Self.iso("t.created_at"))
            FROM auth.team_members m JOIN auth.teams t ON t.id = m.team_id
            WHERE m.user_id = $1::uuid ORDER BY t.created_at, t.id
            """, [.text(userID)])
        return try rows.map { row in
            TeamSummary(id: try row.decode(at: 0), name: try row.decode(at: 1), role: try Self.role(row, at: 2), created_at: try row.decode(at: 3))
        }
    }

    func teamRole(teamID: String, userID: String) async throws -> TeamRole? {
        let rows = try await postgres.query(
            "SELECT role FROM auth.team_members WHERE team_id = $1::uuid AND user_id = $2::uuid", [.text(teamID), .text(userID)])
        return try rows.first.map { try Self.role($0, at: 0) }
    }

    func teamMembers(teamID: String) async throws -> [TeamMember] {
        let rows = try await postgres.query(
            """
            SELECT m.user_id::text, u.email, m.role, \(Self.iso("m.added_at"))
            FROM auth.team_members m JOIN auth.users u ON u.id = m.user_id
            WHERE m.team_id = $1::uuid ORDER BY m.added_at, m.user_id
            """, [.text(teamID)])
        return try rows.map { row in
            TeamMember(user_id: try row.decode(at: 0), email: try row.decode(at: 1), role: try Self.role(row, at: 2), added_at: try row.decode(at: 3))
        }
    }

    func changeTeamMember(teamID: String, userID: String, to role: TeamRole?, actor: String) async throws -> (MemberChange, revoked: [ChangedTeamKey]) {
        try await postgres.withTransaction { transaction in
            try await Self.lockTeam(transaction, teamID)
            let rows = try await transaction.query(
                """
                SELECT (SELECT role FROM auth.team_members WHERE team_id = $1::uuid AND user_id = $2::uuid),
                       (SELECT role FROM auth.team_members WHERE team_id = $1::uuid AND user_id = $3::uuid),
                       (SELECT count(*) FROM auth.team_members WHERE team_id = $1::uuid AND role = 'owner')
                """, [.text(teamID), .text(userID), .text(actor)])
            guard let row = rows.first, let current = try Self.optionalRole(row, at: 0) else { return (.noSuchMember, []) }
            let leaving = role == nil && actor == userID
            let decision = MemberChange.decide(
                current: current, to: role, actorRole: try Self.optionalRole(row, at: 1), leaving: leaving, owners: try row.decode(at: 2))
            guard decision == .changed, role != current else { return (decision, []) }
            if let role {
                try await transaction.query(
                    "UPDATE auth.team_members SET role = $3 WHERE team_id = $1::uuid AND user_id = $2::uuid",
                    [.text(teamID), .text(userID), .text(role.rawValue)])
                try await Self.audit(
                    transaction, team: teamID, actor: actor, action: "member_role_changed", subject: userID, detail: "\(current.rawValue) -> \(role.rawValue)")
            } else {
                try await transaction.query(
                    "DELETE FROM auth.team_members WHERE team_id = $1::uuid AND user_id = $2::uuid", [.text(teamID), .text(userID)])
                try await Self.audit(
                    transaction, team: teamID, actor: actor, action: leaving ? "member_left" : "member_removed", subject: userID, detail: current.rawValue)
            }
            // Their open invitations of roles the new role could not give (all, when they go) die
            // with it, so that none is accepted later in their name.
            let givable = role.map { new in TeamRole.allCases.filter(new.mayManage) } ?? []
            try await transaction.query(
                """
                WITH voided AS (
                    UPDATE auth.team_invitations SET revoked_at = now()
                    WHERE team_id = $1::uuid AND invited_by = $2::uuid AND accepted_at IS NULL AND revoked_at IS NULL
                      AND NOT (role = ANY(string_to_array($3, ' ')))
                    RETURNING id, email_normalized)
                INSERT INTO auth.team_audit (team_id, actor, action, subject, detail)
                SELECT $1::uuid, $4::uuid, 'invitation_revoked', id::text, email_normalized || ' (beyond its inviter''s role now)' FROM voided
                """, [.text(teamID), .text(userID), .text(givable.map(\.rawValue).joined(separator: " ")), .text(actor)])
            // Their keys that the new role could not make (all of them, when they go) go with it.
            let kept = role.map { new in TeamRole.allCases.filter { new.mayMakeKey(of: $0) } } ?? []
            let revoked = try await transaction.query(
                """
                WITH revoked AS (
                    UPDATE auth.api_keys SET revoked_at = now()
                    WHERE team_id = $1::uuid AND user_id = $2::uuid AND revoked_at IS NULL AND NOT (team_role = ANY(string_to_array($3, ' ')))
                    RETURNING id, key_hash, name, team_role),
                audited AS (
                    INSERT INTO auth.team_audit (team_id, actor, action, subject, detail)
                    SELECT $1::uuid, $4::uuid, 'api_key_revoked', id::text, name || ' (' || team_role || ', beyond its maker''s role now)' FROM revoked)
                SELECT id::text, encode(key_hash, 'hex') FROM revoked
                """, [.text(teamID), .text(userID), .text(kept.map(\.rawValue).joined(separator: " ")), .text(actor)])
            return (.changed, try revoked.map { ChangedTeamKey(id: try $0.decode(at: 0), digestHex: try $0.decode(at: 1), madeBy: userID) })
        }
    }

    func inviteToTeam(teamID: String, normalizedEmail: String, role: TeamRole, digest: [UInt8], lifetime: TimeInterval, actor: String) async throws
        -> TeamInvitation?
    {
        try await postgres.withTransaction { transaction in
            // Under the team's lock: the inviter's role as it is now, and one invitation per address at a time.
            try await Self.lockTeam(transaction, teamID)
            let inviter = try await transaction.query(
                "SELECT role FROM auth.team_members WHERE team_id = $1::uuid AND user_id = $2::uuid", [.text(teamID), .text(actor)])
            guard let actorRole = try inviter.first.flatMap({ try Self.optionalRole($0, at: 0) }), actorRole.mayManage(role) else { return nil }
            // The address's open invitation, if any, is replaced: its link dies, audited.
            try await transaction.query(
                """
                WITH replaced AS (
                    UPDATE auth.team_invitations SET revoked_at = now()
                    WHERE team_id = $1::uuid AND email_normalized = $2 AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id)
                INSERT INTO auth.team_audit (team_id, actor, action, subject, detail)
                SELECT $1::uuid, $3::uuid, 'invitation_revoked', id::text, 'replaced by a new invitation' FROM replaced
                """, [.text(teamID), .text(normalizedEmail), .text(actor)])
            let rows = try await transaction.query(
                """
                INSERT INTO auth.team_invitations (team_id, email_normalized, role, token_hash, invited_by, expires_at)
                VALUES ($1::uuid, $2, $3, $4, $5::uuid, now() + $6 * interval '1 second')
                RETURNING id::text, \(Self.iso("expires_at"))
                """, [.text(teamID), .text(normalizedEmail), .text(role.rawValue), .bytes(digest), .text(actor), .double(lifetime)])
            guard let row = rows.first else { throw UnexpectedRow(message: "INSERT INTO auth.team_invitations returned no row") }
            let invitation = TeamInvitation(
                id: try row.decode(at: 0), email: normalizedEmail, role: role, invited_by: actor, expires_at: try row.decode(at: 1))
            try await Self.audit(
                transaction, team: teamID, actor: actor, action: "invitation_created", subject: invitation.id, detail: "\(normalizedEmail) \(role.rawValue)")
            return invitation
        }
    }

    func teamInvitations(teamID: String) async throws -> [TeamInvitation] {
        let rows = try await postgres.query(
            """
            SELECT id::text, email_normalized, role, invited_by::text, \(Self.iso("expires_at"))
            FROM auth.team_invitations
            WHERE team_id = $1::uuid AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            ORDER BY created_at DESC
            """, [.text(teamID)])
        return try rows.map { row in
            TeamInvitation(
                id: try row.decode(at: 0), email: try row.decode(at: 1), role: try Self.role(row, at: 2), invited_by: try row.decode(at: 3),
                expires_at: try row.decode(at: 4))
        }
    }

    func revokeTeamInvitation(teamID: String, id: String, actor: String) async throws -> Bool {
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query(
                """
                UPDATE auth.team_invitations SET revoked_at = now()
                WHERE id = $1::uuid AND team_id = $2::uuid AND accepted_at IS NULL AND revoked_at IS NULL RETURNING email_normalized
                """, [.text(id), .text(teamID)])
            guard let email: String = try rows.first?.decode(at: 0) else { return false }
            try await Self.audit(transaction, team: teamID, actor: actor, action: "invitation_revoked", subject: id, detail: email)
            return true
        }
    }

    func acceptTeamInvitation(digest: [UInt8], userID: String, normalizedEmail: String?) async throws -> InvitationAcceptance {
        try await postgres.withTransaction { transaction in
            // The team's lock first, as every membership change takes it: the inviter's role is read
            // after any change to it that was under way. FOR UPDATE: two acceptances of one link at
            // once, the second waits and finds it spent.
            let team = try await transaction.query("SELECT team_id::text FROM auth.team_invitations WHERE token_hash = $1", [.bytes(digest)])
            guard let teamID: String = try team.first?.decode(at: 0) else { return .unknown }
            try await Self.lockTeam(transaction, teamID)
            let rows = try await transaction.query(
                """
                SELECT i.id::text, i.team_id::text, i.email_normalized, i.role, i.accepted_at IS NOT NULL, i.revoked_at IS NOT NULL, i.expires_at <= now(),
                       (SELECT m.role FROM auth.team_members m WHERE m.team_id = i.team_id AND m.user_id = i.invited_by)
                FROM auth.team_invitations i WHERE i.token_hash = $1 FOR UPDATE OF i
                """, [.bytes(digest)])
            guard let row = rows.first else { return .unknown }
            let (id, role): (String, TeamRole) = (try row.decode(at: 0), try Self.role(row, at: 3))
            let inviterRole = try Self.optionalRole(row, at: 7)
            if let refusal = InvitationAcceptance.refusal(
                revoked: try row.decode(at: 5), inviterMayGive: inviterRole?.mayManage(role) ?? false, accepted: try row.decode(at: 4),
                expired: try row.decode(at: 6), invited: try row.decode(at: 2), email: normalizedEmail)
            {
                return refusal
            }
            let joined = try await transaction.query(
                "INSERT INTO auth.team_members (team_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3) ON CONFLICT DO NOTHING RETURNING 1",
                [.text(teamID), .text(userID), .text(role.rawValue)])
            guard !joined.isEmpty else { return .alreadyMember }
            try await transaction.query(
                "UPDATE auth.team_invitations SET accepted_at = now(), accepted_by = $2::uuid WHERE id = $1::uuid", [.text(id), .text(userID)])
            try await Self.audit(
                transaction, team: teamID, actor: userID, action: "member_joined", subject: userID, detail: "\(role.rawValue) invitation \(id)")
            return .joined(teamID: teamID)
        }
    }

    func teamAudit(teamID: String, before: Int64?, limit: Int) async throws -> [TeamAuditEntry] {
        let rows = try await postgres.query(
            """
            SELECT id, \(Self.iso("at")), actor::text, action, subject, detail FROM auth.team_audit
            WHERE team_id = $1::uuid AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3
            """, [.text(teamID), .int(before.map { Int($0) }), .int(limit)])
        return try rows.map { row in
            TeamAuditEntry(
                id: Int64(try row.decode(at: 0, as: Int.self)), at: try row.decode(at: 1), actor: try row.decode(at: 2), action: try row.decode(at: 3),
                subject: try row.decode(at: 4), detail: try row.decode(at: 5))
        }
    }

    func teamAPIKeys(teamID: String) async throws -> [TeamAPIKeySummary] {
        let rows = try await postgres.query(
            """
            SELECT id::text, name, key_prefix, team_role, scopes, user_id::text, \(Self.iso("created_at")), \(Self.iso("expires_at")), daily_limit_micros
            FROM auth.api_keys WHERE team_id = $1::uuid AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            ORDER BY created_at DESC
            """, [.text(teamID)])
        return try rows.map { row in
            TeamAPIKeySummary(
                id: try row.decode(at: 0), name: try row.decode(at: 1), prefix: try row.decode(at: 2), role: try Self.role(row, at: 3),
                scopes: Scopes.parse(try row.decode(at: 4, as: String.self)) ?? [], created_by: try row.decode(at: 5), created_at: try row.decode(at: 6),
                expires_at: try row.decode(at: 7), daily_limit_micros: try row.decode(at: 8, as: Int?.self).map { Int64($0) })
        }
    }

    func revokeTeamAPIKey(teamID: String, id: String, actor: String, roles: [TeamRole]) async throws -> ChangedTeamKey? {
        try await postgres.withTransaction { transaction in
            // `target` reads the key as it was before the update: only a live key's revocation is audited.
            let rows = try await transaction.query(
                """
                WITH target AS (
                    SELECT id, revoked_at IS NULL AS live FROM auth.api_keys
                    WHERE id = $1::uuid AND team_id = $2::uuid AND (user_id = $3::uuid OR team_role = ANY(string_to_array($4, ' '))) FOR UPDATE)
                UPDATE auth.api_keys k SET revoked_at = coalesce(k.revoked_at, now()) FROM target WHERE k.id = target.id
                RETURNING encode(k.key_hash, 'hex'), k.name, target.live, k.user_id::text
                """, [.text(id), .text(teamID), .text(actor), .text(roles.map(\.rawValue).joined(separator: " "))])
            guard let row = rows.first else { return nil }
            if try row.decode(at: 2, as: Bool.self) {
                try await Self.audit(transaction, team: teamID, actor: actor, action: "api_key_revoked", subject: id, detail: try row.decode(at: 1))
            }
            return ChangedTeamKey(id: id, digestHex: try row.decode(at: 0), madeBy: try row.decode(at: 3))
        }
    }

    func setTeamAPIKeyDailyLimit(teamID: String, id: String, dailyLimit: Int64?, actor: String, roles: [TeamRole]) async throws -> ChangedTeamKey? {
        try await postgres.withTransaction { transaction in
            // Under the team's lock, the actor's role as it is now.
            try await Self.lockTeam(transaction, teamID)
            let rows = try await transaction.query(
                """
                UPDATE auth.api_keys SET daily_limit_micros = $3::bigint
                WHERE id = $1::uuid AND team_id = $2::uuid AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
                  AND EXISTS (SELECT 1 FROM auth.team_members
                              WHERE team_id = $2::uuid AND user_id = $4::uuid AND role = ANY(string_to_array($5, ' ')))
                RETURNING encode(key_hash, 'hex'), user_id::text, name
                """, [.text(id), .text(teamID), .int(dailyLimit.map { Int($0) }), .text(actor), .text(roles.map(\.rawValue).joined(separator: " "))])
            guard let row = rows.first else { return nil }
            let detail = "\(try row.decode(at: 2, as: String.self)) daily_limit_micros \(dailyLimit.map(String.init) ?? "none")"
            try await Self.audit(transaction, team: teamID, actor: actor, action: "api_key_changed", subject: id, detail: detail)
            return ChangedTeamKey(id: id, digestHex: try row.decode(at: 0), madeBy: try row.decode(at: 1))
        }
    }

    private static func role(_ row: PostgresRow, at index: Int) throws -> TeamRole {
        guard let role = try optionalRole(row, at: index) else { throw UnexpectedRow(message: "a team role is missing") }
        return role
    }

    static func optionalRole(_ row: PostgresRow, at index: Int) throws -> TeamRole? {
        guard let text: String = try row.decode(at: index) else { return nil }
        guard let role = TeamRole(rawValue: text) else { throw UnexpectedRow(message: "unknown team role \(text)") }
        return role
    }
}
