import Contracts
import Foundation
import Logging
import RedisClient
import ServiceLifecycle

/// Where a user's tier goes for authd to read (ARCHITECTURE.md, "The live tier").
protocol TierPublisher: Sendable {
    /// Makes `tier` the user's tier for every authd instance, cached answers included.
    func publish(userID: String, tier: String) async throws
}

/// The tier contract in Redis: `billing:tier:<user id>` holds the plan code (absent means free),
/// and `user <id>` on `auth:revocations` makes every authd instance drop its cached answers for the
/// user, so the next request reads the new tier.
struct RedisTierPublisher: TierPublisher {
    let redis: RedisClient

    func publish(userID: String, tier: String) async throws {
        let key = SharedKeys.tier(userID: userID)
        let write = tier == Tier.free ? RedisCommand("DEL", key) : RedisCommand("SET", key, tier)
        // In order on one connection: the key is written before any instance is told to read it.
        // Durable: the store counts it written once this returns, and a tier lost in a failover
        // would never be written again.
        for result in try await redis.durablePipeline([write, RedisCommand("PUBLISH", SharedKeys.revocationChannel, "user \(userID)")]) {
            _ = try result.get()
        }
    }
}

/// Writes every tier the store says Redis does not hold yet, at once after a change and every
/// `interval` seconds after that: a write that failed (Redis down) is retried until it lands.
struct TierSync: Service {
    let store: any SubscriptionStore
    let publisher: any TierPublisher
    let grace: TimeInterval
    let interval: TimeInterval
    let logger: Logger

    /// Writes one user's tier if it changed since it was last written; whether it was.
    @discardableResult
    func publish(userID: String) async throws -> Bool {
        try await store.publishTier(userID: userID, grace: grace, with: { try await publisher.publish(userID: userID, tier: $0) })
    }

    /// Publishes what is pending; returns how many tiers were written.
    @discardableResult
    func publishPending() async throws -> Int {
        var written = 0
        while true {
            let users = try await store.unpublishedTiers(limit: 100)
            for user in users where try await publish(userID: user) {
                written += 1
            }
            if users.count < 100 { return written }
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await publishPending()
                } catch {
                    logger.warning("tiers not written to Redis yet; retrying", metadata: ["reason": "\(error)"])
                }
                // Cancelled at shutdown: the loop then ends without an error.
                try? await Task.sleep(for: .seconds(interval))
            }
        }
    }
}
