/// Scope names and the limits that keep identity headers small.
///
/// A scope is 1-32 characters of `a-z 0-9 : _ . -` starting with a letter; a grant holds at most
/// 16 distinct scopes. So `X-Scopes` is at most 16 * 33 bytes, and the identity headers stay well
/// under 1 KiB whatever a user was granted.
public enum Scopes {
    static let maximumCount = 16
    static let maximumLength = 32
    /// Every scope the product knows (ARCHITECTURE.md, and `subscription:manage`: a user's own
    /// cancel, resume and change of plan, which a bot's key is not given unless asked for;
    /// `documents`: a user's documents at docsd; `inference`: the developers' API under `/v1`,
    /// which spends the prepaid balance; `usage:read`: that API's usage report and the balance;
    /// `balance:manage`: topping the balance up).
    public static let known: Set<String> = [
        "generate", "subscription:read", "subscription:manage", "profile", "documents", "inference", "usage:read", "balance:manage", "admin",
    ]
    /// What a new account is granted.
    static let defaultGrant = [
        "generate", "subscription:read", "subscription:manage", "profile", "documents", "inference", "usage:read", "balance:manage",
    ]

    /// The scopes of a space-separated list, or nil when one is malformed or there are too many.
    static func parse(_ text: some StringProtocol) -> [String]? {
        parse(list: text.split(separator: " ", omittingEmptySubsequences: true))
    }

    /// The scopes of a list (a token's `scope` claim, already split), or nil when one is malformed
    /// or there are too many.
    static func parse(list: some Sequence<some StringProtocol>) -> [String]? {
        var scopes: [String] = []
        for part in list {
            guard isWellFormed(part) else { return nil }
            let scope = String(part)
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes.count <= maximumCount ? scopes : nil
    }

    static func isWellFormed(_ scope: some StringProtocol) -> Bool {
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
