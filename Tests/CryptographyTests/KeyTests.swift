import Cryptography
import Testing

@Suite("Signing keys")
struct KeyTests {
    static let message = Array("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjMifQ".utf8)

    @Test("Ed25519 sign, verify, tamper")
    func ed25519RoundTrip() throws {
        let key = try Ed25519PrivateKey()
        let signature = try key.signature(for: Self.message)
        #expect(signature.count == 64)
        #expect(key.publicKey.isValidSignature(signature, for: Self.message))
        #expect(!key.publicKey.isValidSignature(signature, for: Self.message.dropLast()))
        var tampered = signature
        tampered[10] ^= 1
        #expect(!key.publicKey.isValidSignature(tampered, for: Self.message))
        #expect(!key.publicKey.isValidSignature(signature + [0], for: Self.message))
        #expect(!key.publicKey.isValidSignature(signature.dropLast(), for: Self.message))
        #expect(!key.publicKey.isValidSignature([UInt8](), for: Self.message))
        #expect(!(try Ed25519PrivateKey()).publicKey.isValidSignature(signature, for: Self.message))
    }

    @Test("Ed25519 raw import and export")
    func ed25519Raw() throws {
        let key = try Ed25519PrivateKey()
        let copy = try Ed25519PrivateKey(rawRepresentation: key.rawRepresentation)
        #expect(copy.publicKey.rawRepresentation == key.publicKey.rawRepresentation)
        let publicCopy = try Ed25519PublicKey(rawRepresentation: key.publicKey.rawRepresentation)
        #expect(publicCopy.isValidSignature(try copy.signature(for: Self.message), for: Self.message))
        #expect(throws: CryptoError.invalidKey) { try Ed25519PublicKey(rawRepresentation: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: CryptoError.invalidKey) { try Ed25519PrivateKey(rawRepresentation: [UInt8](repeating: 1, count: 33)) }
    }

    @Test("ES256 sign, verify, tamper; signature is raw r||s")
    func p256RoundTrip() throws {
        let key = try P256PrivateKey()
        let signature = try key.signature(for: Self.message)
        #expect(signature.count == 64)
        #expect(key.publicKey.isValidSignature(signature, for: Self.message))
        #expect(!key.publicKey.isValidSignature(signature, for: Self.message + [0]))
        var tampered = signature
        tampered[40] ^= 0x04
        #expect(!key.publicKey.isValidSignature(tampered, for: Self.message))
        #expect(!key.publicKey.isValidSignature(signature + [0], for: Self.message))
        #expect(!key.publicKey.isValidSignature([0] + signature, for: Self.message))
    }

