import Cryptography
import Foundation
import JWT
import Testing

/// Wycheproof `json_web_signature_test.json` at the JWS layer (its payloads are not claims sets).
///
/// - Groups keyed by an EC/P-256 key (the algorithms this module supports; the file has no EdDSA
///   group) must agree with every expected result: 41 cases.
/// - Every other case (HS*, RS*, PS*, ES512 keys) must be refused, even with a real key under the
///   case's kid: 360 cases. Together: all 401.
/// - The "base64" group (tc357-377, HS256) checks strict compact parsing: the test parses with
///   ``JWS/parse(_:maximumLength:)`` and checks the MAC itself (the module never accepts HMAC).
///   Upstream errata, overridden here: tc367 and tc370 are byte-identical to the valid tc357 but
///   labelled invalid (correct answer: accept); tc372 and tc373 contain '?' but are labelled valid
///   (correct answer: reject).
@Suite("Wycheproof JWS vectors")
struct WycheproofJWSTests {
    struct File: Decodable {
        let numberOfTests: Int
        let testGroups: [Group]
    }

    struct Group: Decodable {
        let comment: String
        let `public`: GroupKey?
        let `private`: GroupKey?
        let tests: [Case]
    }

    struct GroupKey: Decodable {
        private enum Keys: String, CodingKey { case keyOps = "key_ops", k }
        let jwk: JWK
        let keyOperations: [String]?
        /// The symmetric key of an "oct" JWK (``JWK`` does not model it).
        let symmetricKey: String?

        init(from decoder: any Decoder) throws {
            jwk = try JWK(from: decoder)
            let container = try decoder.container(keyedBy: Keys.self)
            keyOperations = try container.decodeIfPresent([String].self, forKey: .keyOps)
            symmetricKey = try container.decodeIfPresent(String.self, forKey: .k)
        }
    }

    struct Case: Decodable {
        let tcId: Int
        let comment: String
        let jws: String
        let result: String
    }

    @Test("All 401 cases: 41 on supported keys agree, 360 others are refused")
    func signatureLayer() throws {
        let file = try Fixtures.decode(File.self, from: "json_web_signature_test.json")
        let stranger = try JWTVerificationKey(Ed25519PrivateKey().publicKey)
        var supported = 0
        var refused = 0
        for group in file.testGroups {
            let groupKey = try #require(group.public ?? group.private)
            let isSupported = groupKey.jwk.kty == "OKP" || (groupKey.jwk.kty == "EC" && groupKey.jwk.crv == "P-256")
            var keys = JWTKeySet()
            if isSupported {
                // A key whose JWK says it is not for verification never enters the set (fail closed).
                if let key = try? JWTVerificationKey(jwk: groupKey.jwk, keyOperations: groupKey.keyOperations) {
                    keys.insert(key, kid: groupKey.jwk.kid)
                }
            } else {
                keys.insert(stranger, kid: groupKey.jwk.kid ?? "none")
            }
            for test in group.tests {
                let accepted = (try? JWS.verify(test.jws, keys: keys)) != nil
                if isSupported {
                    #expect(accepted == (test.result == "valid"), "tcId \(test.tcId) \(test.comment)")
                    supported += 1
                } else {
                    #expect(!accepted, "tcId \(test.tcId) \(test.comment)")
                    refused += 1
                }
            }
        }
        #expect(supported == 41)
        #expect(refused == 360)
        #expect(supported + refused == file.numberOfTests)
    }

    @Test("base64 group: strict compact parsing, with the four upstream errata corrected")
    func strictParsing() throws {
        let file = try Fixtures.decode(File.self, from: "json_web_signature_test.json")
        let group = try #require(file.testGroups.first { $0.comment == "base64" })
        let secret = try Base64URL.decode(try #require(group.private?.symmetricKey))
        let reference = try #require(group.tests.first { $0.tcId == 357 }).jws
        var checked = 0
        for test in group.tests {
            var expected = test.result == "valid"
            switch test.tcId {
            case 367, 370:
                #expect(test.jws == reference && !expected, "erratum no longer applies: tcId \(test.tcId)")
                expected = true
            case 372, 373:
                #expect(test.jws.contains("?") && expected, "erratum no longer applies: tcId \(test.tcId)")
                expected = false
            default:
                break
            }
            let parts = try? JWS.parse(test.jws)
            let accepted = parts.map { HMACSHA256.isValidAuthenticationCode($0.signature, for: $0.signingInput, key: secret) } ?? false
            #expect(accepted == expected, "tcId \(test.tcId) \(test.comment)")
            // The module itself never accepts an HMAC token, whatever the key set holds.
            #expect(throws: JWTError.self) { try JWS.verify(test.jws, keys: JWTKeySet()) }
            checked += 1
        }
        #expect(checked == 21)
    }
}
