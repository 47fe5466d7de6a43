import ServiceKit

/// Each account refusal's HTTP answer: status, stable code, message and headers.
extension AccountError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .invalidEmail:
            .badRequest(code: "invalid_email", "the email address is not valid", field: "email")
        case .weakPassword(let message, let field):
            .badRequest(code: "weak_password", message, field: field)
        case .passwordTooLong(let field):
            .badRequest(code: "password_too_long", "the password must be at most \(PasswordPolicy.maximumBytes) bytes of UTF-8", field: field)
        case .emailTaken:
            APIError(.conflict, code: "email_taken", message: "an account with this email exists")
        case .wrongPassword:
            APIError(.unauthorized, code: "invalid_credentials", message: "the email or password is wrong")
        case .wrongCurrentPassword:
            APIError(.forbidden, code: "invalid_credentials", message: "the current password is wrong")
        case .accountBlocked:
            ValidationOutcome.forbidden(.accountBlocked).apiError
        case .lockedOut(let seconds):
            APIError(
                .tooManyRequests, code: "locked_out", message: "too many failed logins; try again in \(seconds) s", headers: [.retryAfter: String(seconds)])
        case .loginInProgress:
            APIError(
                .tooManyRequests, code: "login_in_progress", message: "another login for this account is in progress; retry in a moment",
                headers: [.retryAfter: "1"])
        case .invalidGrant:
            APIError(.unauthorized, code: "invalid_grant", message: "the refresh token is invalid, expired or already used")
        case .accountChanged:
            .unavailable(code: "busy", "the account changed during the refresh; retry")
        case .hashingBusy:
            .unavailable(code: "busy", "too many passwords are being checked at once; retry in a moment")
        case .unavailable(let role):
            .unavailable("the \(role) is unavailable; try again shortly")
        case .noSuchAccount:
            .notFound("no such account")
        case .noSuchSession:
            .notFound("no such session")
        case .noSuchAPIKey:
            .notFound("no such API key")
        case .invalidName:
            .badRequest(code: "invalid_name", "name must be 1 to 100 characters", field: "name")
        case .invalidScopes:
            .badRequest(code: "invalid_scope", "scopes must be a non-empty list of scope names", field: "scopes")
        case .invalidExpiry(let maximum):
            .badRequest(code: "invalid_expiry", "expires_in must be 60 to \(maximum) seconds", field: "expires_in")
        case .invalidDailyLimit:
            .badRequest(
                code: "invalid_field", "daily_limit_micros must be 1 to 1000000000000 micro-units of USD (1 USD is 1000000)", field: "daily_limit_micros")
        case .insufficientScope(let beyond):
            APIError(.forbidden, code: "insufficient_scope", message: "you do not hold these scopes: \(beyond.joined(separator: " "))")
        case .tooManyAPIKeys(let limit):
            APIError(
                .conflict, code: "too_many_api_keys",
                message: "there are \(limit) live API keys already (yours, or the team's for a team's key); revoke one first")
        case .telegramNotConfigured:
            .notFound("Telegram sign-in is not set up on this server")
        case .telegramInitData(let refusal):
            refusal.apiError
        case .telegramLinkedElsewhere:
            APIError(.conflict, code: "telegram_linked_elsewhere", message: "this Telegram account is linked to another user")
        case .telegramAlreadyLinked:
            APIError(.conflict, code: "telegram_already_linked", message: "another Telegram account is linked to yours; unlink it first")
        case .telegramNotLinked:
            .notFound("no Telegram account is linked to yours")
        case .lastSignInMethod:
            APIError(
                .conflict, code: "last_sign_in_method", message: "Telegram is the only way to sign in to this account; it cannot be unlinked")
        case .invalidBotProof:
            APIError(.unauthorized, code: "invalid_bot_proof", message: "the call does not prove it holds the bot's token")
        }
    }
}

extension TelegramInitDataError {
    /// 400 for what is not initData at all; 401, each with its own code, for data Telegram did not
    /// sign (or signed too long ago, or that was used already).
    var apiError: APIError {
        switch self {
        case .malformed(let why):
            .badRequest(code: "invalid_init_data", "init_data is not Telegram Mini App data: \(why)", field: "init_data")
        case .missingHash:
            APIError(.unauthorized, code: "telegram_hash_missing", message: "init_data has no hash")
        case .missingSignature:
            APIError(.unauthorized, code: "telegram_signature_missing", message: "init_data has no signature")
        case .hashMismatch:
            APIError(.unauthorized, code: "telegram_hash_invalid", message: "init_data was not signed with this bot's token, or was changed")
        case .badSignature:
            APIError(.unauthorized, code: "telegram_signature_invalid", message: "init_data's signature is not Telegram's, or the data was changed")
        case .expired:
            APIError(.unauthorized, code: "telegram_init_data_expired", message: "init_data is too old; open the Mini App again")
        case .reused:
            APIError(.unauthorized, code: "telegram_init_data_reused", message: "this init_data was used already; open the Mini App again")
        }
    }
}
