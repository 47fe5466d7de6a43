import Cryptography
import Testing

@Suite("Random, digests and comparison")
struct DigestTests {
    @Test("SHA-256 FIPS 180-2 vectors")
    func sha256() throws {
        #expect(try SHA256.hash(Array("abc".utf8)) == hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(try SHA256.hash([UInt8]()) == hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(try SHA256.hash("abc".utf8) == SHA256.hash(Array("abc".utf8)))
    }

    @Test("SHA-1 FIPS 180-2 vectors, in the lowercase hex Redis names scripts by")
    func sha1() throws {
        #expect(try SHA1.hexDigest("abc".utf8) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(try SHA1.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(try SHA1.hexDigest([UInt8]()) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test("Hex: two lowercase digits per byte, leading zeros kept")
    func hex() {
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Hex.encode([UInt8]()) == "")
    }

    @Test("HMAC-SHA256 RFC 4231 test cases 1 and 2")
    func hmac() throws {
        let case1 = try HMACSHA256.authenticationCode(for: Array("Hi There".utf8), key: [UInt8](repeating: 0x0B, count: 20))
        #expect(case1 == hexBytes("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"))
        let case2 = try HMACSHA256.authenticationCode(for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        #expect(case2 == hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
        #expect(HMACSHA256.isValidAuthenticationCode(case2, for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
        #expect(!HMACSHA256.isValidAuthenticationCode(case2, for: Array("what do ya want for nothing!".utf8), key: Array("Jefe".utf8)))
        #expect(!HMACSHA256.isValidAuthenticationCode(case2.dropLast(), for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
    }

    @Test("HMAC with an empty key and empty message (RFC 7515 A.5-style edge)")
    func hmacEmpty() throws {
        let tag = try HMACSHA256.authenticationCode(for: [UInt8](), key: [UInt8]())
        #expect(tag == hexBytes("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"))
    }

    @Test("Constant-time equality")
    func constantTime() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([UInt8](), [0]))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        #expect(ConstantTime.equals([0, 1, 2, 3][1...], [1, 2, 3]))
    }

    @Test("Secure random bytes")
    func random() throws {
        let first = try SecureRandom.bytes(count: 32)
        let second = try SecureRandom.bytes(count: 32)
        #expect(first.count == 32)
        #expect(first != second)
        #expect(try SecureRandom.bytes(count: 0).isEmpty)
    }
}
