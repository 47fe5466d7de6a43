/// A team as its members see it, with what the caller's role allows there (so that a client need
/// not know the rules: the scopes it acts with, the roles it may give, the keys it may make).
struct TeamSummary: Sendable, Encodable, Equatable {
    let id: String
    let name: String
    /// The caller's role in it.
    let role: TeamRole
    let created_at: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(role, forKey: .role)
        try container.encode(created_at, forKey: .created_at)
        try container.encode(role.scopes.sorted(), forKey: .scopes)
        try container.encode(role.managesMembers, forKey: .manages_members)
        try container.encode(TeamRole.allCases.filter(role.mayManage), forKey: .manageable_roles)
        try container.encode(TeamRole.allCases.filter { role.mayMakeKey(of: $0) }, forKey: .key_roles)
    }

    enum CodingKeys: String, CodingKey { case id, name, role, created_at, scopes, manages_members, manageable_roles, key_roles }
}

struct TeamMember: Sendable, Encodable, Equatable {
    let user_id: String
    /// nil for an account made by a Telegram sign-in.
    let email: String?
    let role: TeamRole
    let added_at: String
}

/// An open invitation (its token is shown only once, when it is made).
struct TeamInvitation: Sendable, Encodable, Equatable {
    let id: String
    let email: String
    let role: TeamRole
    let invited_by: String
    let expires_at: String
}

/// One change to a team, as the audit shows it.
struct TeamAuditEntry: Sendable, Encodable, Equatable {
    let id: Int64
    let at: String
    /// The user who made the change.
    let actor: String
    /// `team_created`, `member_joined`, `member_role_changed`, `member_removed`, `member_left`,
    /// `invitation_created`, `invitation_revoked`, `api_key_created`, `api_key_changed`,
    /// `api_key_revoked`.
    let action: String
    /// Who or what it changed: a user, invitation or key id.
    let subject: String?
    let detail: String
}

/// A team's API key as its members see it.
struct TeamAPIKeySummary: Sendable, Encodable, Equatable {
    let id: String
    let name: String
    let prefix: String
    let role: TeamRole
    let scopes: [String]
    /// The member who made it.
    let created_by: String
    let created_at: String
    let expires_at: String?
    let daily_limit_micros: Int64?
}

/// A change of a member's role, or their removal, as the store decided it.
enum MemberChange: Sendable, Equatable {
    case changed
    case noSuchMember
    /// The team would be left without an owner.
    case lastOwner
    /// The actor's role may not manage the member's (an admin and an owner).
    case notAllowed

    /// The rules every store applies, under its team lock, to giving a member of role `current`
    /// the role `new`, or removing them (`new` nil), asked by a member of `actorRole` (nil for
    /// none), or by the member themselves when `leaving`, in a team with `owners` owners.
    static func decide(current: TeamRole, to new: TeamRole?, actorRole: TeamRole?, leaving: Bool, owners: Int) -> MemberChange {
        if !leaving {
            guard let actorRole, actorRole.mayManage(current), new.map(actorRole.mayManage) ?? true else { return .notAllowed }
        }
        if current == .owner, new != .owner, owners <= 1 { return .lastOwner }
        return .changed
    }
}

/// An invitation's acceptance, as the store decided it.
enum InvitationAcceptance: Sendable, Equatable {
    case joined(teamID: String)
    /// No invitation has this token, or it was revoked.
    case unknown
    case expired
    case alreadyUsed
    /// It was made for another email address.
    case otherEmail
    case alreadyMember

    /// Why an invitation in this state cannot be accepted by a user with `email`, in the order
    /// every store checks; nil when it can (joining may still find them a member already).
    static func refusal(revoked: Bool, inviterMayGive: Bool, accepted: Bool, expired: Bool, invited: String, email: String?) -> InvitationAcceptance? {
        // An inviter removed or demoted since takes back what they could no longer give.
        if revoked || !inviterMayGive { return .unknown }
        if accepted { return .alreadyUsed }
        if expired { return .expired }
        return invited == email ? nil : .otherEmail
    }
}

/// A team's key that a change touched: what Redis and every instance's cache must forget.
struct ChangedTeamKey: Sendable, Equatable {
    let id: String
    let digestHex: String
    /// The member who made it: cached answers are found by their user id.
    let madeBy: String
}

/// A new key's team and the role it carries.
struct TeamKeyGrant: Sendable, Equatable {
    let teamID: String
    let role: TeamRole
}
