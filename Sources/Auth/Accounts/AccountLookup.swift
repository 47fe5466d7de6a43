/// Which account has an email, for docsd's shares by email (Contracts/AccountLookupAPI): a blocked
/// account is as absent as none, so that nothing is shared with it.
struct AccountLookup: Sendable {
    let backends: AccountBackends

    func userID(email: String) async throws -> String? {
        let user = try await backends.postgres { try await backends.store.user(normalizedEmail: Email.normalize(email)) }
        guard let user, !user.blocked else { return nil }
        return user.id
    }
}
