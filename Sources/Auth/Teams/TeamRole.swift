/// A member's role in a team, and what it allows (sql/027). A user's own account is a team of one
/// (the user's id) whose only member is its owner.
enum TeamRole: String, Sendable, Codable, CaseIterable {
    case owner, admin, billing, member

    /// The scopes that act on a team's behalf: the developers' API, its usage and the balance.
    /// A team's key, or a session acting for a team, holds only these.
    static let teamScopes: Set<String> = ["inference", "usage:read", "balance:manage"]

    /// What a credential acting for the team with this role may do at most.
    var scopes: Set<String> {
        switch self {
        case .owner: Self.teamScopes
        case .admin: ["inference", "usage:read"]
        case .billing: ["usage:read", "balance:manage"]
        case .member: ["inference"]
        }
    }

    /// Whether this role invites, changes and removes members (and reads the audit).
    var managesMembers: Bool { self == .owner || self == .admin }

    /// Whether this role may give `role` to someone, or change or remove someone who has it: an
    /// admin manages everyone but owners.
    func mayManage(_ role: TeamRole) -> Bool {
        switch self {
        case .owner: true
        case .admin: role != .owner
        case .billing, .member: false
        }
    }

    /// Whether this role may make a key of `role`: one that can do nothing this role cannot.
    func mayMakeKey(of role: TeamRole) -> Bool { role.scopes.isSubset(of: scopes) }
}
