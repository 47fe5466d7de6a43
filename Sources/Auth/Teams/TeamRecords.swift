/// A team as its members see it.
struct TeamSummary: Sendable, Encodable, Equatable {
    let id: String
    let name: String
    /// The caller's role in it.
    let role: TeamRole
    let created_at: String
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
    /// `invitation_created`, `invitation_revoked`, `api_key_created`, `api_key_revoked`.
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
}

/// An invitation's acceptance, as the store decided it.
enum InvitationAcceptance: Sendable, Equatable {
    case joined(teamID: String, role: TeamRole)
    /// No invitation has this token, or it was revoked.
    case unknown
    case expired
    case alreadyUsed
    /// It was made for another email address.
    case otherEmail
    case alreadyMember
}

/// A new team key: who makes it, for which team and with which role.
struct TeamKeyGrant: Sendable, Equatable {
    let teamID: String
    let role: TeamRole
}
