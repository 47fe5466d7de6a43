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

    func encoded(digestHex: String, secret: [UInt8]) throws -> String {
        "\(userID) \(keyID) \(expiry) \(try Self.seal(digestHex: digestHex, userID: userID, keyID: keyID, expiry: expiry, scopes: scopes, secret: secret))"
            + scopes.map { " " + $0 }.joined()
    }

    /// The record, or nil when it is malformed or its seal does not match (forged, edited, moved
    /// from another key, or sealed under another secret).
    static func decode(_ record: String, digestHex: String, secret: [UInt8]) -> Self? {
        let parts = record.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, Identifiers.isUUID(parts[0]), Identifiers.isUUID(parts[1]), let expiry = Int(parts[2]), expiry >= 0,
            let expected = try? seal(
                digestHex: digestHex, userID: parts[0], keyID: parts[1], expiry: expiry, scopes: Array(parts.dropFirst(4)), secret: secret),
            ConstantTime.equals(Array(expected.utf8), Array(parts[3].utf8)),
            let scopes = Scopes.parse(list: parts.dropFirst(4))
        else { return nil }
        return Self(userID: parts[0], keyID: parts[1], expiry: expiry, scopes: scopes)
    }

    private static func seal(digestHex: String, userID: String, keyID: String, expiry: Int, scopes: [String], secret: [UInt8]) throws -> String {
        let message = ([digestHex, userID, keyID, String(expiry)] + scopes).joined(separator: " ")
        return Base64URL.encode(try HMACSHA256.authenticationCode(for: Array(message.utf8), key: secret))
    }
}
