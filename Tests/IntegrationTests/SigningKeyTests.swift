import Cryptography
import Foundation
import TestSupport
import Testing

/// `skillctl keys`, run as an admin runs it.
@Suite struct SigningKeyTests {
    static let skillctl = LocalServer.packageRoot.appendingPathComponent(".build/debug/skillctl").path

    func withKeysFolder(_ body: (String) async throws -> Void) async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: parent) }
        try await body(parent + "/keys")
    }

    @Test func generatedKeysArePrivateFilesNamedByTheirThumbprint() async throws {
        try await withKeysFolder { folder in
            let created = try await ChildProcess.run(Self.skillctl, ["keys", "generate", "--dir", folder])
            #expect(created.status == 0, "\(created.output)")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder)
            let file = try #require(files.first)
            #expect(files.count == 1)
            #expect(try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int == 0o700)
            #expect(try FileManager.default.attributesOfItem(atPath: "\(folder)/\(file)")[.posixPermissions] as? Int == 0o600)

            // ES256 is the default.
            let key = try P256PrivateKey(pemRepresentation: String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8))
            let kid = try JWK(key.publicKey).thumbprint()
            #expect(file == "\(kid).pem")
            #expect(created.output.contains(kid))
        }
    }

    @Test func ifMissingKeepsTheExistingKeyAndEdDSAIsAvailable() async throws {
        try await withKeysFolder { folder in
            _ = try await ChildProcess.run(Self.skillctl, ["keys", "generate", "--dir", folder])
            let again = try await ChildProcess.run(Self.skillctl, ["keys", "generate", "--dir", folder, "--if-missing"])
            #expect(again.status == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 1)

            let rotated = try await ChildProcess.run(Self.skillctl, ["keys", "generate", "--dir", folder, "--alg", "EdDSA"])
            #expect(rotated.status == 0)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            #expect(files.count == 2)
            let listed = try await ChildProcess.run(Self.skillctl, ["keys", "list", "--dir", folder])
            #expect(listed.output.split(separator: "\n").count == 2)
        }
    }

    @Test func anUnknownAlgorithmIsRefused() async throws {
        try await withKeysFolder { folder in
            let refused = try await ChildProcess.run(Self.skillctl, ["keys", "generate", "--dir", folder, "--alg", "HS256"])
            #expect(refused.status != 0)
            #expect(refused.output.contains("HS256"))
        }
    }
}