    @Test("ES256 rejects r or s equal to 0 or n, and DER-encoded signatures")
    func p256ScalarRange() throws {
        let key = try P256PrivateKey()
        let signature = try key.signature(for: Self.message)
        let order = hexBytes("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
        let zero = [UInt8](repeating: 0, count: 32)
        let r = Array(signature[..<32])
        let s = Array(signature[32...])
        let malformed: [[UInt8]] = [zero + s, r + zero, order + s, r + order]
        for bad in malformed {
            #expect(!key.publicKey.isValidSignature(bad, for: Self.message))
        }
        #expect(!key.publicKey.isValidSignature([UInt8](repeating: 0xFF, count: 64), for: Self.message))
    }

    @Test("P-256 public key from coordinates: off-curve points and bad lengths are refused")
    func p256Coordinates() throws {
        let key = try P256PrivateKey().publicKey
        let copy = try P256PublicKey(x: key.x, y: key.y)
        #expect(copy.x == key.x && copy.y == key.y)
        var offCurve = key.y
        offCurve[31] ^= 1
        #expect(throws: CryptoError.invalidKey) { try P256PublicKey(x: key.x, y: offCurve) }
        #expect(throws: CryptoError.invalidKey) { try P256PublicKey(x: key.x.dropFirst(), y: key.y) }
        #expect(throws: CryptoError.invalidKey) { try P256PublicKey(x: [UInt8](repeating: 0, count: 32), y: [UInt8](repeating: 0, count: 32)) }
    }

    @Test("P-256 private key from d, x, y must be a matching pair")
    func p256PrivateScalar() throws {
        let key = try P256PrivateKey()
        let copy = try P256PrivateKey(privateScalar: key.privateScalar, x: key.publicKey.x, y: key.publicKey.y)
        #expect(key.publicKey.isValidSignature(try copy.signature(for: Self.message), for: Self.message))
        let other = try P256PrivateKey().publicKey
        #expect(throws: CryptoError.invalidKey) { try P256PrivateKey(privateScalar: key.privateScalar, x: other.x, y: other.y) }
    }

    @Test("PEM round trips (PKCS#8 private, SPKI public)")
    func pemRoundTrips() throws {
        let ed = try Ed25519PrivateKey()
        let edPEM = try ed.pemRepresentation
        #expect(edPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try Ed25519PrivateKey(pemRepresentation: edPEM).rawRepresentation == ed.rawRepresentation)
        let edPublicPEM = try ed.publicKey.pemRepresentation
        #expect(edPublicPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        #expect(try Ed25519PublicKey(pemRepresentation: edPublicPEM).rawRepresentation == ed.publicKey.rawRepresentation)

        let ec = try P256PrivateKey()
        let ecPEM = try ec.pemRepresentation
        #expect(ecPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let ecCopy = try P256PrivateKey(pemRepresentation: ecPEM)
        #expect(try ecCopy.privateScalar == ec.privateScalar)
        #expect(ec.publicKey.isValidSignature(try ecCopy.signature(for: Self.message), for: Self.message))
        let ecPublic = try P256PublicKey(pemRepresentation: ec.publicKey.pemRepresentation)
        #expect(ecPublic.x == ec.publicKey.x && ecPublic.y == ec.publicKey.y)
    }

    @Test("PEM of the wrong kind or garbage is refused")
    func pemMismatch() throws {
        let ed = try Ed25519PrivateKey()
        let ec = try P256PrivateKey()
        #expect(throws: CryptoError.unsupportedKey) { try P256PrivateKey(pemRepresentation: ed.pemRepresentation) }
        #expect(throws: CryptoError.unsupportedKey) { try Ed25519PrivateKey(pemRepresentation: ec.pemRepresentation) }
        #expect(throws: CryptoError.unsupportedKey) { try RSAPublicKey(pemRepresentation: ec.publicKey.pemRepresentation) }
        #expect(throws: CryptoError.invalidPEM) { try Ed25519PublicKey(pemRepresentation: ed.pemRepresentation) }
        #expect(throws: CryptoError.invalidPEM) { try Ed25519PrivateKey(pemRepresentation: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        #expect(throws: CryptoError.invalidPEM) { try P256PublicKey(pemRepresentation: "") }
    }

    @Test("RSA refuses moduli under 2048 bits and bad exponents")
    func rsaLimits() throws {
        var modulus1024 = [UInt8](repeating: 0xC5, count: 128)
        modulus1024[127] = 0xFB
        #expect(throws: CryptoError.unsupportedKey) { try RSAPublicKey(modulus: modulus1024, exponent: [1, 0, 1]) }
        var modulus2048 = [UInt8](repeating: 0xC5, count: 256)
        modulus2048[255] = 0xFB
        #expect(throws: CryptoError.invalidKey) { try RSAPublicKey(modulus: modulus2048, exponent: [1, 0, 0]) }
        #expect(throws: CryptoError.invalidKey) { try RSAPublicKey(modulus: modulus2048, exponent: [1]) }
        let key = try RSAPublicKey(modulus: [0] + modulus2048, exponent: [0, 1, 0, 1])
        #expect(key.modulus == modulus2048 && key.exponent == [1, 0, 1])
        #expect(!key.isValidSignature([UInt8](repeating: 1, count: 255), for: Self.message))
        #expect(!key.isValidSignature([UInt8](repeating: 1, count: 256), for: Self.message))
    }

    @Test("Errors describe codes and OpenSSL reasons only")
    func errorDescription() throws {
        let error = #expect(throws: CryptoError.self) { try Ed25519PrivateKey(pemRepresentation: "garbage") }
        let description = try #require(error).description
        #expect(description.hasPrefix("CryptoError(invalid_pem"))
        #expect(!description.contains("garbage"))
    }

    @Test("Concurrent verification on one shared key", .timeLimit(.minutes(1)))
    func concurrentVerify() async throws {
        let ed = try Ed25519PrivateKey()
        let ec = try P256PrivateKey()
        let edSignature = try ed.signature(for: Self.message)
        let ecSignature = try ec.signature(for: Self.message)
        let edKey = ed.publicKey
        let ecKey = ec.publicKey
        let results = await withTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for task in 0..<8 {
                group.addTask {
                    var allCorrect = true
                    for round in 0..<200 {
                        let tamper = (task + round) % 2 == 1
                        let message = tamper ? Self.message + [1] : Self.message
                        allCorrect =
                            allCorrect
                            && edKey.isValidSignature(edSignature, for: message) == !tamper
                            && ecKey.isValidSignature(ecSignature, for: message) == !tamper
                    }
                    return allCorrect
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results == [Bool](repeating: true, count: 8))
    }
}
