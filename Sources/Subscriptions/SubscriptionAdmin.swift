public import Foundation
public import Logging
public import PostgresClient
public import RedisClient

/// What an administrator does to subscriptions and reads about plans: the only part of this library
/// `skillctl` uses, and what the admin routes call. Every change is audited with the admin's name,
/// and its tier is written to Redis before the call returns; if Redis cannot take it then, the
/// change stands and subscribed's tier sync writes the tier once Redis is back.
public struct SubscriptionAdmin: Sendable {
    let store: any SubscriptionStore
    let tiers: TierSync
    let logger: Logger

    /// Over the servers, as skillctl runs it; `grace` as subscribed's `subscriptions.grace`.
    public init(postgres: PostgresClient, redis: RedisClient, grace: TimeInterval = SubscriptionSettings.defaultGrace, logger: Logger) {
        let store = PostgresSubscriptionStore(postgres: postgres)
        self.init(
            store: store, tiers: TierSync(store: store, publisher: RedisTierPublisher(redis: redis), grace: grace, interval: 1, logger: logger), logger: logger)
    }

    /// Over `store`, writing tiers through the daemon's own tier sync.
    init(store: any SubscriptionStore, tiers: TierSync, logger: Logger) {
        self.store = store
        self.tiers = tiers
        self.logger = logger
    }

    /// Longest grant or extension at once, in days (ten years).
    static let days = 1...3650

    public func plans() async throws -> [Plan] {
        try await store.plans()
    }

    /// Every plan, cheapest first, read with PostgreSQL alone (no tier is written).
    public static func plans(postgres: PostgresClient) async throws -> [Plan] {
        try await PostgresSubscriptionStore(postgres: postgres).plans()
    }

    /// What applies to the user now, as `GET /api/subscription` shows it.
    public func overview(userID: String) async throws -> SubscriptionOverview {
        try await store.overview(userID: userID, grace: tiers.grace)
    }

    public func subscription(userID: String) async throws -> SubscriptionRecord? {
        try await store.subscription(userID: userID)
    }

    /// Applies `change` for `userID`, audited as `admin`'s, and publishes the tier that follows.
    /// - Throws: ``SubscriptionChangeRefused``.
    public func apply(_ change: SubscriptionChange, userID: String, by admin: String) async throws -> SubscriptionRecord {
        switch change {
        case .grant(_, let days, _), .extend(let days):
            guard Self.days.contains(days) else {
                throw SubscriptionChangeRefused(reason: .invalidDays, description: "days must be from \(Self.days.lowerBound) to \(Self.days.upperBound)")
            }
        case .changePlan, .cancel, .changeAtPeriodEnd, .resume: break
        }
        let record = try await store.change(userID: userID, change, actor: admin)
        await publishTier(userID: userID)
        return record
    }

    /// Writes the user's changed tier to Redis now; if Redis cannot take it, subscribed's tier sync
    /// writes it (and any other left behind) once it can.
    func publishTier(userID: String) async {
        do {
            try await tiers.publish(userID: userID)
        } catch {
            logger.warning("subscription changed; its tier is not in Redis yet, and subscribed's tier sync will write it", metadata: ["reason": "\(error)"])
        }
    }
}
