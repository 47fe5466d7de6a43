import Cryptography
import Foundation
import JWT
import Testing

/// RFC 7515 appendix A and RFC 8037 tokens, and the RFC 7638 / RFC 8037 thumbprints.
@Suite("RFC vectors")
struct RFCVectorTests {
    struct File: Decodable {
        struct Token: Decodable {
            let id: String
            let jws: String
            let payload: String
            let key_public: JWK
        }

        struct Thumbprint: Decodable {
            let id: String
            let jwk: JWK
            let sha256_thumbprint: String
        }

        let jws: [Token]
        let thumbprints: [Thumbprint]
    }

    let file: File

    init() throws {
        file = try Fixtures.decode(File.self, from: "rfc_vectors.json")
    }

    private func token(_ id: String) throws -> File.Token {
        try #require(file.jws.first { $0.id == id })
    }

    @Test("RFC 8037 A.4 EdDSA token verifies at the JWS layer")
    func rfc8037() throws {
        let vector = try token("RFC8037-A.4-EdDSA")
        let key = try JWTVerificationKey(jwk: vector.key_public)
        let verified = try JWS.verify(vector.jws, key: key)
        #expect(verified.algorithm == .edDSA)
        #expect(verified.payload == Array(vector.payload.utf8))
        #expect(verified.kid == key.thumbprint)
        // No kid in its header: a key set lookup refuses it.
        #expect(throws: JWTError.missingKeyID) { try JWS.verify(vector.jws, keys: JWTKeySet([key])) }
    }

    @Test("RFC 7515 A.3 ES256 verifies, but a full validation refuses it as expired unless the clock is pinned")
    func rfc7515ES256() throws {
        let vector = try token("RFC7515-A.3-ES256")
        let verified = try JWS.verify(vector.jws, key: JWTVerificationKey(jwk: vector.key_public))
        #expect(verified.algorithm == .es256 && verified.payload == Array(vector.payload.utf8))
        let validator = JWTValidator(keys: JWTKeySet(), configuration: .init(issuer: "joe", audience: "x"))
        #expect(throws: JWTError.expired) { try validator.validateClaims(of: verified, now: Date()) }
        // Pinned before exp=1300819380, the time checks pass; it then lacks the access-token claims
        // (no aud, iat, sub...), so it is still refused, for that reason.
        let pinned = Date(timeIntervalSince1970: 1_300_819_000)
        do {
            _ = try validator.validateClaims(of: verified, now: pinned)
            Issue.record("A.3 has no access-token claims and must not validate")
        } catch {
            #expect(error.code == .missingClaim)
        }
    }

    @Test("RFC 7515 A.1 HS256, A.2 RS256, A.4 ES512 and A.5 none are refused: unsupported algorithms")
    func unsupported() throws {
        let key = try JWTVerificationKey(Ed25519PrivateKey().publicKey)
        for id in ["RFC7515-A.1-HS256", "RFC7515-A.2-RS256", "RFC7515-A.4-ES512"] {
            #expect(throws: JWTError.unsupportedAlgorithm, "\(id)") { try JWS.verify(try token(id).jws, key: key) }
        }
        // A.5 has an empty signature part: refused before its header is even read.
        #expect(throws: JWTError.malformed) { try JWS.verify(try token("RFC7515-A.5-none").jws, key: key) }
    }

    @Test("Key thumbprints (the kid) match RFC 7517 A.1 and RFC 8037 A.3")
    func thumbprints() throws {
        var checked = 0
        for vector in file.thumbprints where vector.jwk.kty != "RSA" {
            var jwk = vector.jwk
            jwk.alg = nil
            jwk.use = nil
            #expect(try JWTVerificationKey(jwk: jwk).thumbprint == vector.sha256_thumbprint, "\(vector.id)")
            checked += 1
        }
        #expect(checked == 2)
    }
}
