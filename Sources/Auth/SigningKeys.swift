import Cryptography
import Foundation
import JWT
import Logging
import Synchronization

/// The signing keys in the keys folder and the validator that trusts all of them.
///
/// Rotation without downtime: `skillctl keys generate` adds a file; every instance reads the folder
/// again every few seconds, so the new key verifies everywhere first and signs only once its file
/// is older than the activation delay. Old keys keep verifying until an admin removes their files
/// (after their last token expired).
final class SigningKeys: Sendable {
    private struct State {
        var validator: JWTValidator
        var signing: JWTSigningKey
        var loaded: [String: Date]
    }

    private let directory: String
    private let activationDelay: TimeInterval
    private let state: Mutex<State>
    private let logger: Logger

    /// Loads the folder; fails when it holds no usable key, so authd never runs unable to sign.
    init(directory: String, validation: JWTValidator.Configuration, activationDelay: TimeInterval, logger: Logger) throws {
        self.directory = directory
        self.activationDelay = activationDelay
        self.logger = logger
        let files = try Self.read(directory)
        guard let signing = Self.choose(files, activationDelay: activationDelay, now: Date()) else {
            throw SigningKeysError(message: "no signing key in \(directory): run skillctl keys generate --dir \(directory)")
        }
        let keys = JWTKeySet(files.map(\.key.verificationKey))
        state = Mutex(
            State(
                validator: JWTValidator(keys: keys, configuration: validation), signing: signing,
                loaded: Self.modificationTimes(files)))
    }

    /// The validator over every loaded key.
    var validator: JWTValidator { state.withLock { $0.validator } }

    /// The key new tokens are signed with.
    var signingKey: JWTSigningKey { state.withLock { $0.signing } }

    /// The JWKS document of every loaded key.
    var jwksDocument: String { state.withLock { $0.validator.keys.jwksDocument() } }

    /// Reads the folder again: new files start verifying, removed ones stop, and the signing key
    /// moves to the newest active one. A folder that cannot be read keeps the current keys.
    func reload(now: Date = Date()) {
        let files: [KeyFile]
        do {
            files = try Self.read(directory)
        } catch {
            logger.error("signing keys not reloaded", metadata: ["reason": "\(error)"])
            return
        }
        guard let signing = Self.choose(files, activationDelay: activationDelay, now: now) else {
            logger.error("signing keys not reloaded: the folder holds no key", metadata: ["dir": "\(directory)"])
            return
        }
        state.withLock { state in
            let loaded = Self.modificationTimes(files)
            if loaded.keys.sorted() != state.loaded.keys.sorted() {
                logger.notice("signing keys changed", metadata: ["kids": "\(files.map(\.key.kid))"])
            }
            if state.signing.kid != signing.kid {
                logger.notice("signing with a new key", metadata: ["kid": "\(signing.kid)"])
            }
            state.validator.keys = JWTKeySet(files.map(\.key.verificationKey))
            state.signing = signing
            state.loaded = loaded
        }
    }

    /// By kid; a key copied under a second file name appears once.
    private static func modificationTimes(_ files: [KeyFile]) -> [String: Date] {
        Dictionary(files.map { ($0.key.kid, $0.modified) }, uniquingKeysWith: { first, _ in first })
    }

    private struct KeyFile {
        let key: JWTSigningKey
        let modified: Date
    }

    /// The newest key whose file is older than the activation delay; the oldest key if none is yet.
    private static func choose(_ files: [KeyFile], activationDelay: TimeInterval, now: Date) -> JWTSigningKey? {
        let newestFirst = files.sorted { $0.modified > $1.modified }
        return (newestFirst.first { now.timeIntervalSince($0.modified) >= activationDelay } ?? newestFirst.last)?.key
    }

    private static func read(_ directory: String) throws -> [KeyFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".pem") }
        return try names.map { name in
            let path = "\(directory)/\(name)"
            let pem = try String(contentsOfFile: path, encoding: .utf8)
            let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date ?? .distantPast
            let key: JWTSigningKey
            if let ed25519 = try? Ed25519PrivateKey(pemRepresentation: pem) {
                key = try JWTSigningKey(ed25519)
            } else if let p256 = try? P256PrivateKey(pemRepresentation: pem) {
                key = try JWTSigningKey(p256)
            } else {
                throw SigningKeysError(message: "\(path) is not an Ed25519 or P-256 private key (PKCS#8 PEM)")
            }
            return KeyFile(key: key, modified: modified)
        }
    }
}

struct SigningKeysError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
