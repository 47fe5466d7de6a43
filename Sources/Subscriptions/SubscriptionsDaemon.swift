import Hummingbird
import Logging
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// subscribed's part of the daemon: the plans and subscription routes through nginx, and the
/// entitlement API for aid on its own listener.
public enum SubscriptionsDaemon {
    /// What subscribed connects to.
    public static let backends: [Backend] = [.redis, .postgres]
    /// What nginx/routes.conf sends here behind auth, and without it.
    public static let protectedPaths = [
        "/api/subscription", "/api/admin/subscriptions", "/api/billing/checkout", "/api/billing/top-up", "/api/billing/balance", "/api/billing/usage",
    ]
    public static let publicPaths = ["/api/plans", "/api/billing/webhook", "/api/billing/test-pay"]

    /// The parts of a running subscribed, for the tests to reach.
    struct Components: Sendable {
        let entitlements: EntitlementService
        let balances: BalanceService
        let admin: SubscriptionAdmin
        let tiers: TierSync
        let clock: SubscriptionClock
        let services: [any Service]
    }

    /// Where subscribed keeps its state: PostgreSQL and Redis in a running subscribed, in memory in
    /// the tests of its rules.
    struct Storage: Sendable {
        let store: any SubscriptionStore
        let balances: any BalanceStore
        let publisher: any TierPublisher
    }

    /// `BackedDaemon`'s set-up hook: adds the routes and returns the services.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        try await build(setup).services + (try setup.eventOutboxRelay(schema: "billing"))
    }

    /// subscribed over the PostgreSQL and Redis clients: its storage and tier publisher there, and
    /// ``wire(_:settings:storage:)`` for the rest.
    static func build(_ setup: DaemonSetup) async throws -> Components {
        let postgres = try setup.backends.postgres()
        let storage = Storage(
            store: PostgresSubscriptionStore(postgres: postgres), balances: PostgresBalanceStore(postgres: postgres),
            publisher: RedisTierPublisher(redis: try setup.backends.redis()))
        return wire(setup, settings: try SubscriptionSettings(setup.configuration), storage: storage)
    }

    /// subscribed's rules and routes over a storage, the tier sync, the clock that moves
    /// subscriptions along with time, and the entitlement listener when one is set.
    static func wire(_ setup: DaemonSetup, settings: SubscriptionSettings, storage: Storage) -> Components {
        let store = storage.store
        let entitlements = EntitlementService(store: store, settings: settings, logger: setup.logger)
        let balances = BalanceService(store: storage.balances, logger: setup.logger)
        let tiers = TierSync(store: store, publisher: storage.publisher, grace: settings.grace, interval: settings.tierInterval, logger: setup.logger)
        let admin = SubscriptionAdmin(store: store, tiers: tiers, logger: setup.logger)
        SubscriptionRoutes(admin: admin, entitlements: entitlements).add(to: setup.router)
        AdminRoutes(admin: admin, entitlements: entitlements).add(to: setup.router)
        let billing = BillingRoutes(
            store: store, balances: storage.balances, admin: admin, entitlements: entitlements,
            signature: settings.webhookSecret.map { WebhookSignature(secret: $0) },
            testCheckout: settings.testCheckout, publicURL: settings.publicURL, logger: setup.logger)
        billing.add(to: setup.router)
        SelfServiceRoutes(admin: admin, entitlements: entitlements, billing: billing).add(to: setup.router)
        UsageRoutes(balances: storage.balances, entitlements: entitlements).add(to: setup.router)
        let clock = SubscriptionClock(
            store: store, balances: storage.balances, tiers: tiers, grace: settings.grace, interval: settings.checkInterval,
            releaseAfter: settings.releaseAbandonedAfter, holdReleaseAfter: settings.releaseAbandonedHoldsAfter, logger: setup.logger)
        var services: [any Service] = [tiers, clock]
        if let address = settings.entitlementsListen {
            services.append(
                EntitlementServer.listener(
                    address: address, socketMode: setup.configuration.socketMode, entitlements: entitlements, balances: balances, admin: admin,
                    logger: setup.logger))
        }
        return Components(entitlements: entitlements, balances: balances, admin: admin, tiers: tiers, clock: clock, services: services)
    }
}
