import Cryptography
import Foundation
import ServiceKit

/// Teams of the developers' API: made by a signed-in user (its owner), joined by invitation links
/// (one use, 7 days, for one address), members' roles changed and removed by owners and admins,
/// and keys made for the team with a role no greater than their maker's. Every change is in the
/// team's audit. The account's own team (the user's id) has no row, takes no members and is
/// managed through the account's own routes.
struct Teams: Sendable {
    let backends: AccountBackends
    let apiKeys: APIKeyManagement

    /// How long an invitation's link stays good.
    static let invitationLifetime: TimeInterval = 7 * 24 * 3600
    static let invitationPrefix = "inv_"
    /// How many teams one user may make: enough for any organization's needs, few enough that no
    /// account can fill the table.
    static let teamsPerUser = 20

    func create(_ identity: Identity, name: String) async throws -> TeamSummary {
        let name = try APIKeyManagement.checkedName(name)
        guard let team = try await backends.postgres({ try await backends.store.createTeam(name: name, ownerID: identity.userID, limit: Self.teamsPerUser) })
        else { throw TeamError.tooManyTeams(limit: Self.teamsPerUser) }
        backends.logger.info("team created", metadata: ["team": "\(team.id)", "user": "\(identity.userID)"])
        return team
    }

    func list(_ identity: Identity) async throws -> [TeamSummary] {
        try await backends.postgres { try await backends.store.teams(userID: identity.userID) }
    }

    /// The team and its members, for any member.
    func show(_ identity: Identity, team: String) async throws -> (team: TeamSummary, members: [TeamMember]) {
        let team = try Self.teamID(team)
        guard let summary = try await list(identity).first(where: { $0.id == team }) else { throw TeamError.noSuchTeam }
        return (summary, try await backends.postgres { try await backends.store.teamMembers(teamID: team) })
    }

    /// Gives a member another role, or removes them (`role` nil); a member may always leave. The
    /// member's keys of the team that the new role could not make (all, when they go) are
    /// revoked with it, at once on every instance: a key must not outlast its maker's standing.
    func changeMember(_ identity: Identity, team: String, user: String, to role: TeamRole?, client: ClientInfo) async throws {
        let team = try Self.teamID(team)
        let actor = try await membership(of: identity, in: team)
        let user = user.lowercased()
        guard Identifiers.isUUID(user), let current = try await backends.postgres({ try await backends.store.teamRole(teamID: team, userID: user) })
        else { throw TeamError.noSuchMember }
        // Checked here too (the store decides again, under the team's lock), so that nobody else
        // can have a member's key records dropped below.
        guard user == identity.userID || actor.mayManage(current) else { throw TeamError.roleNotAllowed }
        // Redis first, as for sessions: the member's key records are dropped (each is read from
        // PostgreSQL at its next use), so that Redis failing after the change commits cannot leave
        // a revoked key answering from its old record.
        let live = try await backends.postgres { try await backends.store.liveAPIKeys(userID: user) }
        if !live.isEmpty { try await backends.redis { try await backends.registry.dropAPIKeyRecords(digestHexes: live.map(\.digestHex), userID: user) } }
        let (change, revoked) = try await backends.postgres {
            try await backends.store.changeTeamMember(teamID: team, userID: user, to: role, actor: identity.userID)
        }
        for key in revoked { try await apiKeys.revoked(digestHex: key.digestHex, keyID: key.id, by: identity, client: client, detail: " team \(team)") }
        switch change {
        case .changed: return
        case .noSuchMember: throw TeamError.noSuchMember
        case .lastOwner: throw TeamError.lastOwner
        case .notAllowed: throw TeamError.roleNotAllowed
        }
    }

