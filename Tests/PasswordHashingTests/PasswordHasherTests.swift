import NIOPosix
import PasswordHashing
import Testing

@Suite struct PasswordHasherTests {
    /// A cheap cost keeps the suite fast; the algorithm and encoding are the same as production's.
    static let cheap = Argon2idParameters(memoryKiB: 1024, iterations: 1, parallelism: 1)

    func withHasher(_ parameters: Argon2idParameters = cheap, threads: Int = 2, _ body: (PasswordHasher) async throws -> Void) async throws {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        try await body(PasswordHasher(parameters: parameters, threadPool: pool))
        try await pool.shutdownGracefully()
    }

    @Test func hashIsPHCStringThatVerifies() async throws {
        try await withHasher { hasher in
            let encoded = try await hasher.hash("correct horse battery staple")
            #expect(encoded.hasPrefix("$argon2id$v=19$m=1024,t=1,p=1$"))
            let result1 = try await hasher.verify("correct horse battery staple", against: encoded)
            #expect(result1)
            let result2 = try await hasher.verify("correct horse battery stapler", against: encoded)
            #expect(!result2)
        }
    }

    @Test func sameItemHashesDifferentlyEachTime() async throws {
        try await withHasher { hasher in
            let first = try await hasher.hash("password-123456")
            let second = try await hasher.hash("password-123456")
            #expect(first != second)
        }
    }

    @Test func productionDefaultsAreOWASPMinimum() async throws {
        try await withHasher(Argon2idParameters()) { hasher in
            let encoded = try await hasher.hash("a long enough password")
            #expect(encoded.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
            let result3 = try await hasher.verify("a long enough password", against: encoded)
            #expect(result3)
        }
    }

    @Test func malformedOrForeignHashesNeverMatch() async throws {
        try await withHasher { hasher in
            let result4 = try await hasher.verify("x", against: "")
            #expect(!result4)
            let result5 = try await hasher.verify("x", against: "$argon2id$v=19$m=1024,t=1,p=1$AAAA$BBBB")
            #expect(!result5)
            let result6 = try await hasher.verify("x", against: "$2b$12$abcdefghijklmnopqrstuu")
            #expect(!result6)
        }
    }

    @Test func overlongPasswordsAreRefused() async throws {
        try await withHasher { hasher in
            let long = String(repeating: "a", count: PasswordHasher.maximumPasswordBytes + 1)
            await #expect(throws: PasswordHashingError.self) { try await hasher.hash(long) }
            let encoded = try await hasher.hash("short password")
            let result7 = try await hasher.verify(long, against: encoded)
            #expect(!result7)
        }
    }

    @Test func manyConcurrentHashesAllVerify() async throws {
        try await withHasher { hasher in
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        let password = "password number \(index)"
                        return try await hasher.verify(password, against: hasher.hash(password))
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.count == 16 && results.allSatisfy { $0 })
        }
    }
}

@Suite struct PasswordHasherQueueTests {
    /// A flood of sign-ins must not queue without bound: past the limit a hash is refused at once,
    /// and once the queue drains hashing works again.
    @Test func hashesBeyondTheQueueLimitAreRefusedAtOnce() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        // About 100 ms a hash, so the first two are still queued while the rest arrive.
        let hasher = PasswordHasher(parameters: Argon2idParameters(memoryKiB: 65_536, iterations: 3), threadPool: pool, queueLimit: 2)
        let outcomes = await withTaskGroup(of: (Bool, Duration).self) { group in
            for index in 0..<8 {
                group.addTask {
                    let clock = ContinuousClock()
                    let started = clock.now
                    let hashed = (try? await hasher.hash("password number \(index)")) != nil
                    return (hashed, clock.now - started)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let refused = outcomes.filter { !$0.0 }
        #expect(refused.count >= 4, "\(outcomes)")
        #expect(outcomes.filter(\.0).count >= 1)
        let slowestHash = outcomes.filter(\.0).map(\.1).max() ?? .zero
        for refusal in refused { #expect(refusal.1 < slowestHash, "a refusal waited for the queue: \(outcomes)") }
        let afterwards = try await hasher.hash("the queue drained")
        #expect(afterwards.hasPrefix("$argon2id$"))
        try await pool.shutdownGracefully()
    }
}
