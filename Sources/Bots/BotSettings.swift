import Cryptography
import Foundation
import ServiceKit

/// botd's settings; a bad value stops start-up.
struct BotSettings: Sendable {
    /// The bot's token (`telegram.bot-token`, a credential file `telegram-bot-token`), for the Bot
    /// API and for authd's session calls.
    var botToken: String
    /// What Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (`telegram.webhook-secret`, a
    /// credential file `telegram-webhook-secret`; the `secret_token` given to `setWebhook`).
    var webhookSecret: [UInt8]
    /// The Bot API's base URL (`telegram.api-url`): Telegram's, or a fake's in the tests.
    var apiURL: String
    /// The gateway (nginx) through which botd calls the product API as the user (`gateway.url`).
    var gatewayURL: String
    /// A PEM file of the certificates that the gateway's is trusted by (`gateway.ca-file`; the
    /// system's roots when unset): the local stack's development certificate.
    var gatewayCAFile: String?
    /// authd's sockets, for the Telegram session calls (`authd.sockets`, comma-separated, in turn).
    var authdSockets: [String]
    /// The bot's username (`telegram.bot-username`), if known: commands addressed to another bot in a
    /// group are left alone.
    var botUsername: String?
    /// The web app's address in replies (`public.url`; the gateway's by default).
    var publicURL: String
    /// Updates handled at once, each of another chat (`updates.concurrency`).
    var concurrency: Int
    /// How long an update stays its handler's without a renewal (`updates.lease`, seconds; renewed
    /// every third of it while its command runs): how soon another botd takes over an update whose
    /// handler died.
    var lease: Duration
    /// Handlings of one update before it is given up, and its user told the service is busy
    /// (`updates.attempts`).
    var attempts: Int
    /// How long a handled update is kept against redeliveries (`updates.keep`, seconds; a day, as
    /// Telegram keeps an update).
    var keepHandled: TimeInterval
    /// How often the store is looked at for updates another instance stored (`updates.poll`).
    var pollInterval: Duration
    /// The pause before an update the product could not answer is tried again (`updates.retry-pause`).
    var retryPause: Duration
    /// The longest one call to the product may take (`gateway.timeout`, seconds).
    var gatewayTimeout: Duration
    /// This instance's lease-holder identity, from its listen address: the same across restarts,
    /// different for the other instance.
    var instance: UUID

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        botToken = try configuration.requiredString("telegram.bot-token", isSecret: true).trimmingCharacters(in: .whitespacesAndNewlines)
        guard botToken.contains(":"), botToken.count >= 20 else {
            throw ConfigurationError(key: "telegram.bot-token", message: "is not a Telegram bot token (<bot id>:<secret>)")
        }
        let secret = try configuration.requiredString("telegram.webhook-secret", isSecret: true).trimmingCharacters(in: .whitespacesAndNewlines)
        // Telegram's own rule for secret_token: 1-256 of A-Z, a-z, 0-9, _ and -.
        guard (16...256).contains(secret.count), secret.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw ConfigurationError(key: "telegram.webhook-secret", message: "must be 16 to 256 of A-Z, a-z, 0-9, _ and -")
        }
        webhookSecret = Array(secret.utf8)
        apiURL = reader.string(forKey: "telegram.api-url", default: "https://api.telegram.org").trimmingSuffix("/")
        gatewayURL = reader.string(forKey: "gateway.url", default: "https://localhost:8443").trimmingSuffix("/")
        gatewayCAFile = reader.string(forKey: "gateway.ca-file")
        authdSockets = reader.stringArray(forKey: "authd.sockets", default: []).filter { !$0.isEmpty }
        guard !authdSockets.isEmpty, authdSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "authd.sockets", message: "must name authd's sockets, as absolute paths")
        }
        publicURL = reader.string(forKey: "public.url", default: gatewayURL).trimmingSuffix("/")
        botUsername = reader.string(forKey: "telegram.bot-username").map { $0.hasPrefix("@") ? String($0.dropFirst()) : $0 }
        concurrency = reader.int(forKey: "updates.concurrency", default: 8)
        guard (1...256).contains(concurrency) else { throw ConfigurationError(key: "updates.concurrency", message: "must be from 1 to 256") }
        lease = try Self.duration(reader.double(forKey: "updates.lease", default: 30), key: "updates.lease")
        attempts = reader.int(forKey: "updates.attempts", default: 5)
        guard (1...100).contains(attempts) else { throw ConfigurationError(key: "updates.attempts", message: "must be from 1 to 100") }
        keepHandled = reader.double(forKey: "updates.keep", default: 86_400)
        guard keepHandled >= 60 else { throw ConfigurationError(key: "updates.keep", message: "must be at least 60 seconds") }
        pollInterval = try Self.duration(reader.double(forKey: "updates.poll", default: 0.5), key: "updates.poll")
        retryPause = try Self.duration(reader.double(forKey: "updates.retry-pause", default: 2), key: "updates.retry-pause")
        gatewayTimeout = try Self.duration(reader.double(forKey: "gateway.timeout", default: 70), key: "gateway.timeout")
        instance = Self.uuid(naming: configuration.listen.description)
    }

    /// A UUID made from the first 16 bytes of the name's SHA-256.
    private static func uuid(naming name: String) -> UUID {
        let digest = (try? SHA256.hash(Array(name.utf8))) ?? Array(repeating: 0, count: 32)
        return UUID(
            uuid: (
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
                digest[8], digest[9], digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]
            ))
    }

    private static func duration(_ seconds: Double, key: String) throws -> Duration {
        guard seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw ConfigurationError(key: key, message: "must be more than 0 seconds, at most a day")
        }
        return .milliseconds(Int64(seconds * 1000))
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
