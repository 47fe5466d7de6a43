import CArgon2
public import NIOPosix

/// Argon2id password hashing in PHC string form (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
///
/// Each hash costs tens of milliseconds of CPU and `memoryKiB` of memory, so the work runs on a
/// dedicated thread pool whose size is the concurrency limit: extra requests queue there instead of
/// stalling event loops or the Swift task pool, and memory stays bounded at threads × memoryKiB.
public final class PasswordHasher: Sendable {
    /// Passwords longer than this are refused before hashing: Argon2 accepts them, but a
    /// megabyte-long password would be a cheap way to burn CPU.
    public static let maximumPasswordBytes = 1024

    public let parameters: Argon2idParameters
    private let threadPool: NIOThreadPool

    /// - Parameters:
    ///   - parameters: the Argon2id cost for new hashes (verification reads the cost from the hash).
    ///   - threadPool: a started pool; its thread count bounds how many hashes run at once.
    public init(parameters: Argon2idParameters = .init(), threadPool: NIOThreadPool) {
        self.parameters = parameters
        self.threadPool = threadPool
        Self.returnLargeBlocksToTheSystem
    }

    /// Argon2's 19 MiB blocks would otherwise stay resident in glibc's heap arenas after each hash
    /// (tens of MiB per daemon); see the shim.
    private static let returnLargeBlocksToTheSystem: Void = skillup_return_large_blocks_to_system()

    /// Hashes `password` with a fresh random salt.
    public func hash(_ password: String) async throws -> String {
        let bytes = Array(password.utf8)
        guard bytes.count <= Self.maximumPasswordBytes else { throw PasswordHashingError.tooLong(limit: Self.maximumPasswordBytes) }
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<parameters.saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let parameters = self.parameters
        do {
            return try await threadPool.runIfActive {
                try Argon2id.hashEncoded(password: bytes, salt: salt, parameters: parameters)
            }
        } catch let error as PasswordHashingError {
            throw error
        } catch {
            throw PasswordHashingError.shutDown
        }
    }

    /// Whether `password` matches `encoded`; a malformed hash never matches.
    public func verify(_ password: String, against encoded: String) async throws -> Bool {
        let bytes = Array(password.utf8)
        guard bytes.count <= Self.maximumPasswordBytes else { return false }
        do {
            return try await threadPool.runIfActive { Argon2id.verify(encoded: encoded, password: bytes) }
        } catch {
            throw PasswordHashingError.shutDown
        }
    }
}
