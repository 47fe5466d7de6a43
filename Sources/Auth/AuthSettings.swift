import Configuration
import Cryptography
import Foundation
import ServiceKit

/// authd's own settings, read (and checked) before anything connects.
struct AuthSettings: Sendable {
    /// Folder of the signing key files made by `skillctl keys generate` (`jwt.keys`).
    var keysDirectory: String
    /// `iss` written into and required from access tokens (`jwt.issuer`).
    var issuer: String
    /// `aud` written into and required from access tokens (`jwt.audience`).
    var audience: String
    /// Clock skew tolerated on exp/nbf/iat (`jwt.leeway`, seconds).
    var leeway: TimeInterval
    /// Access token lifetime (`jwt.lifetime`, seconds; 15 minutes by default).
    var accessTokenLifetime: TimeInterval
    /// A new key signs only once its file is this old, so every instance has loaded it before a
    /// token it signed can reach them (`jwt.activation`, seconds).
    var keyActivationDelay: TimeInterval
    /// How often the keys folder is read again (`jwt.reload`, seconds).
    var keyReloadInterval: TimeInterval
    /// Refresh token (and session) lifetime without use (`refresh.lifetime`, seconds; 30 days).
    var refreshTokenLifetime: TimeInterval
    /// Most entries in the in-process validation cache (`cache.entries`).
    var cacheEntries: Int
    /// Longest an entry is trusted without asking Redis again (`cache.ttl`, seconds): the bound on a
    /// revocation missed by a silently broken pub/sub link.
    var cacheTTL: TimeInterval
    /// Failed logins per account before lockout (`lockout.account`).
    var accountFailureThreshold: Int
    /// Failed logins per client address before lockout (`lockout.ip`).
    var addressFailureThreshold: Int
    /// The first lockout; each further failure doubles it (`lockout.base`, seconds).
    var lockoutBase: TimeInterval
    /// The longest lockout (`lockout.max`, seconds).
    var lockoutMaximum: TimeInterval
    /// Argon2id cost of new password hashes (`password.memory` KiB, `password.iterations`); the
    /// defaults are OWASP's (19 MiB, 2). Existing hashes verify with the cost they were made with.
    var passwordMemoryKiB: Int
    var passwordIterations: Int
    /// Password hashes waiting or running before further sign-ins are refused with 503 (`password.queue`).
    var passwordQueueLimit: Int
    /// An API key's lifetime when the request names none (`apikeys.lifetime`, 90 days) and the
    /// longest one allowed (`apikeys.max`, a year): no key lives forever.
    var apiKeyLifetime: TimeInterval
    var apiKeyMaximumLifetime: TimeInterval
    /// Live API keys per user (`apikeys.limit`); creating one more is refused.
    var apiKeysPerUser: Int
    /// Live sessions per user (`sessions.limit`); a login beyond it ends the oldest.
    var sessionsPerUser: Int
    /// Cookies carry the `Secure` attribute (`cookies.secure`; off only for plain-HTTP development).
    var secureCookies: Bool
    /// The lean listener that serves only `/internal/jwt/validate` (`validate.listen`), if any.
    var validateListen: ListenAddress?
    /// Event-loop threads of that listener (`validate.threads`). One (the default) runs it on the
    /// validator's own loop, where the validator's Redis connection lives and a new token's lookup
    /// is answered without a thread hop; more give it loops of its own, each miss then hopping to
    /// that loop and back.
    var validateThreads: Int
    /// Telegram sign-in, when a bot is configured; nil: its routes answer 404.
    var telegram: TelegramSettings?
    /// Where botd asks for Telegram users' sessions (`telegram.sessions-listen`), if anywhere: a
    /// listener of its own, in a folder only botd may enter (never the socket nginx reaches).
    var telegramSessionsListen: ListenAddress?
    /// Where docsd asks which account has an email (`accounts.listen`), if anywhere: a listener of
    /// its own, in a folder only docsd may enter.
    var accountsListen: ListenAddress?

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        keysDirectory = try configuration.requiredString("jwt.keys")
        issuer = reader.string(forKey: "jwt.issuer", default: "skillup")
        audience = reader.string(forKey: "jwt.audience", default: "skillup-api")
        leeway = try Self.seconds(reader.double(forKey: "jwt.leeway", default: 30), key: "jwt.leeway", allowZero: true)
        accessTokenLifetime = try Self.seconds(reader.double(forKey: "jwt.lifetime", default: 900), key: "jwt.lifetime")
        keyActivationDelay = try Self.seconds(reader.double(forKey: "jwt.activation", default: 60), key: "jwt.activation", allowZero: true)
        keyReloadInterval = try Self.seconds(reader.double(forKey: "jwt.reload", default: 10), key: "jwt.reload")
        refreshTokenLifetime = try Self.seconds(reader.double(forKey: "refresh.lifetime", default: 30 * 86_400), key: "refresh.lifetime")
        cacheEntries = reader.int(forKey: "cache.entries", default: 10_000)
        guard cacheEntries >= 0 else { throw ConfigurationError(key: "cache.entries", message: "must be 0 (no cache) or more") }
        cacheTTL = try Self.seconds(reader.double(forKey: "cache.ttl", default: 30), key: "cache.ttl")
        accountFailureThreshold = reader.int(forKey: "lockout.account", default: 5)
        addressFailureThreshold = reader.int(forKey: "lockout.ip", default: 20)
        guard accountFailureThreshold > 0, addressFailureThreshold > 0 else {
            throw ConfigurationError(key: "lockout.account", message: "thresholds must be positive")
        }
        lockoutBase = try Self.seconds(reader.double(forKey: "lockout.base", default: 1), key: "lockout.base")
        lockoutMaximum = try Self.seconds(reader.double(forKey: "lockout.max", default: 900), key: "lockout.max")
        passwordMemoryKiB = reader.int(forKey: "password.memory", default: 19_456)
        passwordIterations = reader.int(forKey: "password.iterations", default: 2)
        guard (1_024...1_048_576).contains(passwordMemoryKiB), (1...16).contains(passwordIterations) else {
            throw ConfigurationError(key: "password.memory", message: "memory must be 1024 to 1048576 KiB and iterations 1 to 16")
        }
        passwordQueueLimit = reader.int(forKey: "password.queue", default: 32)
        guard (1...10_000).contains(passwordQueueLimit) else { throw ConfigurationError(key: "password.queue", message: "must be 1 to 10000") }
        apiKeyLifetime = try Self.seconds(reader.double(forKey: "apikeys.lifetime", default: 90 * 86_400), key: "apikeys.lifetime")
        apiKeyMaximumLifetime = try Self.seconds(reader.double(forKey: "apikeys.max", default: 365 * 86_400), key: "apikeys.max")
        guard apiKeyLifetime <= apiKeyMaximumLifetime else {
            throw ConfigurationError(key: "apikeys.lifetime", message: "must not exceed apikeys.max")
        }
        apiKeysPerUser = reader.int(forKey: "apikeys.limit", default: 20)
        sessionsPerUser = reader.int(forKey: "sessions.limit", default: 50)
        guard apiKeysPerUser > 0, sessionsPerUser > 0 else { throw ConfigurationError(key: "apikeys.limit", message: "limits must be positive") }
        secureCookies = reader.bool(forKey: "cookies.secure", default: true)
        validateListen = try reader.string(forKey: "validate.listen").map { try ListenAddress(parsing: $0) }
        validateThreads = reader.int(forKey: "validate.threads", default: 1)
        guard (1...64).contains(validateThreads) else { throw ConfigurationError(key: "validate.threads", message: "must be 1 to 64") }
        telegram = try TelegramSettings(reader: reader)
        telegramSessionsListen = try reader.string(forKey: "telegram.sessions-listen").map { try ListenAddress(parsing: $0) }
        accountsListen = try reader.string(forKey: "accounts.listen").map { try ListenAddress(parsing: $0) }
    }

    private static func seconds(_ value: Double, key: String, allowZero: Bool = false) throws -> TimeInterval {
        guard value.isFinite, allowZero ? value >= 0 : value > 0 else {
            throw ConfigurationError(key: key, message: allowZero ? "must be zero or more seconds" : "must be positive seconds")
        }
        return value
    }
}

