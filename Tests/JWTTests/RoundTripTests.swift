import Cryptography
import Foundation
import JWT
import Testing

@Suite("Sign and validate")
struct RoundTripTests {
    @Test("EdDSA token round trip")
    func edDSA() throws {
        let harness = try Harness()
        let claims = try harness.claims()
        let token = try JWTSigner.sign(claims, with: harness.edSigner)
        let result = try harness.validator.validate(token, now: Harness.now)
        #expect(result.subject == "user-42" && result.sessionID == "session-7")
        #expect(result.jwtID == claims.jwtID && result.jwtID.count == 22)
        #expect(result.scopes == ["read", "write"])
        #expect(result.issuedAt == Harness.now)
        #expect(result.expiresAt == Harness.now.addingTimeInterval(900))
        #expect(result.kid == harness.edSigner.kid)
        let header = try JWS.parse(token).header
        #expect(String(decoding: header, as: UTF8.self) == "{\"alg\":\"EdDSA\",\"kid\":\"\(harness.edSigner.kid)\",\"typ\":\"JWT\"}")
    }

    @Test("ES256 token round trip")
    func es256() throws {
        let harness = try Harness()
        let token = try JWTSigner.sign(try harness.claims(scopes: []), with: harness.ecSigner)
        let result = try harness.validator.validate(token, now: Harness.now)
        #expect(result.kid == harness.ecSigner.kid && result.scopes.isEmpty)
        #expect(try JWS.parse(token).signature.count == 64)
    }

    @Test("Rotation: both keys verify; a removed key's tokens fail with unknown_kid")
    func rotation() throws {
        let harness = try Harness()
        let old = try JWTSigningKey(Ed25519PrivateKey())
        let new = try JWTSigningKey(Ed25519PrivateKey())
        var keys = JWTKeySet([old.verificationKey])
        keys.insert(new.verificationKey)
        var validator = JWTValidator(keys: keys, configuration: harness.validator.configuration)
        let oldToken = try JWTSigner.sign(try harness.claims(), with: old)
        let newToken = try JWTSigner.sign(try harness.claims(), with: new)
        #expect(try validator.validate(oldToken, now: Harness.now).kid == old.kid)
        #expect(try validator.validate(newToken, now: Harness.now).kid == new.kid)
        validator.keys.remove(kid: old.kid)
        #expect(throws: JWTError.unknownKeyID) { try validator.validate(oldToken, now: Harness.now) }
        #expect(try validator.validate(newToken, now: Harness.now).kid == new.kid)
    }

    @Test("JWKS export parses and its kids are the thumbprints")
    func jwks() throws {
        let harness = try Harness()
        let document = harness.validator.keys.jwksDocument()
        struct Document: Decodable { let keys: [JWK] }
        let parsed = try JSONDecoder().decode(Document.self, from: Data(document.utf8))
        #expect(parsed.keys.count == 2)
        for jwk in parsed.keys {
            #expect(jwk.kid == (try jwk.thumbprint()))
            #expect(jwk.use == "sig" && jwk.d == nil)
            let key = try JWTVerificationKey(jwk: jwk)
            #expect(key.algorithm.rawValue == jwk.alg)
        }
        #expect(parsed.keys.map(\.kid) == [harness.edSigner.kid, harness.ecSigner.kid])
        #expect(parsed.keys[0].kty == "OKP" && parsed.keys[0].crv == "Ed25519" && parsed.keys[0].y == nil)
        #expect(parsed.keys[1].kty == "EC" && parsed.keys[1].crv == "P-256" && parsed.keys[1].y != nil)
    }

    @Test("JWK import refuses keys not meant for verification")
    func jwkImport() throws {
        let harness = try Harness()
        var jwk = harness.edSigner.verificationKey.jwk
        jwk.use = "enc"
        #expect(throws: JWTError.invalidKey) { try JWTVerificationKey(jwk: jwk) }
        jwk.use = nil
        jwk.alg = "ES256"
        #expect(throws: JWTError.invalidKey) { try JWTVerificationKey(jwk: jwk) }
        jwk.alg = nil
        #expect(throws: JWTError.invalidKey) { try JWTVerificationKey(jwk: jwk, keyOperations: ["encrypt"]) }
        #expect(throws: JWTError.invalidKey) { try JWTVerificationKey(jwk: JWK(harness.edKey)) }
    }

    @Test("Errors describe only their code")
    func errorDescription() {
        #expect(JWTError.badSignature.description == "JWTError(bad_signature)")
        #expect(JWTError.Code.unsupportedAlgorithm.description == "unsupported_alg")
    }
}
