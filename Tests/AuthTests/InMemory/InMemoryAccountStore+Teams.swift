import Cryptography
import Foundation

@testable import Auth

/// The teams part of ``InMemoryAccountStore``'s state (sql/027's tables).
struct InMemoryTeams {
    struct Team {
        let id: String
        let name: String
        let createdBy: String
        let createdAt: Date
        var members: [String: (role: TeamRole, sequence: Int, addedAt: Date)] = [:]
    }

    struct Invitation {
        let id: String
        let teamID: String
        let email: String
        let role: TeamRole
        let digest: [UInt8]
        let invitedBy: String
        let sequence: Int
        var expiresAt: Date
        var accepted = false
        var revoked = false

        func isOpen(at now: Date) -> Bool { !accepted && !revoked && expiresAt > now }
    }

    var teams: [String: Team] = [:]
    var invitations: [String: Invitation] = [:]
    var audit: [(teamID: String, entry: TeamAuditEntry)] = []
    var sequence = 0

    mutating func next() -> Int {
        sequence += 1
        return sequence
    }

    mutating func audit(_ teamID: String, actor: String, _ action: String, subject: String?, detail: String = "") {
        let id = Int64(audit.count + 1)
        audit.append((teamID, TeamAuditEntry(id: id, at: InMemoryAccountStore.iso(Date()), actor: actor, action: action, subject: subject, detail: detail)))
    }
}

extension InMemoryAccountStore {
    func createTeam(name: String, ownerID: String, limit: Int) async throws -> TeamSummary? {
        state.withLock { state in
            guard state.teams.teams.values.filter({ $0.createdBy == ownerID }).count < limit else { return nil }
            let id = Self.newID()
            var team = InMemoryTeams.Team(id: id, name: name, createdBy: ownerID, createdAt: Date())
            team.members[ownerID] = (.owner, state.teams.next(), Date())
            state.teams.teams[id] = team
            state.teams.audit(id, actor: ownerID, "team_created", subject: ownerID, detail: name)
            return TeamSummary(id: id, name: name, role: .owner, created_at: Self.iso(team.createdAt))
        }
    }

    func teams(userID: String) async throws -> [TeamSummary] {
        state.withLock { state in
            state.teams.teams.values.compactMap { team in
                team.members[userID].map { (team, $0.role) }
            }.sorted { ($0.0.createdAt, $0.0.id) < ($1.0.createdAt, $1.0.id) }.map { team, role in
                TeamSummary(id: team.id, name: team.name, role: role, created_at: Self.iso(team.createdAt))
            }
        }
    }

    func teamRole(teamID: String, userID: String) async throws -> TeamRole? {
        state.withLock { $0.teams.teams[teamID]?.members[userID]?.role }
    }

    func teamMembers(teamID: String) async throws -> [TeamMember] {
        state.withLock { state in
            (state.teams.teams[teamID]?.members ?? [:]).sorted { $0.value.sequence < $1.value.sequence }.map { userID, member in
                TeamMember(user_id: userID, email: state.users[userID]?.record.email, role: member.role, added_at: Self.iso(member.addedAt))
            }
        }
    }

    func changeTeamMember(teamID: String, userID: String, to role: TeamRole?, actor: String) async throws -> (MemberChange, revoked: [ChangedTeamKey]) {
        state.withLock { state in
            guard let team = state.teams.teams[teamID], let current = team.members[userID]?.role else { return (.noSuchMember, []) }
            let leaving = role == nil && actor == userID
            let decision = MemberChange.decide(
                current: current, to: role, actorRole: team.members[actor]?.role, leaving: leaving,
                owners: team.members.values.filter { $0.role == .owner }.count)
            guard decision == .changed, role != current else { return (decision, []) }
            if let role {
                state.teams.teams[teamID]?.members[userID]?.role = role
                state.teams.audit(teamID, actor: actor, "member_role_changed", subject: userID, detail: "\(current.rawValue) -> \(role.rawValue)")
            } else {
                state.teams.teams[teamID]?.members[userID] = nil
                state.teams.audit(teamID, actor: actor, leaving ? "member_left" : "member_removed", subject: userID, detail: current.rawValue)
            }
            for (id, invitation) in state.teams.invitations
            where invitation.teamID == teamID && invitation.invitedBy == userID && !invitation.accepted && !invitation.revoked
                && !(role?.mayManage(invitation.role) ?? false)
            {
                state.teams.invitations[id]?.revoked = true
                state.teams.audit(teamID, actor: actor, "invitation_revoked", subject: id, detail: "\(invitation.email) (beyond its inviter's role now)")
            }
            var revoked: [ChangedTeamKey] = []
            for key in state.apiKeys.values where key.team?.teamID == teamID && key.userID == userID && !key.revoked {
                guard let keyRole = key.team?.role, !(role?.mayMakeKey(of: keyRole) ?? false) else { continue }
                state.apiKeys[key.id]?.revoked = true
                state.teams.audit(
                    teamID, actor: actor, "api_key_revoked", subject: key.id, detail: "\(key.name) (\(keyRole.rawValue), beyond its maker's role now)")
                revoked.append(ChangedTeamKey(id: key.id, digestHex: key.digestHex, madeBy: userID))
            }
            return (.changed, revoked)
        }
    }

