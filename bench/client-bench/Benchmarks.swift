import AMQPClient
import Auth
import Cryptography
import Foundation
import JWT
import Logging
import NIOPosix
import PasswordHashing
import PostgresClient
import RedisClient

/// Round trips of each wrapper against its real server, and the cost of the crypto primitives.
enum Benchmarks {
    static let logger = Logger(label: "client-bench")

    static func crypto() async throws {
        let message = Array("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0".utf8)
        let ed25519 = try Ed25519PrivateKey()
        let edSignature = try ed25519.signature(for: message)
        let edPublic = ed25519.publicKey
        try await measure("Ed25519 verify", operations: 2000) {
            for _ in 0..<2000 { precondition(edPublic.isValidSignature(edSignature, for: message)) }
        }
        let p256 = try P256PrivateKey()
        let esSignature = try p256.signature(for: message)
        let esPublic = p256.publicKey
        try await measure("ES256 verify", operations: 2000) {
            for _ in 0..<2000 { precondition(esPublic.isValidSignature(esSignature, for: message)) }
        }
        for (name, signer) in [("EdDSA", try JWTSigningKey(Ed25519PrivateKey())), ("ES256", try JWTSigningKey(P256PrivateKey()))] {
            let validator = JWTValidator(keys: JWTKeySet([signer.verificationKey]), configuration: .init(issuer: "bench", audience: "gateway"))
            let claims = try JWTClaims(issuer: "bench", audience: "gateway", subject: "user-1", sessionID: "session-1", scopes: ["generate", "profile"])
            let token = try JWTSigner.sign(claims, with: signer)
            try await measure("JWT \(name) full validation (\(token.utf8.count)-byte token)", operations: 2000) {
                for _ in 0..<2000 { _ = try validator.validate(token) }
            }
        }
        let segment = Base64URL.encode([UInt8](repeating: 0x5A, count: 256))
        try await measure("base64url decode of a 256-byte segment", operations: 100_000) {
            for _ in 0..<100_000 { _ = try Base64URL.decode(segment) }
        }
        try await measure("SHA-256 of a 200-byte token", operations: 20000) {
            let token = [UInt8](repeating: 0x61, count: 200)
            for _ in 0..<20000 { _ = try SHA256.hash(token) }
        }
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let hasher = PasswordHasher(threadPool: pool)
        try await measure("Argon2id hash (m=19 MiB, t=2, p=1)", operations: 10) {
            for _ in 0..<10 { _ = try await hasher.hash("correct horse battery staple") }
        }
        try await pool.shutdownGracefully()
        try await validationCache()
    }

    /// authd's validation cache with 10,000 answers (5,000 users, two sessions each): a cached
    /// lookup, one revocation, and lookups while revocations arrive at 1,000 a second.
    static func validationCache() async throws {
        let entries = 10_000
        let cache = ValidationCache(capacity: entries, ttl: 3600)
        cache.reset(enabled: true)
        let digests = try (0..<entries).map { CredentialDigest(try SHA256.hash(Array("token \($0)".utf8))) }
        let identities = (0..<entries).map { Identity(userID: "user-\($0 / 2)", sessionID: "session-\($0)", scopes: ["generate"], tier: "free", expiresAt: 4_000_000_000) }
        func fill() {
            for index in 0..<entries {
                cache.insert(digests[index], identity: identities[index], blocked: false, expiresAt: 4e9, now: 1e9, generation: cache.generation)
            }
        }
        fill()
        try await measure("validation cache lookup (10,000 entries)", operations: 1_000_000) {
            for index in 0..<1_000_000 { precondition(cache.lookup(digests[index % entries], now: 1e9) != nil) }
        }
        try await measure("validation cache revocation (10,000 entries)", operations: 1000, warmUp: false) {
            for index in 0..<1000 { cache.evict(sessionOrUser: identities[index * 7].sessionID) }
        }
        fill()
        let revoking = Task.detached {
            var index = 0
            while !Task.isCancelled {
                cache.evict(sessionOrUser: identities[index % entries].sessionID)
                cache.insert(digests[index % entries], identity: identities[index % entries], blocked: false, expiresAt: 4e9, now: 1e9, generation: cache.generation)
                index += 1
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        try await measure("  lookups meanwhile, 1,000 revocations/s", operations: 1_000_000, warmUp: false) {
            for index in 0..<1_000_000 { _ = cache.lookup(digests[index % entries], now: 1e9) }
        }
        revoking.cancel()
    }

    static func redis(url: String) async throws {
        let client = RedisClient(configuration: try RedisConfiguration(url: url), logger: logger)
        let running = Task { try await client.run() }
        try await client.set("bench:key", to: "value")
        try await measure("Redis GET, sequential", operations: 20000) {
            for _ in 0..<20000 { _ = try await client.get("bench:key") }
        }
        try await measure("Redis GET, 32 concurrent tasks", operations: 50000) {
            try await concurrently(tasks: 32, count: 50000) { _ = try await client.get("bench:key") }
        }
        let batch = [RedisCommand](repeating: RedisCommand("GET", "bench:key"), count: 1000)
        try await measure("Redis GET, pipelined batches of 1000", operations: 100_000) {
            for _ in 0..<100 { _ = try await client.pipeline(batch) }
        }
        await client.shutdown()
        try await running.value
    }

    static func postgres(url: String) async throws {
        var configuration = try PostgresConfiguration(url: url)
        configuration.poolSize = 4
        let client = try PostgresClient(configuration: configuration, logger: logger)
        try await measure("PostgreSQL SELECT $1, sequential", operations: 5000) {
            for value in 0..<5000 { try await client.query("SELECT $1::int AS n", [.int(value)]) }
        }
        try await measure("PostgreSQL SELECT $1, 32 tasks over 4 connections", operations: 20000) {
            try await concurrently(tasks: 32, count: 20000) { try await client.query("SELECT $1::int AS n", [.int(1)]) }
        }
        await client.close()
    }

    static func amqp(url: String) async throws {
        let configuration = try AMQPConfiguration(url: url)
        let queue = "bench.\(UInt32.random(in: 0 ... .max))"
        let topology = AMQPTopology(exchanges: [.init("bench", kind: .direct)], queues: [.init(queue)], bindings: [.init(queue: queue, exchange: "bench", routingKey: queue)])
        let publisher = AMQPPublisher(configuration: configuration, logger: logger)
        try await publisher.declare(topology)
        let body = [UInt8](repeating: 0x62, count: 200)
        let message = AMQPMessage(exchange: "bench", routingKey: queue, body: body, mandatory: true)
        try await measure("AMQP confirmed publish, one at a time", operations: 1000, warmUp: false) {
            for _ in 0..<1000 { try await publisher.publish(message) }
        }
        try await measure("AMQP confirmed publish, batches of 500", operations: 20000, warmUp: false) {
            for _ in 0..<40 {
                let outcomes = await publisher.publish([AMQPMessage](repeating: message, count: 500))
                for outcome in outcomes { try outcome.get() }
            }
        }
        let consumer = AMQPConsumer(queue: queue, prefetch: 200, topology: topology, configuration: configuration, logger: logger)
        try await measure("AMQP consume + ack, prefetch 200", operations: 21000, warmUp: false) {
            var received = 0
            for await delivery in consumer.deliveries {
                consumer.ack(delivery)
                received += 1
                if received == 21000 { break }
            }
        }
        await consumer.shutdown()
        await publisher.shutdown()
    }
}