    /// An invitation for `email` with `role` (not owner: owners are made by an owner from members).
    /// The link carries the token, which is not kept: shown here once.
    func invite(_ identity: Identity, team: String, email: String, role: TeamRole, origin: String) async throws -> (TeamInvitation, link: String) {
        let team = try Self.teamID(team)
        try await membership(of: identity, in: team)
        guard role != .owner else { throw TeamError.roleNotAllowed }
        let email = Email.normalize(email)
        guard Email.isPlausible(email) else { throw AccountError.invalidEmail }
        let token = try Secrets.make(prefix: Self.invitationPrefix)
        // The store checks the inviter's role under the team's lock.
        guard
            let invitation = try await backends.postgres({
                try await backends.store.inviteToTeam(
                    teamID: team, normalizedEmail: email, role: role, digest: token.digest, lifetime: Self.invitationLifetime, actor: identity.userID)
            })
        else { throw TeamError.roleNotAllowed }
        // No mail is sent: the inviter passes the link on. The log names the invitation, never the token.
        backends.logger.info("team invitation created", metadata: ["team": "\(team)", "invitation": "\(invitation.id)"])
        return (invitation, "\(origin)/account#invitation=\(token.secret)")
    }

    func invitations(_ identity: Identity, team: String) async throws -> [TeamInvitation] {
        let team = try Self.teamID(team)
        guard try await membership(of: identity, in: team).managesMembers else { throw TeamError.roleNotAllowed }
        return try await backends.postgres { try await backends.store.teamInvitations(teamID: team) }
    }

    func revokeInvitation(_ identity: Identity, team: String, id: String) async throws {
        let team = try Self.teamID(team)
        guard try await membership(of: identity, in: team).managesMembers else { throw TeamError.roleNotAllowed }
        guard Identifiers.isUUID(id.lowercased()),
            try await backends.postgres({ try await backends.store.revokeTeamInvitation(teamID: team, id: id.lowercased(), actor: identity.userID) })
        else { throw TeamError.noSuchInvitation }
    }

    /// Joins the team of the invitation whose link carries `token`: once, within 7 days, and only
    /// for the signed-in user the invitation names by address.
    func accept(_ identity: Identity, token: String) async throws -> TeamSummary {
        guard token.hasPrefix(Self.invitationPrefix), token.utf8.count <= 100 else { throw TeamError.invitationUnknown }
        let digest = try SHA256.hash(token.utf8)
        guard let user = try await backends.postgres({ try await backends.store.user(id: identity.userID) }) else { throw AccountError.noSuchAccount }
        let acceptance = try await backends.postgres {
            try await backends.store.acceptTeamInvitation(digest: digest, userID: identity.userID, normalizedEmail: user.email.map(Email.normalize))
        }
        switch acceptance {
        case .joined(let team):
            backends.logger.info("team joined", metadata: ["team": "\(team)", "user": "\(identity.userID)"])
            guard let summary = try await list(identity).first(where: { $0.id == team }) else { throw TeamError.noSuchTeam }
            return summary
        case .unknown: throw TeamError.invitationUnknown
        case .expired: throw TeamError.invitationExpired
        case .alreadyUsed: throw TeamError.invitationUsed
        case .otherEmail: throw TeamError.invitationForOtherEmail
        case .alreadyMember: throw TeamError.alreadyMember
        }
    }

    /// The team's changes, newest first, for its owners and admins.
    func audit(_ identity: Identity, team: String, before: Int64?, limit: Int) async throws -> [TeamAuditEntry] {
        let team = try Self.teamID(team)
        guard try await membership(of: identity, in: team).managesMembers else { throw TeamError.roleNotAllowed }
        return try await backends.postgres { try await backends.store.teamAudit(teamID: team, before: before, limit: limit) }
    }

    /// A key for the team with `role`, which the maker's own role must cover (checked here before
    /// the password, and again by the store under the team's lock); its scopes are the role's
    /// unless fewer are asked for.
    func createKey(
        _ identity: Identity, team: String, name: String, role: TeamRole, scopes: [String]?, expiresIn: Int?, dailyLimit: Int64?, password: String,
        client: ClientInfo
    ) async throws -> APIKeyManagement.Created {
        let team = try Self.teamID(team)
        guard try await membership(of: identity, in: team).mayMakeKey(of: role) else { throw TeamError.roleNotAllowed }
        return try await apiKeys.create(
            identity, name: name, scopes: scopes ?? role.scopes.sorted(), expiresIn: expiresIn, dailyLimit: dailyLimit, password: password, client: client,
            team: TeamKeyGrant(teamID: team, role: role))
    }

