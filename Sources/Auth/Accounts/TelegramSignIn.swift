import Contracts
import Cryptography
import Foundation

/// Sign-in with a Telegram Mini App's `initData`: the account linked to that Telegram user, made
/// on first use; and linking or unlinking a Telegram account to a signed-in user's own.
struct TelegramSignIn: Sendable {
    /// nil when no bot is configured: every route answers 404.
    let verifier: TelegramInitDataVerifier?
    let backends: AccountBackends
    let issuer: TokenIssuer

    /// The tokens of the account linked to the Telegram user, as a login answers them.
    func signIn(initData: String, client: ClientInfo, now: Date = Date()) async throws -> TokenGrant {
        let telegram = try await verified(initData, now: now).user
        guard let user = try await account(of: telegram, client: client).user else { throw AccountError.unavailable(role: "account store") }
        guard !user.blocked else {
            await backends.events.record(
                SecurityEvent(kind: .blockedSignIn, userID: user.id, clientIP: client.address, requestID: client.requestID, detail: "telegram"))
            throw AccountError.accountBlocked
        }
        return try await issuer.openSession(for: user, client: client, event: .telegramSignIn)
    }

    /// botd's session for a Telegram user it got an update from: the linked account (made on first
    /// use) and an access token of its one "Telegram bot" session. `proof` is `<unix time>.<hex
    /// HMAC-SHA256>` of ``TelegramSessionAPI/proofMessage(telegramID:time:)`` under the bot's token,
    /// within ``TelegramSessionAPI/proofWindow`` of `now`.
    func botSession(_ request: TelegramSessionAPI.Request, proof: String, client: ClientInfo, now: Date = Date()) async throws
        -> TelegramSessionAPI.Answer
    {
        guard let botToken = verifier?.botToken else { throw AccountError.telegramNotConfigured }
        let parts = proof.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let time = Int64(parts[0]), abs(Int64(now.timeIntervalSince1970) - time) <= TelegramSessionAPI.proofWindow,
            let sent = Hex.decode(parts[1]),
            HMACSHA256.isValidAuthenticationCode(
                sent, for: Array(TelegramSessionAPI.proofMessage(telegramID: request.telegram_id, time: time).utf8), key: botToken)
        else {
            throw AccountError.invalidBotProof
        }
        guard request.telegram_id > 0 else { throw AccountError.telegramInitData(.malformed("telegram_id must be positive")) }
        let telegram = TelegramUser(
            id: request.telegram_id, firstName: String(request.first_name.prefix(200)), lastName: nil, username: request.username,
            languageCode: request.language_code)
        let (found, created) = try await account(of: telegram, client: client)
        guard let user = found else { throw AccountError.unavailable(role: "account store") }
        guard !user.blocked else { throw AccountError.accountBlocked }
        // A session revoked between its lookup and its token (the user ended it) gets a new one.
        for _ in 0..<2 {
            let sessionID = try await backends.postgres {
                try await backends.store.namedSession(userID: user.id, name: TelegramSessionAPI.sessionName, lifetime: issuer.settings.refreshTokenLifetime)
            }
            do {
                let token = try await issuer.accessToken(for: user, sessionID: sessionID)
                return TelegramSessionAPI.Answer(
                    userID: user.id, accessToken: token, expiresIn: Int(issuer.settings.accessTokenLifetime), created: created)
            } catch AccountError.invalidGrant {
                continue
            }
        }
        throw AccountError.unavailable(role: "token store")
    }

    /// Links the Telegram user of `initData` to the signed-in user's account.
    func link(_ identity: Identity, initData: String, client: ClientInfo, now: Date = Date()) async throws -> LinkedTelegram {
        let telegram = try await verified(initData, now: now).user
        switch try await backends.postgres({ try await backends.store.linkTelegram(telegram, userID: identity.userID) }) {
        case .linked:
            await backends.events.record(
                SecurityEvent(
                    kind: .telegramLinked, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address,
                    requestID: client.requestID, detail: "telegram \(telegram.id)"))
            return LinkedTelegram(id: telegram.id, username: telegram.username)
        case .linkedElsewhere:
            throw AccountError.telegramLinkedElsewhere
        case .userHasAnother:
            throw AccountError.telegramAlreadyLinked
        }
    }

    func unlink(_ identity: Identity, client: ClientInfo) async throws {
        guard verifier != nil else { throw AccountError.telegramNotConfigured }
        switch try await backends.postgres({ try await backends.store.unlinkTelegram(userID: identity.userID) }) {
        case .unlinked(let telegramID):
            // botd acted for this account as that Telegram user: it does no more.
            let botSessions = try await backends.postgres { try await backends.store.activeSessions(userID: identity.userID) }
                .filter { $0.user_agent == TelegramSessionAPI.sessionName }.map(\.id)
            for sessionID in botSessions {
                try await backends.revoke(sessions: [sessionID])
                _ = try await backends.postgres { try await backends.store.revokeSession(sessionID, userID: identity.userID, reason: "telegram_unlinked") }
            }
            await backends.events.record(
                SecurityEvent(
                    kind: .telegramUnlinked, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address,
                    requestID: client.requestID, detail: "telegram \(telegramID)"))
        case .notLinked:
            throw AccountError.telegramNotLinked
        case .onlySignInMethod:
            throw AccountError.lastSignInMethod
        }
    }

    /// Checked data, used once: its single use is recorded only after the signature holds, so a
    /// forgery cannot spend someone's real initData.
    private func verified(_ initData: String, now: Date) async throws -> VerifiedInitData {
        guard let verifier else { throw AccountError.telegramNotConfigured }
        let data: VerifiedInitData
        do {
            data = try verifier.verify(initData, now: now)
        } catch {
            throw AccountError.telegramInitData(error)
        }
        let until = data.authDate.addingTimeInterval(verifier.maximumAge + 60)
        guard try await backends.postgres({ try await backends.store.claimInitData(digest: data.digest, until: until) }) else {
            throw AccountError.telegramInitData(.reused)
        }
        return data
    }

    /// The linked account, or a new one (no email, no password) on a first sign-in; when two first
    /// sign-ins race, both get the one account (and only the one that made it says `created`).
    private func account(of telegram: TelegramUser, client: ClientInfo) async throws -> (user: UserRecord?, created: Bool) {
        if let user = try await backends.postgres({ try await backends.store.user(telegramID: telegram.id) }) { return (user, false) }
        let made = try await backends.postgres { try await backends.store.createTelegramUser(telegram, scopes: Scopes.defaultGrant) }
        if let userID = made {
            await backends.events.record(
                SecurityEvent(kind: .registered, userID: userID, clientIP: client.address, requestID: client.requestID, detail: "telegram \(telegram.id)"))
        }
        return (try await backends.postgres { try await backends.store.user(telegramID: telegram.id) }, made != nil)
    }
}
