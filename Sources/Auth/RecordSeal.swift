import Cryptography
import ServiceKit
import Synchronization

/// The integrity check on the API-key records authd keeps in Redis.
///
/// Every record carries an HMAC-SHA256 of its fields and of the key's digest, under a secret kept in
/// PostgreSQL's `auth` schema, which only authd's role can read. A daemon that can write to Redis (a
/// compromised one, or a leaked password) cannot make a record that authd accepts, nor move a
/// record to another key: a record that fails the check counts as missing, and the key is looked
/// up in PostgreSQL again.
final class RecordSeal: Sendable {
    private let store: any AccountStore
    private let loaded = Mutex<[UInt8]?>(nil)

    init(store: any AccountStore) {
        self.store = store
    }

    /// The secret, read from PostgreSQL once per process (the first instance that asks makes it).
    func secret() async throws -> [UInt8] {
        if let secret = loaded.withLock({ $0 }) { return secret }
        let candidate = Base64URL.encode(try SecureRandom.bytes(count: 32))
        let secret = Array(try await store.recordSealSecret(candidate: candidate).utf8)
        loaded.withLock { $0 = secret }
        return secret
    }
}

/// An API key's record in Redis: `"v3 <user id> <team id> <key id> <expiry, 0 for none> <daily
/// limit, 0 for none> <seal> <scopes...>"`, the seal an HMAC over the digest, everything before the
/// seal and the scopes. The user id comes right after the form's name: the lookup script reads the
/// owner's block and tier by it. A personal key's team is its user's own. A record of an earlier
/// form (no team, or no limit either), which authd wrote before keys had them, reads as missing:
/// the key is read again from PostgreSQL and written anew, so that no key's team or limit is lost
/// to a record an older instance wrote.
struct SealedAPIKeyRecord: Sendable, Equatable {
    let userID: String
    let teamID: String
    let keyID: String
    /// Seconds since 1970; 0 for none.
    let expiry: Int
    let scopes: [String]
    /// The key's spending limit per UTC day on /v1, in µ; nil for none.
    var dailyLimit: Int64? = nil

    /// The form's name: the first word of every record this version writes.
    static let form = "v3"
    /// The fields before the seal.
    private static let headCount = 6

    func encoded(digestHex: String, secret: [UInt8]) throws -> String {
        let head = "\(Self.form) \(userID) \(teamID) \(keyID) \(expiry) \(dailyLimit ?? 0)"
        return "\(head) \(try Self.seal(digestHex: digestHex, head: head, scopes: scopes, secret: secret))" + scopes.map { " " + $0 }.joined()
    }

    /// The record, or nil when it is malformed, of an earlier form, or its seal does not match
    /// (forged, edited, moved from another key, or sealed under another secret).
    static func decode(_ record: String, digestHex: String, secret: [UInt8]) -> Self? {
        let parts = record.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= headCount + 1, parts[0] == form, Identifiers.isUUID(parts[1]), Identifiers.isUUID(parts[2]), Identifiers.isUUID(parts[3]),
            let expiry = Int(parts[4]), expiry >= 0, let limit = Int64(parts[5]), limit >= 0,
            let expected = try? seal(
                digestHex: digestHex, head: parts.prefix(headCount).joined(separator: " "), scopes: Array(parts.dropFirst(headCount + 1)), secret: secret),
            ConstantTime.equals(Array(expected.utf8), Array(parts[headCount].utf8)),
            let scopes = Scopes.parse(list: parts.dropFirst(headCount + 1))
        else { return nil }
        return Self(userID: parts[1], teamID: parts[2], keyID: parts[3], expiry: expiry, scopes: scopes, dailyLimit: limit == 0 ? nil : limit)
    }

    private static func seal(digestHex: String, head: String, scopes: [String], secret: [UInt8]) throws -> String {
        let message = ([digestHex, head] + scopes).joined(separator: " ")
        return Base64URL.encode(try HMACSHA256.authenticationCode(for: Array(message.utf8), key: secret))
    }
}
