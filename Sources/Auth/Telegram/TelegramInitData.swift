import Cryptography
import Foundation

/// The Telegram user a Mini App's `initData` vouches for, once its signature, age and freshness
/// have been checked.
struct TelegramUser: Sendable, Equatable {
    let id: Int64
    let firstName: String
    let lastName: String?
    let username: String?
    /// The user's Telegram language (an IETF tag such as `ru` or `en`), if sent.
    let languageCode: String?
}

/// What a checked `initData` gives: the user, when Telegram signed it, and the digest under which
/// its single use is recorded.
struct VerifiedInitData: Sendable {
    let user: TelegramUser
    let authDate: Date
    /// SHA-256 of every decoded pair, sorted: the key of its single use.
    let digest: [UInt8]
}

/// Checks a Telegram Mini App's `initData` exactly as https://core.telegram.org/bots/webapps
/// documents it.
///
/// - The HMAC form: `hash` = HMAC-SHA256(key: HMAC-SHA256(key: "WebAppData", bot token), the
///   data-check string), where the data-check string is every `key=value` pair but `hash`, sorted by
///   key, joined by line feeds. Needs the bot token.
/// - The Ed25519 form: `signature` (base64url) over `"<bot id>:WebAppData"` and a line feed followed
///   by every pair but `hash` and `signature`, sorted and joined the same way, under Telegram's
///   published public key. Needs only the bot id.
///
/// With a bot token, `hash` is required and any `signature` is checked too; with only a bot id
/// (data of another bot's Mini App), `signature` is required. Every comparison is constant-time.
/// The signature is checked before anything else in the data is believed.
struct TelegramInitDataVerifier: Sendable {
    /// The bot's token: its HMAC form's key (nil when only its id is known).
    let botToken: [UInt8]?
    let botID: String
    let publicKey: Ed25519PublicKey
    /// The oldest `auth_date` accepted (`telegram.max-age`).
    let maximumAge: TimeInterval

    init(_ settings: TelegramSettings) throws {
        botToken = settings.botToken
        botID = settings.botID
        publicKey = try Ed25519PublicKey(rawRepresentation: settings.publicKey)
        maximumAge = settings.maximumAge
    }

    init(botToken: [UInt8]?, botID: String, publicKey: Ed25519PublicKey, maximumAge: TimeInterval) {
        self.botToken = botToken
        self.botID = botID
        self.publicKey = publicKey
        self.maximumAge = maximumAge
    }

    /// Telegram's Ed25519 key for production bots (the documented one; `telegram.public-key`).
    static let productionPublicKeyHex = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"

    /// The user the data vouches for, or why it does not. Single use is the caller's to record.
    func verify(_ initData: String, now: Date) throws(TelegramInitDataError) -> VerifiedInitData {
        let pairs = try Self.pairs(of: initData)
        let hash = pairs["hash"]
        let signature = pairs["signature"]
        if botToken != nil, hash == nil { throw .missingHash }
        if botToken == nil, signature == nil { throw .missingSignature }
        if let signature {
            let message = "\(botID):WebAppData\n" + Self.checkString(pairs, without: ["hash", "signature"])
            guard let bytes = try? Base64URL.decode(signature), publicKey.isValidSignature(bytes, for: Array(message.utf8)) else {
                throw .badSignature
            }
        }
        if let botToken, let hash {
            guard let secret = try? HMACSHA256.authenticationCode(for: Array(botToken), key: Array("WebAppData".utf8)),
                let sent = Hex.decode(hash), sent.count == HMACSHA256.byteCount,
                HMACSHA256.isValidAuthenticationCode(sent, for: Array(Self.checkString(pairs, without: ["hash"]).utf8), key: secret)
            else {
                throw .hashMismatch
            }
        }
        guard let seconds = pairs["auth_date"].flatMap(Int64.init) else { throw .malformed("auth_date is missing") }
        let authDate = Date(timeIntervalSince1970: TimeInterval(seconds))
        let age = now.timeIntervalSince(authDate)
        // A little from the future is a clock apart; more is not data Telegram made.
        guard age <= maximumAge, age >= -60 else { throw .expired }
        guard let userJSON = pairs["user"], let user = Self.user(fromJSON: userJSON) else {
            throw .malformed("user is missing or is not a Telegram user")
        }
        // Over the decoded pairs, not the text: another spelling of the same data (pairs reordered,
        // %7b for %7B, + for %20) is the same initData and must not sign in twice.
        guard let digest = try? SHA256.hash(Array(Self.checkString(pairs, without: []).utf8)) else { throw .malformed("unreadable") }
        return VerifiedInitData(user: user, authDate: authDate, digest: digest)
    }

    /// The pairs of a query string, decoded as a form (`+` is a space); a key given twice is refused
    /// (which of the two did Telegram sign?).
    static func pairs(of initData: String) throws(TelegramInitDataError) -> [String: String] {
        guard !initData.isEmpty, initData.utf8.count <= 8192 else { throw .malformed("init_data must be 1 to 8192 bytes") }
        var pairs: [String: String] = [:]
        for item in initData.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let key = decode(parts[0]), let value = decode(parts[1]), !key.isEmpty else {
                throw .malformed("init_data is not a query string")
            }
            guard pairs.updateValue(value, forKey: key) == nil else { throw .malformed("\(key) is given twice") }
        }
        return pairs
    }

    private static func decode(_ component: Substring) -> String? {
        component.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The documented data-check string: `key=value` lines sorted by key (byte order).
    static func checkString(_ pairs: [String: String], without excluded: Set<String>) -> String {
        pairs.filter { !excluded.contains($0.key) }
            .sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            .map { "\($0.key)=\($0.value)" }
            .joined(separator: "\n")
    }

    private struct UserMembers: Decodable {
        let id: Int64
        let first_name: String?
        let last_name: String?
        let username: String?
        let language_code: String?
    }

    private static func user(fromJSON json: String) -> TelegramUser? {
        guard let members = try? JSONDecoder().decode(UserMembers.self, from: Data(json.utf8)), members.id > 0 else { return nil }
        return TelegramUser(
            id: members.id, firstName: members.first_name ?? "", lastName: members.last_name, username: members.username,
            languageCode: members.language_code)
    }
}

/// Why `initData` was refused; each is its own stable code (``AccountError`` turns them into 401s).
enum TelegramInitDataError: Error, Sendable, Equatable {
    case malformed(String)
    case missingHash
    case missingSignature
    /// The hash does not match: a changed field, or another bot's token.
    case hashMismatch
    case badSignature
    /// `auth_date` older than `telegram.max-age` (or from the future).
    case expired
    /// This very `initData` was accepted before.
    case reused
}