    func keys(_ identity: Identity, team: String) async throws -> [TeamAPIKeySummary] {
        let team = try Self.teamID(team)
        try await membership(of: identity, in: team)
        return try await backends.postgres { try await backends.store.teamAPIKeys(teamID: team) }
    }

    /// Revokes a team's key at once on every instance: its maker may, and so may owners and admins
    /// for the roles they manage (an admin not an owner's key).
    func revokeKey(_ identity: Identity, team: String, id: String, client: ClientInfo) async throws {
        let team = try Self.teamID(team)
        let actor = try await membership(of: identity, in: team)
        guard Identifiers.isUUID(id.lowercased()),
            let key = try await backends.postgres({
                try await backends.store.revokeTeamAPIKey(
                    teamID: team, id: id.lowercased(), actor: identity.userID, roles: TeamRole.allCases.filter(actor.mayManage))
            })
        else { throw AccountError.noSuchAPIKey }
        try await apiKeys.revoked(digestHex: key.digestHex, keyID: key.id, by: identity, client: client, detail: " team \(team)")
    }

    /// Sets a team key's daily limit on /v1 (nil for none): the roles that manage the balance
    /// (owner, billing) may, after their password, as for a key of one's own.
    func changeKeyLimit(_ identity: Identity, team: String, id: String, to dailyLimit: Int64?, password: String, client: ClientInfo) async throws {
        let team = try Self.teamID(team)
        let roles = TeamRole.allCases.filter { $0.scopes.contains(Self.balanceScope) }
        guard roles.contains(try await membership(of: identity, in: team)) else { throw TeamError.roleNotAllowed }
        try await apiKeys.changeDailyLimit(id, to: dailyLimit, by: identity, password: password, client: client) { _, id in
            try await backends.store.setTeamAPIKeyDailyLimit(teamID: team, id: id, dailyLimit: dailyLimit, actor: identity.userID, roles: roles).map {
                ($0.digestHex, $0.madeBy)
            }
        }
    }

    /// The scope of a team's balance: who holds it may top up and cap keys.
    static let balanceScope = "balance:manage"

    /// The caller's role in the team; 404 for a team they are not in, as for one that does not
    /// exist, so that ids cannot be probed.
    @discardableResult
    private func membership(of identity: Identity, in team: String) async throws -> TeamRole {
        guard let role = try await backends.postgres({ try await backends.store.teamRole(teamID: team, userID: identity.userID) }) else {
            throw TeamError.noSuchTeam
        }
        return role
    }

    private static func teamID(_ text: String) throws -> String {
        let id = text.lowercased()
        guard Identifiers.isUUID(id) else { throw TeamError.noSuchTeam }
        return id
    }
}

/// Why a team flow refused a request.
enum TeamError: Error, Sendable, Equatable {
    case noSuchTeam
    case noSuchMember
    case noSuchInvitation
    /// The caller's role may not do this (or not to that role).
    case roleNotAllowed
    /// The change would leave the team without an owner.
    case lastOwner
    case invitationUnknown
    case invitationExpired
    case invitationUsed
    case invitationForOtherEmail
    case alreadyMember
    case tooManyTeams(limit: Int)
}

extension TeamError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .noSuchTeam: .notFound("no such team (or you are not a member of it)")
        case .noSuchMember: .notFound("no such member of this team")
        case .noSuchInvitation: .notFound("no such open invitation")
        case .roleNotAllowed: APIError(.forbidden, code: "role_not_allowed", message: "your role in this team does not allow this")
        case .lastOwner: APIError(.conflict, code: "last_owner", message: "a team must keep an owner: make another member an owner first")
        case .invitationUnknown: .notFound("no such invitation (or it was revoked)")
        case .invitationExpired: APIError(.gone, code: "invitation_expired", message: "this invitation has expired; ask for a new one")
        case .invitationUsed: APIError(.gone, code: "invitation_used", message: "this invitation was already accepted")
        case .invitationForOtherEmail:
            APIError(.forbidden, code: "invitation_for_other_email", message: "this invitation is for another email address; sign in with that one")
        case .alreadyMember: APIError(.conflict, code: "already_member", message: "you are already a member of this team")
        case .tooManyTeams(let limit): APIError(.conflict, code: "too_many_teams", message: "you have made \(limit) teams already")
        }
    }
}
