import Logging

/// A security-relevant event: stored in `auth.security_events` and logged.
struct SecurityEvent: Sendable {
    enum Kind: String, Sendable {
        case registered, loginSucceeded = "login_succeeded", loginFailed = "login_failed", lockout
        case refreshReuse = "refresh_reuse", logout, logoutAll = "logout_all", sessionRevoked = "session_revoked"
        case passwordChanged = "password_changed", apiKeyCreated = "api_key_created", apiKeyRevoked = "api_key_revoked", apiKeyChanged = "api_key_changed"
        case blockedSignIn = "blocked_sign_in"
        case telegramSignIn = "telegram_sign_in", telegramLinked = "telegram_linked", telegramUnlinked = "telegram_unlinked"
        case adminBlocked = "admin_blocked", adminUnblocked = "admin_unblocked", adminScopesChanged = "admin_scopes_changed"
    }

    let kind: Kind
    var userID: String?
    var sessionID: String?
    var clientIP: String?
    var requestID: String?
    var detail: String?
}

/// Writes security events; a failed write is logged, never fails the request that caused it.
struct SecurityEventLog: Sendable {
    let store: any AccountStore
    let logger: Logger

    func record(_ event: SecurityEvent) async {
        var metadata: Logger.Metadata = ["event": "\(event.kind.rawValue)"]
        if let userID = event.userID { metadata["user_id"] = "\(userID)" }
        if let sessionID = event.sessionID { metadata["session_id"] = "\(sessionID)" }
        if let clientIP = event.clientIP { metadata["client_ip"] = "\(clientIP)" }
        if let requestID = event.requestID { metadata["request_id"] = "\(requestID)" }
        if let detail = event.detail { metadata["detail"] = "\(detail)" }
        let level: Logger.Level = [.loginFailed, .lockout, .refreshReuse, .blockedSignIn].contains(event.kind) ? .warning : .notice
        logger.log(level: level, "security event", metadata: metadata)
        do {
            try await store.recordEvent(event)
        } catch {
            logger.error("security event not stored", metadata: ["event": "\(event.kind.rawValue)", "reason": "\(error)"])
        }
    }
}
