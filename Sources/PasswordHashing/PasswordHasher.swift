import CArgon2
public import NIOPosix
import Synchronization

/// Argon2id password hashing in PHC string form (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`).
///
/// Each hash costs tens of milliseconds of CPU and `memoryKiB` of memory, so the work runs on a
/// dedicated thread pool whose size is the concurrency limit: extra requests queue there instead of
/// stalling event loops or the Swift task pool, and memory stays bounded at threads × memoryKiB.
/// The queue is bounded too (`queueLimit` jobs waiting or running): past it a request is refused at
/// once with ``PasswordHashingError/busy``, so a flood of logins costs a quick refusal each, not a
/// growing wait for every user.
public final class PasswordHasher: Sendable {
    /// Passwords longer than this are refused before hashing: Argon2 accepts them, but a
    /// megabyte-long password would be a cheap way to burn CPU.
    public static let maximumPasswordBytes = 1024

    public let parameters: Argon2idParameters
    public let queueLimit: Int
    private let threadPool: NIOThreadPool
    private let jobs = Atomic<Int>(0)

    /// - Parameters:
    ///   - parameters: the Argon2id cost for new hashes (verification reads the cost from the hash).
    ///   - threadPool: a started pool; its thread count bounds how many hashes run at once.
    ///   - queueLimit: how many hashes may wait or run at once before further ones are refused.
    public init(parameters: Argon2idParameters = .init(), threadPool: NIOThreadPool, queueLimit: Int = 32) {
        self.parameters = parameters
        self.threadPool = threadPool
        self.queueLimit = queueLimit
        Self.returnLargeBlocksToTheSystem
    }

    /// Runs `work` on the pool if the queue has room.
    private func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard jobs.add(1, ordering: .relaxed).newValue <= queueLimit else {
            jobs.subtract(1, ordering: .relaxed)
            throw PasswordHashingError.busy
        }
        defer { jobs.subtract(1, ordering: .relaxed) }
        do {
            return try await threadPool.runIfActive(work)
        } catch let error as PasswordHashingError {
            throw error
        } catch {
            throw PasswordHashingError.shutDown
        }
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
        return try await run { try Argon2id.hashEncoded(password: bytes, salt: salt, parameters: parameters) }
    }

    /// Whether `password` matches `encoded`; a malformed hash never matches.
    public func verify(_ password: String, against encoded: String) async throws -> Bool {
        let bytes = Array(password.utf8)
        guard bytes.count <= Self.maximumPasswordBytes else { return false }
        return try await run { Argon2id.verify(encoded: encoded, password: bytes) }
    }
}
