import Cryptography
import Foundation
import Testing

/// RFC examples at the signature layer: the signing input is "header.payload" as ASCII, the signature
/// the decoded third segment. Expiry claims are not this module's concern.
@Suite("RFC vectors")
struct RFCVectorTests {
    struct CompactJWS {
        let signingInput: [UInt8]
        let payload: [UInt8]
        let signature: [UInt8]

        init(_ token: String) throws {
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            try #require(parts.count == 3)
            signingInput = Array("\(parts[0]).\(parts[1])".utf8)
            payload = try Base64URL.decode(parts[1])
            signature = try Base64URL.decode(parts[2])
        }
    }

    static func token(_ id: String) throws -> RFCVectors.Token {
        let vectors = try Fixtures.decode(RFCVectors.self, from: "rfc_vectors.json")
        return try #require(vectors.jws.first { $0.id == id })
    }

    @Test("RFC 8037 A.4 EdDSA token verifies")
    func rfc8037() throws {
        let vector = try Self.token("RFC8037-A.4-EdDSA")
        let jws = try CompactJWS(vector.jws)
        let key = try jwk(from: vector.key_public).ed25519PublicKey()
        #expect(jws.payload == Array(vector.payload.utf8))
        #expect(key.isValidSignature(jws.signature, for: jws.signingInput))
        var tampered = jws.signingInput
        tampered[tampered.count - 1] ^= 1
        #expect(!key.isValidSignature(jws.signature, for: tampered))
    }

    @Test("JOSE cookbook Ed25519: the private key reproduces the signature exactly")
    func cookbookEd25519() throws {
        struct Cookbook: Decodable {
            struct Input: Decodable { let key: [String: String] }
            struct Signing: Decodable {
                let sig: String
                let signingInput: String
                enum CodingKeys: String, CodingKey {
                    case sig
                    case signingInput = "sig-input"
                }
            }
            let input: Input
            let signing: Signing
        }
        let cookbook = try Fixtures.decode(Cookbook.self, from: "cookbook_curve25519_jws.json")
        let privateKey = try jwk(from: cookbook.input.key).ed25519PrivateKey()
        let message = Array(cookbook.signing.signingInput.utf8)
        let expected = try Base64URL.decode(cookbook.signing.sig)
        #expect(try privateKey.signature(for: message) == expected)
        #expect(privateKey.publicKey.isValidSignature(expected, for: message))
    }

    @Test("RFC 7515 A.3 ES256 token verifies at the signature layer")
    func rfc7515ES256() throws {
        let vector = try Self.token("RFC7515-A.3-ES256")
        let jws = try CompactJWS(vector.jws)
        let key = try jwk(from: vector.key_public).p256PublicKey()
        #expect(jws.signature.count == 64)
        #expect(key.isValidSignature(jws.signature, for: jws.signingInput))
        #expect(!key.isValidSignature(jws.signature, for: Array("\(vector.jws.prefix(10))".utf8)))
    }

    @Test("RFC 7515 A.2 RS256 token verifies at the signature layer")
    func rfc7515RS256() throws {
        let vector = try Self.token("RFC7515-A.2-RS256")
        let jws = try CompactJWS(vector.jws)
        let key = try jwk(from: vector.key_public).rsaPublicKey()
        #expect(key.isValidSignature(jws.signature, for: jws.signingInput))
        var tampered = jws.signature
        tampered[0] ^= 0x80
        #expect(!key.isValidSignature(tampered, for: jws.signingInput))
    }

    @Test("RFC 7515 A.1 HS256 token verifies with HMAC-SHA256")
    func rfc7515HS256() throws {
        let vector = try Self.token("RFC7515-A.1-HS256")
        let jws = try CompactJWS(vector.jws)
        let key = try Base64URL.decode(try #require(vector.key_public["k"]))
        #expect(HMACSHA256.isValidAuthenticationCode(jws.signature, for: jws.signingInput, key: key))
    }

    @Test("RFC 7638 and RFC 8037 thumbprints")
    func thumbprints() throws {
        let vectors = try Fixtures.decode(RFCVectors.self, from: "rfc_vectors.json")
        #expect(vectors.thumbprints.count == 3)
        for vector in vectors.thumbprints {
            #expect(try jwk(from: vector.jwk).thumbprint() == vector.sha256_thumbprint, "\(vector.id)")
        }
    }
}
