import Cryptography
import Foundation

/// Loads test vectors from `Fixtures/` next to this file (no bundle resources needed).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func decode<Value: Decodable>(_ type: Value.Type, from name: String) throws -> Value {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONDecoder().decode(type, from: data)
    }
}

/// Bytes of a hex string (vector files only; traps on malformed input, which is a fixture bug).
func hexBytes(_ text: String) -> [UInt8] {
    precondition(text.count.isMultiple(of: 2), "odd-length hex in fixture")
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

// MARK: Wycheproof file shapes (only the fields the tests read)

struct WycheproofFile<Group: Decodable & Sendable>: Decodable, Sendable {
    let numberOfTests: Int
    let testGroups: [Group]
}

struct WycheproofCase: Decodable, Sendable {
    let tcId: Int
    let comment: String
    let flags: [String]
    let msg: String
    let sig: String
    let result: String
}

struct EdDSAGroup: Decodable, Sendable {
    struct Key: Decodable, Sendable { let pk: String }
    let publicKey: Key
    let publicKeyPem: String
    let tests: [WycheproofCase]
}

struct ECDSAGroup: Decodable, Sendable {
    struct Key: Decodable, Sendable { let curve: String; let uncompressed: String }
    let publicKey: Key
    let publicKeyPem: String
    let sha: String
    let tests: [WycheproofCase]
}

struct RSAGroup: Decodable, Sendable {
    struct Key: Decodable, Sendable { let modulus: String; let publicExponent: String }
    let publicKey: Key
    let publicKeyPem: String
    let sha: String
    let tests: [WycheproofCase]
}

// MARK: rfc_vectors.json

struct RFCVectors: Decodable, Sendable {
    struct Token: Decodable, Sendable {
        let id: String
        let alg: String
        let jws: String
        let key_public: [String: String]
        let payload: String
        let verifies: Bool?
    }

    struct Thumbprint: Decodable, Sendable {
        let id: String
        let jwk: [String: String]
        let sha256_thumbprint: String
    }

    let jws: [Token]
    let thumbprints: [Thumbprint]
}

/// Decodes a `[String: String]` JSON object as a `JWK` through `Codable`, as a JWKS loader would.
func jwk(from members: [String: String]) throws -> JWK {
    try JSONDecoder().decode(JWK.self, from: JSONEncoder().encode(members))
}
