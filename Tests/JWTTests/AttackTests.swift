import Cryptography
import Foundation
import JWT
import Testing

/// Hostile tokens: every one must be refused with the expected code, never accepted or crash.
@Suite("Attack battery")
struct AttackTests {
    let harness: Harness
    let valid: String

    init() throws {
        harness = try Harness()
        valid = try harness.forge(header: harness.edHeader, payload: harness.payload())
        #expect(harness.failure(valid) == nil)
    }

    @Test("alg none in every spelling, with and without a signature part")
    func algNone() throws {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = Base64URL.encode(Array("{\"alg\":\"\(alg)\",\"kid\":\"\(harness.edSigner.kid)\"}".utf8))
            let payload = Base64URL.encode(Array(harness.payload().utf8))
            let signature = try JWS.parse(valid).signature
            #expect(harness.failure("\(header).\(payload).") == .malformed, "\(alg) empty signature")
            #expect(harness.failure("\(header).\(payload)") == .malformed, "\(alg) two parts")
            #expect(harness.failure("\(header).\(payload).\(Base64URL.encode(signature))") == .unsupportedAlgorithm, "\(alg)")
        }
        // Header checks come before the signature is even decoded.
        let header = Base64URL.encode(Array("{\"alg\":\"none\",\"kid\":\"\(harness.edSigner.kid)\"}".utf8))
        #expect(harness.failure("\(header).\(Base64URL.encode(Array(harness.payload().utf8))).AA") == .unsupportedAlgorithm)
    }

    @Test("HS256 MAC keyed with the public key bytes, JWK JSON or PEM is refused")
    func hmacConfusion() throws {
        let publicKey = harness.edKey.publicKey
        let jwkJSON = Array(try JSONEncoder().encode(harness.edSigner.verificationKey.jwk))
        let secrets: [[UInt8]] = [publicKey.rawRepresentation, jwkJSON, Array(try publicKey.pemRepresentation.utf8)]
        for alg in ["HS256", "HS384", "HS512", "hs256"] {
            for secret in secrets {
                let header = "{\"alg\":\"\(alg)\",\"kid\":\"\(harness.edSigner.kid)\",\"typ\":\"JWT\"}"
                let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(harness.payload().utf8))
                let mac = try HMACSHA256.authenticationCode(for: Array(input.utf8), key: secret)
                #expect(harness.failure(input + "." + Base64URL.encode(mac)) == .unsupportedAlgorithm)
            }
        }
    }

    @Test("Unknown, missing, non-string kid; kid of the other algorithm")
    func kid() throws {
        let payload = harness.payload()
        #expect(harness.failure(try harness.forge(header: "{\"alg\":\"EdDSA\",\"kid\":\"nope\"}", payload: payload)) == .unknownKeyID)
        #expect(harness.failure(try harness.forge(header: "{\"alg\":\"EdDSA\"}", payload: payload)) == .missingKeyID)
        #expect(harness.failure(try harness.forge(header: "{\"alg\":\"EdDSA\",\"kid\":7}", payload: payload)) == .malformed)
        let esWithEdKid = "{\"alg\":\"ES256\",\"kid\":\"\(harness.edSigner.kid)\"}"
        #expect(harness.failure(try harness.forge(header: esWithEdKid, payload: payload, es256: true)) == .algorithmMismatch)
        let edWithEsKid = "{\"alg\":\"EdDSA\",\"kid\":\"\(harness.ecSigner.kid)\"}"
        #expect(harness.failure(try harness.forge(header: edWithEsKid, payload: payload)) == .algorithmMismatch)
    }

    @Test("Key-carrying and crit headers are refused")
    func forbiddenHeaders() throws {
        let kid = harness.edSigner.kid
        let jwk = String(decoding: try JSONEncoder().encode(harness.edSigner.verificationKey.jwk), as: UTF8.self)
        for extra in [
            "\"jwk\":\(jwk)", "\"jku\":\"https://evil.test/jwks\"", "\"x5u\":\"https://evil.test/c\"",
            "\"x5c\":[\"MIIB\"]", "\"crit\":[\"exp\"]", "\"crit\":[]",
        ] {
            let header = "{\"alg\":\"EdDSA\",\"kid\":\"\(kid)\",\(extra)}"
            #expect(harness.failure(try harness.forge(header: header, payload: harness.payload())) == .forbiddenHeader, "\(extra)")
        }
    }

    @Test("exp, nbf and iat against the clock, with the 30 s leeway")
    func time() throws {
        let now = Harness.now
        #expect(harness.failure(valid, now: now.addingTimeInterval(900 + 29)) == nil)
        #expect(harness.failure(valid, now: now.addingTimeInterval(900 + 30)) == .expired)
        #expect(harness.failure(valid, now: now.addingTimeInterval(-29)) == nil)
        #expect(harness.failure(valid, now: now.addingTimeInterval(-31)) == .notYetValid)
        let future = try harness.forge(header: harness.edHeader, payload: harness.payload(["iat": "1767225700", "nbf": nil]))
        #expect(harness.failure(future) == .issuedInFuture)
        let noExp = try harness.forge(header: harness.edHeader, payload: harness.payload(["exp": nil]))
        #expect(harness.failure(noExp) == .missingClaim)
    }

    @Test("Wrong or missing iss and aud; aud as an array")
    func issuerAudience() throws {
        let cases: [([String: String?], JWTError.Code?)] = [
            (["iss": "\"https://evil.test\""], .badIssuer),
            (["iss": nil], .missingClaim),
            (["aud": "\"other\""], .badAudience),
            (["aud": nil], .missingClaim),
            (["aud": "[\"other\",\"skillup-gateway\"]"], nil),
            (["aud": "[\"other\"]"], .badAudience),
            (["aud": "[]"], .badAudience),
            (["aud": "[\"skillup-gateway\",7]"], .invalidClaim),
            (["aud": "{}"], .invalidClaim),
        ]
        for (overrides, expected) in cases {
            let token = try harness.forge(header: harness.edHeader, payload: harness.payload(overrides))
            #expect(harness.failure(token) == expected, "\(overrides)")
        }
    }

    @Test("Required string claims and strictly typed numeric claims")
    func claimTypes() throws {
        let cases: [([String: String?], JWTError.Code)] = [
            (["sub": nil], .missingClaim), (["jti": nil], .missingClaim), (["sid": nil], .missingClaim),
            (["sub": "\"\""], .invalidClaim), (["sid": "42"], .invalidClaim), (["scope": "[\"read\"]"], .invalidClaim),
            (["exp": "\"1767226500\""], .invalidClaim), (["nbf": "\"1767225600\""], .invalidClaim),
            (["iat": "\"1767225600\""], .invalidClaim), (["exp": "1e300"], .invalidClaim),
            (["exp": "-1"], .invalidClaim), (["exp": "true"], .invalidClaim), (["exp": "null"], .invalidClaim),
            (["exp": "NaN"], .malformed), (["exp": "Infinity"], .malformed), (["exp": "1e999"], .malformed),
            (["exp": "01767226500"], .malformed), (["exp": "+1767226500"], .malformed),
        ]
        for (overrides, expected) in cases {
            let token = try harness.forge(header: harness.edHeader, payload: harness.payload(overrides))
            #expect(harness.failure(token) == expected, "\(overrides)")
        }
    }

    @Test("Tampered header, payload and signature")
    func tampering() throws {
        let parts = valid.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let otherHeader = Base64URL.encode(Array("{\"alg\":\"EdDSA\",\"kid\":\"\(harness.edSigner.kid)\"}".utf8))
        #expect(harness.failure("\(otherHeader).\(parts[1]).\(parts[2])") == .badSignature)
        let otherPayload = Base64URL.encode(Array(harness.payload(["sub": "\"admin\""]).utf8))
        #expect(harness.failure("\(parts[0]).\(otherPayload).\(parts[2])") == .badSignature)
        var signature = try Base64URL.decode(parts[2])
        signature[5] ^= 0x01
        #expect(harness.failure("\(parts[0]).\(parts[1]).\(Base64URL.encode(signature))") == .badSignature)
        #expect(harness.failure("\(parts[0]).\(parts[1]).\(Base64URL.encode(signature.dropLast()))") == .badSignature)
    }

    @Test("Wrong part counts, empty parts, padding, whitespace, stray characters")
    func structure() throws {
        let parts = valid.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let malformed = [
            "", ".", "..", "...", parts[0], "\(parts[0]).\(parts[1])", "\(valid).\(parts[2])", "\(valid).",
            ".\(parts[1]).\(parts[2])", "\(parts[0])..\(parts[2])", "\(parts[0]).\(parts[1]).",
            "\(parts[0])=.\(parts[1]).\(parts[2])", "\(valid)=", "\(valid)==", " \(valid)", "\(valid) ", "\(valid)\n",
            "\(parts[0]). \(parts[1]).\(parts[2])", "\(parts[0]).\(parts[1]).\(parts[2].prefix(40)) \(parts[2].dropFirst(40))",
            valid.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/"),
            "\(parts[0]).\(parts[1])?.\(parts[2])", "\(parts[0]).\(parts[1]).\(parts[2])\u{0}",
            "Bearer \(valid)", "\(parts[0])é.\(parts[1]).\(parts[2])",
        ]
        for token in malformed where token != valid {
            #expect(harness.failure(token) == .malformed, "case \(malformed.firstIndex(of: token) ?? -1)")
        }
    }

    @Test("Parts that are not JSON, not objects, or have duplicate members")
    func json() throws {
        let payload = harness.payload()
        for header in [
            "not json", "[]", "\"EdDSA\"", "null", "{\"alg\":\"EdDSA\"", "{\"alg\":\"EdDSA\",}",
            "{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\",\"kid\":\"\(harness.edSigner.kid)\"}",
        ] {
            #expect(harness.failure(try harness.forge(header: header, payload: payload)) == .malformed, "\(header)")
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        for body in [
            "not json", "[1]", "42", "\(payload) x", "{\"sub\":\"a\",\"sub\":\"b\"}", "{\"x\":\(deep)}",
            "{\"x\":\"\\ud800\"}", "{\"x\":\"a\u{1}\"}",
        ] {
            #expect(harness.failure(try harness.forge(header: harness.edHeader, payload: body)) == .malformed, "\(body.prefix(20))")
        }
        let duplicate = String(payload.dropLast()) + ",\"sub\":\"admin\"}"
        #expect(harness.failure(try harness.forge(header: harness.edHeader, payload: duplicate)) == .malformed)
    }

    @Test("Oversized token; the cap is configurable")
    func oversized() throws {
        let big = try harness.forge(header: harness.edHeader, payload: harness.payload(["pad": "\"\(String(repeating: "a", count: 9000))\""]))
        #expect(harness.failure(big) == .tooLarge)
        var validator = harness.validator
        validator.configuration.maximumTokenLength = 100
        #expect(throws: JWTError.tooLarge) { try validator.validate(valid, now: Harness.now) }
        #expect(harness.failure(String(repeating: "A", count: 1 << 20)) == .tooLarge)
    }

    @Test("ES256: r or s zero, equal to n, above n; signatures not 64 bytes")
    func es256Scalars() throws {
        let token = try harness.forge(header: harness.ecHeader, payload: harness.payload(), es256: true)
        #expect(harness.failure(token) == nil)
        let parts = token.split(separator: ".").map(String.init)
        let signature = try Base64URL.decode(parts[2])
        let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
        let replacements = [[UInt8](repeating: 0, count: 32), n, [UInt8](repeating: 0xFF, count: 32)]
        var forged: [[UInt8]] = []
        for value in replacements {
            forged.append(value + signature[32...])
            forged.append(Array(signature[..<32]) + value)
        }
        // s and n - s are both valid ECDSA; s + n is the same value out of range.
        forged.append(signature + [0])
        forged.append([0] + signature)
        forged.append(Array(signature.prefix(63)))
        forged.append([])
        for bytes in forged {
            let code = harness.failure("\(parts[0]).\(parts[1]).\(Base64URL.encode(bytes))")
            #expect(code == (bytes.isEmpty ? .malformed : .badSignature))
        }
    }

    @Test("Ed25519: non-canonical S (S + L) is refused")
    func ed25519Malleability() throws {
        let parts = valid.split(separator: ".").map(String.init)
        var signature = try Base64URL.decode(parts[2])
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian like S.
        let order = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        var carry = 0
        for index in 0..<32 {
            let sum = Int(signature[32 + index]) + Int(order[index]) + carry
            signature[32 + index] = UInt8(sum & 0xFF)
            carry = sum >> 8
        }
        #expect(carry == 0)
        #expect(harness.failure("\(parts[0]).\(parts[1]).\(Base64URL.encode(signature))") == .badSignature)
    }

    private func hex(_ text: String) -> [UInt8] {
        stride(from: 0, to: text.count, by: 2).map { offset in
            let start = text.index(text.startIndex, offsetBy: offset)
            return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
        }
    }
}
