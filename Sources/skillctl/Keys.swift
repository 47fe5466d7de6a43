import ArgumentParser
import Cryptography
import Foundation

/// Signing keys for access tokens: one PKCS#8 PEM file per key, named by its RFC 7638 thumbprint
/// (the token header's `kid`), readable by its owner only.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the keys that sign access tokens.",
        subcommands: [Generate.self, List.self]
    )

    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case eddsa = "EdDSA"
        case es256 = "ES256"
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new signing key; with --if-missing, only when the folder has none.",
            discussion: "The key is written with mode 0600 in a folder of mode 0700. Old keys stay, so tokens they signed keep verifying until they expire."
        )

        @Option(help: "Folder of the key files.")
        var dir: String

        // ES256 by default: on this project's machines OpenSSL verifies P-256 in about 60 % of
        // Ed25519's time, and every new token pays one verification (bench/README.md).
        @Option(help: "ES256 (P-256, the default) or EdDSA (Ed25519).")
        var alg: Algorithm = .es256

        @Flag(help: "Do nothing when the folder already holds a key (for scripts that run on every start).")
        var ifMissing = false

        func run() throws {
            // Files and folders made from here on are private from their first byte.
            umask(0o077)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if ifMissing, try !KeyFile.list(in: dir).isEmpty { return }
            let pem: String
            let jwk: JWK
            switch alg {
            case .eddsa:
                let key = try Ed25519PrivateKey()
                (pem, jwk) = (try key.pemRepresentation, JWK(key.publicKey))
            case .es256:
                let key = try P256PrivateKey()
                (pem, jwk) = (try key.pemRepresentation, JWK(key.publicKey))
            }
            let kid = try jwk.thumbprint()
            let path = "\(dir)/\(kid).pem"
            guard FileManager.default.createFile(atPath: path, contents: Data(pem.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CommandFailure("cannot write \(path)")
            }
            print("keys: created \(alg.rawValue) key \(kid)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the signing keys, newest first.")

        @Option(help: "Folder of the key files.")
        var dir: String

        func run() throws {
            for file in try KeyFile.list(in: dir) {
                print("\(file.kid)  \(file.modified.ISO8601Format())")
            }
        }
    }
}

/// A key file in the keys folder.
struct KeyFile {
    let kid: String
    let modified: Date

    /// The `*.pem` files of `directory`, newest first.
    static func list(in directory: String) throws -> [KeyFile] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".pem") }
            .map { name in
                let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")
                return KeyFile(kid: String(name.dropLast(4)), modified: attributes[.modificationDate] as? Date ?? .distantPast)
            }
            .sorted { $0.modified > $1.modified }
    }
}
