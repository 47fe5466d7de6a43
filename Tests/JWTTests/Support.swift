import Cryptography
import Foundation
import JWT

/// Loads files from `Fixtures/` next to this file.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func decode<Value: Decodable>(_ type: Value.Type, from name: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// A fixed clock and the keys and validator the token tests share.
struct Harness {
    static let issuer = "https://auth.skillup.test"
    static let audience = "skillup-gateway"
    /// 2026-01-01T00:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)

    let edKey: Ed25519PrivateKey
    let ecKey: P256PrivateKey
    let edSigner: JWTSigningKey
    let ecSigner: JWTSigningKey
    let validator: JWTValidator

    init() throws {
        edKey = try Ed25519PrivateKey()
        ecKey = try P256PrivateKey()
        edSigner = try JWTSigningKey(edKey)
        ecSigner = try JWTSigningKey(ecKey)
        let keys = JWTKeySet([edSigner.verificationKey, ecSigner.verificationKey])
        validator = JWTValidator(keys: keys, configuration: .init(issuer: Self.issuer, audience: Self.audience))
    }

    /// Standard access-token claims issued at `issuedAt`.
    func claims(issuedAt: Date = Harness.now, scopes: [String] = ["read", "write"]) throws -> JWTClaims {
        try JWTClaims(
            issuer: Self.issuer, audience: Self.audience, subject: "user-42", sessionID: "session-7",
            scopes: scopes, issuedAt: issuedAt
        )
    }

    /// The claims JSON of a valid token at ``now``, with `overrides` replacing or (nil) removing members.
    func payload(_ overrides: [String: String?] = [:]) -> String {
        var members: [String: String] = [
            "iss": "\"\(Self.issuer)\"", "aud": "\"\(Self.audience)\"", "sub": "\"user-42\"",
            "jti": "\"j-1\"", "sid": "\"session-7\"", "iat": "1767225600", "nbf": "1767225600",
            "exp": "1767226500", "scope": "\"read write\"",
        ]
        for (name, value) in overrides { members[name] = value }
        return "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
    }

    /// A token with arbitrary header and payload text, signed by the Ed25519 key (or ES256 key).
    func forge(header: String, payload: String, es256: Bool = false) throws -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let signature = es256 ? try ecKey.signature(for: Array(input.utf8)) : try edKey.signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// The standard header for the Ed25519 key.
    var edHeader: String { "{\"alg\":\"EdDSA\",\"kid\":\"\(edSigner.kid)\",\"typ\":\"JWT\"}" }
    /// The standard header for the P-256 key.
    var ecHeader: String { "{\"alg\":\"ES256\",\"kid\":\"\(ecSigner.kid)\",\"typ\":\"JWT\"}" }

    /// The error code `validate` throws at ``now``, or nil when the token is accepted.
    func failure(_ token: String, now: Date = Harness.now) -> JWTError.Code? {
        do {
            _ = try validator.validate(token, now: now)
            return nil
        } catch {
            return error.code
        }
    }
}