/// The Telegram bot whose Mini App signs users in.
struct TelegramSettings: Sendable {
    /// The bot's token (`telegram.bot-token`, a credential file `telegram-bot-token` under systemd):
    /// the key of initData's HMAC form. nil when only the bot's id is known.
    var botToken: [UInt8]?
    /// The bot's id: the token's part before the colon, or `telegram.bot-id` for a Mini App of a bot
    /// whose token this server does not hold (then only the Ed25519 form is accepted).
    var botID: String
    /// Telegram's Ed25519 public key of the signature form (`telegram.public-key`, hex; the
    /// production key by default, `40055058...` for Telegram's test environment).
    var publicKey: [UInt8]
    /// The oldest initData accepted (`telegram.max-age`, seconds; an hour).
    var maximumAge: TimeInterval

    init?(reader: ConfigReader) throws {
        // An empty file is no bot (systemd's SetCredential= default when the file does not exist).
        let token = reader.string(forKey: "telegram.bot-token", isSecret: true)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        let configuredID = reader.string(forKey: "telegram.bot-id")
        guard token != nil || configuredID != nil else { return nil }
        if let token {
            let parts = token.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].allSatisfy(\.isASCII), UInt64(parts[0]) != nil, parts[1].count >= 20 else {
                throw ConfigurationError(key: "telegram.bot-token", message: "is not a Telegram bot token (<bot id>:<secret>)")
            }
            botToken = Array(token.utf8)
            botID = String(parts[0])
            if let configuredID, configuredID != botID {
                throw ConfigurationError(key: "telegram.bot-id", message: "names another bot than telegram.bot-token's (\(botID))")
            }
        } else {
            guard let configuredID, UInt64(configuredID) != nil else { throw ConfigurationError(key: "telegram.bot-id", message: "must be a number") }
            botID = configuredID
        }
        let keyHex = reader.string(forKey: "telegram.public-key", default: TelegramInitDataVerifier.productionPublicKeyHex)
        guard let key = Hex.decode(keyHex), key.count == 32 else {
            throw ConfigurationError(key: "telegram.public-key", message: "must be 64 hex digits (an Ed25519 public key)")
        }
        publicKey = key
        maximumAge = reader.double(forKey: "telegram.max-age", default: 3600)
        guard maximumAge > 0, maximumAge <= 86_400 else { throw ConfigurationError(key: "telegram.max-age", message: "must be 1 to 86400 seconds") }
    }
}
