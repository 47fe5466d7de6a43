import Cryptography
import Testing

@Suite("Base64URL")
struct Base64URLTests {
    /// RFC 4648 §10 vectors without padding (the URL alphabet only differs for '+' and '/').
    static let rfc4648: [(String, String)] = [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
    ]

    @Test("RFC 4648 vectors encode and decode", arguments: rfc4648)
    func rfcVectors(plain: String, encoded: String) throws {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(try Base64URL.decode(encoded) == Array(plain.utf8))
    }

    @Test("URL alphabet uses '-' and '_'")
    func urlAlphabet() throws {
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(try Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test("Round trip for every length up to 64 and every byte value")
    func roundTrip() throws {
        let bytes = (0..<256).map { UInt8($0) }
        for length in 0...64 {
            let slice = Array(bytes[(length * 3)..<(length * 4)])
            #expect(try Base64URL.decode(Base64URL.encode(slice)) == slice)
        }
        #expect(try Base64URL.decode(Base64URL.encode(bytes)) == bytes)
    }

    @Test(
        "Strict decode rejects non-canonical input",
        arguments: [
            "Zg==", "Zm8=", "Zg=", "=", // padding
            "Zm9v ", " Zm9v", "Zm\n9v", "Zm9v\r\n", "Zm\t9v", // whitespace
            "+/+/", "ab+c", "ab/c", // standard alphabet
            "Z", "Zm9vY", "a", // impossible lengths (1 mod 4)
            "Zh", "Zm9", "Zm9vYh", "Zm9vYmF", // non-zero unused trailing bits
            "Zm9v.", "Zm9v\u{0}", "Zm9vé", "%3D", // other characters
        ]
    )
    func rejects(input: String) {
        #expect(throws: CryptoError.invalidEncoding) { try Base64URL.decode(input) }
    }

    @Test("Decoding from a UTF-8 slice, as a token parser would")
    func decodeSlice() throws {
        let token = Array("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".utf8)
        let dot = try #require(token.firstIndex(of: UInt8(ascii: ".")))
        #expect(try Base64URL.decode(utf8: token[..<dot]) == Array(#"{"alg":"EdDSA"}"#.utf8))
        #expect(try Base64URL.decode(utf8: token[(dot + 1)...]) == Array("Example of Ed25519 signing".utf8))
    }
}
