import Cryptography
import Testing

/// Every case of each Wycheproof raw-signature file must agree with its expected result.
///
/// "acceptable" cases (only RSA tcId with flag MissingNull: a DigestInfo without the NULL parameter)
/// are required to be rejected: RFC 8017 §9.2 encodes the parameters as NULL, every JWS signer does,
/// and accepting a second encoding only widens what an attacker can try.
@Suite("Wycheproof signature vectors")
struct WycheproofTests {
    @Test("Ed25519: all 151 cases")
    func ed25519() throws {
        let file = try Fixtures.decode(WycheproofFile<EdDSAGroup>.self, from: "ed25519_test.json")
        var checked = 0
        for group in file.testGroups {
            let key = try Ed25519PublicKey(rawRepresentation: hexBytes(group.publicKey.pk))
            let pemKey = try Ed25519PublicKey(pemRepresentation: group.publicKeyPem)
            #expect(pemKey.rawRepresentation == key.rawRepresentation)
            for test in group.tests {
                let verified = key.isValidSignature(hexBytes(test.sig), for: hexBytes(test.msg))
                #expect(verified == (test.result == "valid"), "tcId \(test.tcId) \(test.comment) \(test.flags)")
                checked += 1
            }
        }
        #expect(checked == file.numberOfTests)
        #expect(checked == 151)
    }

    @Test("ECDSA P-256 SHA-256 r||s: all 262 cases")
    func ecdsaP256() throws {
        let file = try Fixtures.decode(WycheproofFile<ECDSAGroup>.self, from: "ecdsa_secp256r1_sha256_p1363_test.json")
        var checked = 0
        for group in file.testGroups {
            #expect(group.publicKey.curve == "secp256r1" && group.sha == "SHA-256")
            let point = hexBytes(group.publicKey.uncompressed)
            try #require(point.count == 65 && point[0] == 0x04)
            let key = try P256PublicKey(x: point[1..<33], y: point[33...])
            let pemKey = try P256PublicKey(pemRepresentation: group.publicKeyPem)
            #expect(pemKey.x == key.x && pemKey.y == key.y)
            for test in group.tests {
                let verified = key.isValidSignature(hexBytes(test.sig), for: hexBytes(test.msg))
                #expect(verified == (test.result == "valid"), "tcId \(test.tcId) \(test.comment) \(test.flags)")
                checked += 1
            }
        }
        #expect(checked == file.numberOfTests)
        #expect(checked == 262)
    }

    @Test("RSA PKCS#1 v1.5 SHA-256 (2048): all 259 cases, acceptable rejected")
    func rsaPKCS1() throws {
        let file = try Fixtures.decode(WycheproofFile<RSAGroup>.self, from: "rsa_signature_2048_sha256_test.json")
        var checked = 0
        var acceptable = 0
        for group in file.testGroups {
            #expect(group.sha == "SHA-256")
            let key = try RSAPublicKey(modulus: hexBytes(group.publicKey.modulus), exponent: hexBytes(group.publicKey.publicExponent))
            let pemKey = try RSAPublicKey(pemRepresentation: group.publicKeyPem)
            #expect(pemKey.modulus == key.modulus && pemKey.exponent == key.exponent)
            for test in group.tests {
                let verified = key.isValidSignature(hexBytes(test.sig), for: hexBytes(test.msg))
                if test.result == "acceptable" {
                    acceptable += 1
                }
                #expect(verified == (test.result == "valid"), "tcId \(test.tcId) \(test.comment) \(test.flags)")
                checked += 1
            }
        }
        #expect(checked == file.numberOfTests)
        #expect(checked == 259)
        #expect(acceptable == 1)
    }
}
