public import Cryptography
public import Foundation

/// Makes Mini App `initData` as Telegram does (https://core.telegram.org/bots/webapps): the HMAC
/// `hash` under a bot token and, with a key standing in for Telegram's, the Ed25519 `signature`.
/// For the tests and the fake Telegram; the validator it feeds is written from the documentation,
/// and checked against data Telegram itself signed (AuthTests' vectors).
public struct TelegramInitDataSigner: Sendable {
    public let botToken: String
    /// The key that stands in for Telegram's published one (`telegram.public-key` of the server).
    public let telegramKey: Ed25519PrivateKey

    public init(botToken: String, telegramKey: Ed25519PrivateKey) {
        self.botToken = botToken
        self.telegramKey = telegramKey
    }

    public var botID: String { String(botToken.prefix { $0 != ":" }) }

    /// The hex of the stand-in key's public half, as `telegram.public-key` takes it.
    public var telegramPublicKeyHex: String { Hex.encode(telegramKey.publicKey.rawRepresentation) }

    /// initData for the user, signed both ways unless told otherwise; `extra` adds or replaces pairs
    /// before signing.
    public func initData(
        userID: Int64, firstName: String = "Test", username: String? = nil, languageCode: String? = "en", authDate: Date = Date(),
        withSignature: Bool = true, withHash: Bool = true, extra: [String: String] = [:]
    ) throws -> String {
        var user: [String: Any] = ["id": userID, "first_name": firstName]
        if let username { user["username"] = username }
        if let languageCode { user["language_code"] = languageCode }
        let userJSON = String(decoding: try JSONSerialization.data(withJSONObject: user, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        var pairs = [
            "query_id": "AA" + Base64URL.encode(try SecureRandom.bytes(count: 12)), "user": userJSON,
            "auth_date": String(Int64(authDate.timeIntervalSince1970)),
        ]
        pairs.merge(extra) { _, new in new }
        if withSignature {
            let message = "\(botID):WebAppData\n" + Self.checkString(pairs)
            pairs["signature"] = Base64URL.encode(try telegramKey.signature(for: Array(message.utf8)))
        }
        if withHash {
            let secret = try HMACSHA256.authenticationCode(for: Array(botToken.utf8), key: Array("WebAppData".utf8))
            pairs["hash"] = Hex.encode(try HMACSHA256.authenticationCode(for: Array(Self.checkString(pairs).utf8), key: secret))
        }
        return Self.encode(pairs)
    }

    /// The pairs as a query string, in a fixed order.
    public static func encode(_ pairs: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            .joined(separator: "&")
    }

    static func checkString(_ pairs: [String: String]) -> String {
        pairs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
    }
}
