import Cryptography
import Foundation
import JWT
import TestSupport
import Testing

/// Tokens minted by PyJWT, an independent JOSE implementation (installed by scripts/test), against
/// the validator authd uses: the good ones pass, the forgeries fail.
@Suite struct PyJWTInteropTests {
    struct MintingFailed: Error, CustomStringConvertible {
        let description: String
    }

    static let issuer = "https://localhost:8443/auth"
    static let audience = "skillup-gateway"

    /// Runs PyJWT's `jwt.encode` with `claims`, the key in PEM and the header given.
    func mint(claims: String, key: String, algorithm: String, headers: String) async throws -> String {
        // scripts/test installs PyJWT there and says so in SKILLUP_PYTHON.
        let python = ProcessInfo.processInfo.environment["SKILLUP_PYTHON"] ?? ".build/pyjwt-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MintingFailed(description: "no Python with PyJWT at \(python): run the tests once with scripts/test, which installs it")
        }
        let script = """
            import json, sys, jwt
            claims, key, alg, headers = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
            print(jwt.encode(claims, key, algorithm=alg, headers=headers))
            """
        let outcome = try await ChildProcess.run(python, ["-c", script, claims, key, algorithm, headers])
        guard outcome.status == 0 else { throw MintingFailed(description: "PyJWT failed: \(outcome.output)") }
        return outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func claims(expiresIn: Int = 900) -> String {
        let now = Int(Date().timeIntervalSince1970)
        return """
            {"iss": "\(Self.issuer)", "aud": "\(Self.audience)", "sub": "user-42", "sid": "session-7", "jti": "\(UUID().uuidString)",
             "iat": \(now), "nbf": \(now), "exp": \(now + expiresIn), "scope": "generate profile"}
            """
    }

    func validator(_ key: JWTVerificationKey) -> JWTValidator {
        JWTValidator(keys: JWTKeySet([key]), configuration: .init(issuer: Self.issuer, audience: Self.audience))
    }

    @Test func anEdDSATokenFromPyJWTValidates() async throws {
        let key = try Ed25519PrivateKey()
        let verification = try JWTVerificationKey(key.publicKey)
        let token = try await mint(claims: claims(), key: try key.pemRepresentation, algorithm: "EdDSA", headers: #"{"kid": "\#(verification.thumbprint)"}"#)
        let access = try validator(verification).validate(token)
        #expect(access.subject == "user-42")
        #expect(access.sessionID == "session-7")
        #expect(access.scopes == ["generate", "profile"])
    }

    @Test func anES256TokenFromPyJWTValidates() async throws {
        let key = try P256PrivateKey()
        let verification = try JWTVerificationKey(key.publicKey)
        let token = try await mint(claims: claims(), key: try key.pemRepresentation, algorithm: "ES256", headers: #"{"kid": "\#(verification.thumbprint)"}"#)
        #expect(try validator(verification).validate(token).subject == "user-42")
    }

    @Test func anExpiredPyJWTTokenIsRefused() async throws {
        let key = try Ed25519PrivateKey()
        let verification = try JWTVerificationKey(key.publicKey)
        let token = try await mint(
            claims: claims(expiresIn: -120), key: try key.pemRepresentation, algorithm: "EdDSA", headers: #"{"kid": "\#(verification.thumbprint)"}"#)
        #expect(throws: JWTError.expired) { try validator(verification).validate(token) }
    }

    @Test func anHS256ForgeryKeyedWithThePublicKeyIsRefused() async throws {
        let key = try Ed25519PrivateKey()
        let verification = try JWTVerificationKey(key.publicKey)
        let publicKeyText = Base64URL.encode(key.publicKey.rawRepresentation)
        let forged = try await mint(claims: claims(), key: publicKeyText, algorithm: "HS256", headers: #"{"kid": "\#(verification.thumbprint)"}"#)
        #expect(throws: JWTError.unsupportedAlgorithm) { try validator(verification).validate(forged) }
    }

    @Test func aTokenSignedByAnotherKeyUnderOurKidIsRefused() async throws {
        let ours = try JWTVerificationKey(Ed25519PrivateKey().publicKey)
        let stranger = try Ed25519PrivateKey()
        let forged = try await mint(claims: claims(), key: try stranger.pemRepresentation, algorithm: "EdDSA", headers: #"{"kid": "\#(ours.thumbprint)"}"#)
        #expect(throws: JWTError.badSignature) { try validator(ours).validate(forged) }
    }
}
