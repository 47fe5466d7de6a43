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

/// An API key's record in Redis: `"<user id> <key id> <expiry, 0 for none> <seal> <scopes...>"`.
/// The user id comes first: the lookup script reads the owner's block and tier by it.
struct SealedAPIKeyRecord: Sendable, Equatable {
    let userID: String
    let keyID: String
    /// Seconds since 1970; 0 for none.
    let expiry: Int
    let scopes: [String]
    /// The key's spending limit per UTC day on /v1, in µ; nil for none.
    var dailyLimit: Int64? = nil

    /// `user key expiry seal scopes...`; a key with a daily limit is written
    /// `v2 user key expiry limit seal scopes...` (and sealed with its limit), so that a record of a
    /// key without one reads as before on every instance.
    func encoded(digestHex: String, secret: [UInt8]) throws -> String {
        let head = dailyLimit.map { "v2 \(userID) \(keyID) \(expiry) \($0)" } ?? "\(userID) \(keyID) \(expiry)"
        return "\(head) \(try Self.seal(digestHex: digestHex, head: head, scopes: scopes, secret: secret))" + scopes.map { " " + $0 }.joined()
    }

    /// The record, or nil when it is malformed or its seal does not match (forged, edited, moved
    /// from another key, or sealed under another secret).
    static func decode(_ record: String, digestHex: String, secret: [UInt8]) -> Self? {
        var parts = record.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        var dailyLimit: Int64?
        var head = parts.prefix(3).joined(separator: " ")
        if parts.first == "v2" {
            guard parts.count >= 6, let limit = Int64(parts[4]), limit > 0 else { return nil }
            dailyLimit = limit
            head = parts.prefix(5).joined(separator: " ")
            parts = Array(parts.dropFirst().prefix(3)) + Array(parts.dropFirst(5))
        }
        guard parts.count >= 4, Identifiers.isUUID(parts[0]), Identifiers.isUUID(parts[1]), let expiry = Int(parts[2]), expiry >= 0,
            let expected = try? seal(digestHex: digestHex, head: head, scopes: Array(parts.dropFirst(4)), secret: secret),
            ConstantTime.equals(Array(expected.utf8), Array(parts[3].utf8)),
            let scopes = Scopes.parse(list: parts.dropFirst(4))
        else { return nil }
        return Self(userID: parts[0], keyID: parts[1], expiry: expiry, scopes: scopes, dailyLimit: dailyLimit)
    }

    private static func seal(digestHex: String, head: String, scopes: [String], secret: [UInt8]) throws -> String {
        let message = ([digestHex, head] + scopes).joined(separator: " ")
        return Base64URL.encode(try HMACSHA256.authenticationCode(for: Array(message.utf8), key: secret))
    }
}
