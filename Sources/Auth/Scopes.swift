import ServiceKit
/// Scope names and the limits that keep identity headers small.
///
/// A scope is 1-32 characters of `a-z 0-9 : _ . -` starting with a letter; a grant holds at most
/// 16 distinct scopes. So `X-Scopes` is at most 16 * 33 bytes, and the identity headers stay well
/// under 1 KiB whatever a user was granted.
public enum Scopes {
    public static let maximumCount = 16
    public static let maximumLength = 32
    /// Every scope the product knows (ARCHITECTURE.md).
    public static let known: Set<String> = ["generate", "subscription:read", "profile", "admin"]
    /// What a new account is granted.
    public static let defaultGrant = ["generate", "subscription:read", "profile"]

    /// The scopes of a space-separated list, or nil when one is malformed or there are too many.
    public static func parse(_ text: some StringProtocol) -> [String]? {
        var scopes: [String] = []
        for part in text.split(separator: " ", omittingEmptySubsequences: true) {
            guard isWellFormed(part) else { return nil }
            let scope = String(part)
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes.count <= maximumCount ? scopes : nil
    }

    public static func isWellFormed(_ scope: some StringProtocol) -> Bool {
        let bytes = scope.utf8
        guard (1...maximumLength).contains(bytes.count), let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            return false
        }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}

/// Who a valid credential belongs to: what nginx copies onto the proxied request.
public struct Identity: Sendable, Equatable {
    public let userID: String
    /// The login session, or the API key's id for a bot.
    public let sessionID: String
    public let scopes: [String]
    /// The user's plan (`free` when they have no subscription).
    public let tier: String
    /// `X-Scopes`, joined once here rather than on every cached answer.
    let scopeHeader: String

    public init(userID: String, sessionID: String, scopes: [String], tier: String) {
        self.userID = userID
        self.sessionID = sessionID
        self.scopes = scopes
        self.tier = tier
        self.scopeHeader = scopes.joined(separator: " ")
    }

    /// The contract headers of a 200 from `/internal/jwt/validate`.
    public var headers: [(name: String, value: String)] {
        [(GatewayIdentity.userIDHeader.rawName, userID), (GatewayIdentity.scopesHeader.rawName, scopeHeader),
         (GatewayIdentity.tierHeader.rawName, tier), (GatewayIdentity.sessionIDHeader.rawName, sessionID)]
    }
}

/// The tier contract with subscribed: Redis key `billing:tier:<user id>` holds the plan code;
/// none (or a malformed one) means `free`.
enum Tier {
    static let free = "free"

    static func key(userID: String) -> String { "billing:tier:\(userID)" }

    static func parse(_ value: String?) -> String {
        guard let value, (1...32).contains(value.utf8.count),
            value.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") })
        else { return free }
        return value
    }
}
