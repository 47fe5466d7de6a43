import Cryptography
import Foundation
import Testing

@Suite("JWK")
struct JWKTests {
    static func jsonRoundTrip(_ jwk: JWK) throws -> JWK {
        try JSONDecoder().decode(JWK.self, from: JSONEncoder().encode(jwk))
    }

    @Test("Ed25519 public and private JWK round trips")
    func ed25519() throws {
        let key = try Ed25519PrivateKey()
        let publicJWK = try Self.jsonRoundTrip(JWK(key.publicKey))
        #expect(publicJWK.kty == "OKP" && publicJWK.crv == "Ed25519" && publicJWK.d == nil)
        #expect(try publicJWK.ed25519PublicKey().rawRepresentation == key.publicKey.rawRepresentation)
        let privateJWK = try Self.jsonRoundTrip(JWK(key))
        #expect(try privateJWK.ed25519PrivateKey().rawRepresentation == key.rawRepresentation)
        #expect(throws: CryptoError.invalidJWK) { try publicJWK.ed25519PrivateKey() }
    }

    @Test("P-256 public and private JWK round trips")
    func p256() throws {
        let key = try P256PrivateKey()
        let publicJWK = try Self.jsonRoundTrip(JWK(key.publicKey))
        #expect(publicJWK.kty == "EC" && publicJWK.crv == "P-256" && publicJWK.d == nil)
        let publicKey = try publicJWK.p256PublicKey()
        #expect(publicKey.x == key.publicKey.x && publicKey.y == key.publicKey.y)
        let privateKey = try Self.jsonRoundTrip(JWK(key)).p256PrivateKey()
        #expect(try privateKey.privateScalar == key.privateScalar)
    }

    @Test("RSA JWK round trip")
    func rsa() throws {
        let vectors = try Fixtures.decode(RFCVectors.self, from: "rfc_vectors.json")
        let members = try #require(vectors.jws.first { $0.alg == "RS256" }).key_public
        let key = try jwk(from: members).rsaPublicKey()
        let exported = try Self.jsonRoundTrip(JWK(key))
        #expect(exported.n == members["n"] && exported.e == members["e"])
    }

    @Test("Mismatched private JWK members are refused")
    func mismatchedPrivate() throws {
        var ed = try JWK(Ed25519PrivateKey())
        ed.x = JWK(try Ed25519PrivateKey().publicKey).x
        #expect(throws: CryptoError.invalidJWK) { try ed.ed25519PrivateKey() }
        var ec = try JWK(P256PrivateKey())
        ec.d = try JWK(P256PrivateKey()).d
        #expect(throws: CryptoError.invalidKey) { try ec.p256PrivateKey() }
    }

    @Test("Wrong type, curve or malformed members are refused")
    func malformed() throws {
        let ed = JWK(try Ed25519PrivateKey().publicKey)
        #expect(throws: CryptoError.invalidJWK) { try ed.p256PublicKey() }
        #expect(throws: CryptoError.invalidJWK) { try ed.rsaPublicKey() }
        var wrongCurve = ed
        wrongCurve.crv = "X25519"
        #expect(throws: CryptoError.invalidJWK) { try wrongCurve.ed25519PublicKey() }
        var padded = ed
        padded.x = (ed.x ?? "") + "="
        #expect(throws: CryptoError.invalidJWK) { try padded.ed25519PublicKey() }
        var missing = JWK(try P256PrivateKey().publicKey)
        missing.y = nil
        #expect(throws: CryptoError.invalidJWK) { try missing.p256PublicKey() }
        #expect(throws: CryptoError.invalidJWK) { try missing.thumbprint() }
        #expect(throws: CryptoError.unsupportedKey) { try JWK(kty: "oct").thumbprint() }
    }

    @Test("Unknown members are ignored and the thumbprint ignores optional members")
    func extraMembers() throws {
        let json = #"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","use":"sig","x5u":"ignored"}"#
        let key = try JSONDecoder().decode(JWK.self, from: Data(json.utf8))
        #expect(key.kid == "a" && key.use == "sig")
        #expect(try key.thumbprint() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    }

    @Test("description never shows d")
    func redaction() throws {
        let jwk = try JWK(Ed25519PrivateKey())
        let d = try #require(jwk.d)
        #expect(!jwk.description.contains(d))
        #expect(jwk.description.contains("<redacted>"))
    }
}
