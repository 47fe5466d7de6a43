/// Why an account flow refused a request: the flows throw these, and ``AccountError/apiError``
/// (`AccountError+HTTP.swift`) is the one place that says which HTTP answer each one is.
enum AccountError: Error, Sendable, Equatable {
    case invalidEmail
    /// A new password the policy refuses, with why; `field` is the request member that carried it.
    case weakPassword(String, field: String)
    case passwordTooLong(field: String)
    case emailTaken
    /// The email or password of a login is wrong (the same answer for an unknown email).
    case wrongPassword
    /// The current password a signed-in user gave to confirm a change is wrong.
    case wrongCurrentPassword
    case accountBlocked
    /// Too many failed logins: locked for this many seconds.
    case lockedOut(seconds: Int)
    /// Another login for the same account is being checked.
    case loginInProgress
    /// The refresh token is invalid, expired or spent.
    case invalidGrant
    /// The account's scopes changed twice during one refresh.
    case accountChanged
    /// The password hashing queue is full.
    case hashingBusy
    /// A server the flow needs is out of reach (`role`: what it is to the flow, for the message).
    case unavailable(role: String)
    case noSuchAccount
    case noSuchSession
    case noSuchAPIKey
    case invalidName
    case invalidScopes
    /// An API key lifetime outside 60 s to `maximum` seconds.
    case invalidExpiry(maximum: Int)
    /// An API key's daily limit on /v1 outside 1 µ to 1,000,000 USD.
    case invalidDailyLimit
    /// An API key asked for scopes its owner does not hold.
    case insufficientScope([String])
    /// The owner has `limit` live API keys already.
    case tooManyAPIKeys(limit: Int)
    /// Telegram sign-in is not set up here (no bot token or bot id): the routes do not exist.
    case telegramNotConfigured
    /// The Mini App's `initData` was refused.
    case telegramInitData(TelegramInitDataError)
    /// The Telegram account is linked to another user.
    case telegramLinkedElsewhere
    /// The user already has another Telegram account linked.
    case telegramAlreadyLinked
    case telegramNotLinked
    /// Unlinking would leave the account with no way to sign in (it has no password).
    case lastSignInMethod
    /// botd's call for a Telegram user's session did not prove it holds the bot's token.
    case invalidBotProof
}