    func inviteToTeam(teamID: String, normalizedEmail: String, role: TeamRole, digest: [UInt8], lifetime: TimeInterval, actor: String) async throws
        -> TeamInvitation?
    {
        state.withLock { state in
            guard state.teams.teams[teamID]?.members[actor]?.role.mayManage(role) ?? false else { return nil }
            for (id, open) in state.teams.invitations where open.teamID == teamID && open.email == normalizedEmail && !open.accepted && !open.revoked {
                state.teams.invitations[id]?.revoked = true
                state.teams.audit(teamID, actor: actor, "invitation_revoked", subject: id, detail: "replaced by a new invitation")
            }
            let invitation = InMemoryTeams.Invitation(
                id: Self.newID(), teamID: teamID, email: normalizedEmail, role: role, digest: digest, invitedBy: actor, sequence: state.teams.next(),
                expiresAt: Date() + lifetime)
            state.teams.invitations[invitation.id] = invitation
            state.teams.audit(teamID, actor: actor, "invitation_created", subject: invitation.id, detail: "\(normalizedEmail) \(role.rawValue)")
            return Self.summary(invitation)
        }
    }

    func teamInvitations(teamID: String) async throws -> [TeamInvitation] {
        state.withLock { state in
            let now = Date()
            return state.teams.invitations.values.filter { $0.teamID == teamID && $0.isOpen(at: now) }.sorted { $0.sequence > $1.sequence }
                .map(Self.summary)
        }
    }

    func revokeTeamInvitation(teamID: String, id: String, actor: String) async throws -> Bool {
        state.withLock { state in
            guard let invitation = state.teams.invitations[id], invitation.teamID == teamID, !invitation.accepted,
                !invitation.revoked
            else { return false }
            state.teams.invitations[invitation.id]?.revoked = true
            state.teams.audit(invitation.teamID, actor: actor, "invitation_revoked", subject: invitation.id, detail: invitation.email)
            return true
        }
    }

    func acceptTeamInvitation(digest: [UInt8], userID: String, normalizedEmail: String?) async throws -> InvitationAcceptance {
        state.withLock { state in
            guard let invitation = state.teams.invitations.values.first(where: { $0.digest == digest }) else { return .unknown }
            let inviterRole = state.teams.teams[invitation.teamID]?.members[invitation.invitedBy]?.role
            if let refusal = InvitationAcceptance.refusal(
                revoked: invitation.revoked, inviterMayGive: inviterRole?.mayManage(invitation.role) ?? false, accepted: invitation.accepted,
                expired: invitation.expiresAt <= Date(), invited: invitation.email, email: normalizedEmail)
            {
                return refusal
            }
            guard state.teams.teams[invitation.teamID]?.members[userID] == nil else { return .alreadyMember }
            let sequence = state.teams.next()
            state.teams.teams[invitation.teamID]?.members[userID] = (invitation.role, sequence, Date())
            state.teams.invitations[invitation.id]?.accepted = true
            state.teams.audit(
                invitation.teamID, actor: userID, "member_joined", subject: userID, detail: "\(invitation.role.rawValue) invitation \(invitation.id)")
            return .joined(teamID: invitation.teamID)
        }
    }

    func teamAudit(teamID: String, before: Int64?, limit: Int) async throws -> [TeamAuditEntry] {
        state.withLock { state in
            Array(
                state.teams.audit.filter { logged in logged.teamID == teamID && before.map { logged.entry.id < $0 } ?? true }.map(\.entry)
                    .reversed().prefix(limit))
        }
    }

    func teamAPIKeys(teamID: String) async throws -> [TeamAPIKeySummary] {
        state.withLock { state in
            let now = Date()
            return state.apiKeys.values.filter { $0.team?.teamID == teamID && $0.isLive(at: now) }.sorted { $0.sequence > $1.sequence }
                .compactMap { key in
                    key.team.map { team in
                        TeamAPIKeySummary(
                            id: key.id, name: key.name, prefix: key.prefix, role: team.role, scopes: key.scopes, created_by: key.userID,
                            created_at: Self.iso(key.createdAt), expires_at: key.expiresAt.map(Self.iso), daily_limit_micros: key.dailyLimit)
                    }
                }
        }
    }

    func revokeTeamAPIKey(teamID: String, id: String, actor: String, roles: [TeamRole]) async throws -> ChangedTeamKey? {
        state.withLock { state in
            guard let key = state.apiKeys[id], let team = key.team, team.teamID == teamID, key.userID == actor || roles.contains(team.role) else {
                return nil
            }
            if !key.revoked { state.teams.audit(teamID, actor: actor, "api_key_revoked", subject: key.id, detail: key.name) }
            state.apiKeys[key.id]?.revoked = true
            return ChangedTeamKey(id: key.id, digestHex: key.digestHex, madeBy: key.userID)
        }
    }

    func setTeamAPIKeyDailyLimit(teamID: String, id: String, dailyLimit: Int64?, actor: String, roles: [TeamRole]) async throws -> ChangedTeamKey? {
        state.withLock { state in
            guard let key = state.apiKeys[id], key.team?.teamID == teamID, key.isLive(at: Date()),
                let actorRole = state.teams.teams[teamID]?.members[actor]?.role, roles.contains(actorRole)
            else { return nil }
            state.apiKeys[key.id]?.dailyLimit = dailyLimit
            state.teams.audit(
                teamID, actor: actor, "api_key_changed", subject: key.id, detail: "\(key.name) daily_limit_micros \(dailyLimit.map(String.init) ?? "none")")
            return ChangedTeamKey(id: key.id, digestHex: key.digestHex, madeBy: key.userID)
        }
    }

    /// Ages the team's invitations past their end, as 7 days would.
    func expireInvitations(teamID: String) {
        state.withLock { state in
            for (id, invitation) in state.teams.invitations where invitation.teamID == teamID { state.teams.invitations[id]?.expiresAt = Date() - 1 }
        }
    }

    private static func summary(_ invitation: InMemoryTeams.Invitation) -> TeamInvitation {
        TeamInvitation(
            id: invitation.id, email: invitation.email, role: invitation.role, invited_by: invitation.invitedBy, expires_at: iso(invitation.expiresAt))
    }
}
