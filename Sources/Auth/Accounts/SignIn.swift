import Foundation

/// Registration and login: a new account, and a new session with its token pair for the right
/// password.
struct SignIn: Sendable {
    let backends: AccountBackends
    let passwords: PasswordCheck
    let issuer: TokenIssuer

    func register(email: String, password: String, client: ClientInfo) async throws -> String {
        let normalized = Email.normalize(email)
        guard Email.isPlausible(normalized) else { throw AccountError.invalidEmail }
        if let refusal = PasswordPolicy.refusal(of: password, email: normalized, field: "password") { throw refusal }
        let hash = try await passwords.hash(password)
        guard
            let userID = try await backends.postgres({
                try await backends.store.createUser(
                    email: email.trimmingCharacters(in: .whitespacesAndNewlines), normalizedEmail: normalized, passwordHash: hash, scopes: Scopes.defaultGrant)
            })
        else {
            throw AccountError.emailTaken
        }
        await backends.events.record(SecurityEvent(kind: .registered, userID: userID, clientIP: client.address, requestID: client.requestID))
        return userID
    }

    /// Same answer, after the same work, for an unknown email and a wrong password.
    func login(email: String, password: String, client: ClientInfo) async throws -> TokenGrant {
        let normalized = Email.normalize(email)
        let subject = LoginSubject(normalizedEmail: normalized, clientIP: client.address)
        let user = try await passwords.user(withPassword: password, of: subject, client: client, refusal: .wrongPassword) {
            try await backends.store.user(normalizedEmail: normalized)
        }
        guard !user.blocked else {
            await backends.events.record(SecurityEvent(kind: .blockedSignIn, userID: user.id, clientIP: client.address, requestID: client.requestID))
            throw AccountError.accountBlocked
        }
        return try await issuer.openSession(for: user, client: client, event: .loginSucceeded)
    }
}
