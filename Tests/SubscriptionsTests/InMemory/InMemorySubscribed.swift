import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport

@testable import Subscriptions

/// subscribed in process over in-memory storage: its own wiring
/// (``SubscriptionsDaemon/wire(_:settings:storage:)``, as `main` runs it, its entitlement listener
/// on a unix socket of its own) with no server behind it, so a test of its rules takes
/// milliseconds. Its tier sync and clock are driven by the test (their loops run an hour apart);
/// what only the servers can show is tested with ``SubscribedInstance``.
final class InMemorySubscribed: Sendable {
    let store: InMemorySubscriptionStore
    let balances: InMemoryBalanceStore
    let tiers: InMemoryTierPublisher
    let components: SubscriptionsDaemon.Components
    let responder: RouterResponder<BasicRequestContext>
    /// The routes it serves, to hold against the API document.
    let routes: [APIDocument.Operation]
    let entitlementSocket = TestSubscribed.newEntitlementSocket()
    private let services: RunningServices

    /// The store's clock, which only the test moves.
    var clock: TestClock { store.clock }

    /// Starts an instance, runs `body` with it, and stops it before returning, also when `body`
    /// throws; `arguments` are subscribed command-line settings.
    static func with<T>(arguments: [String] = [], _ body: (InMemorySubscribed) async throws -> T) async throws -> T {
        try await withStopping(try await InMemorySubscribed(arguments: arguments), stop: { await $0.stop() }, body)
    }

    private init(arguments: [String]) async throws {
        let store = InMemorySubscriptionStore()
        let balances = InMemoryBalanceStore(clock: store.clock)
        let tiers = InMemoryTierPublisher()
        let (daemon, components) = try await TestSubscribed.assemble(
            arguments: ["--tiers-interval", "3600", "--subscriptions-check", "3600", "--entitlements-listen", "unix:\(entitlementSocket)"] + arguments,
            environment: [:], backends: []
        ) { setup in
            try SubscriptionsDaemon.wire(
                setup, settings: try SubscriptionSettings(setup.configuration), storage: .init(store: store, balances: balances, publisher: tiers))
        }
        self.store = store
        self.balances = balances
        self.tiers = tiers
        self.components = components
        responder = daemon.router.buildResponder()
        routes = daemon.routes.map { APIDocument.Operation(method: $0.method.rawValue, path: $0.path.description) }
        services = RunningServices(daemon.services)
    }

    private func stop() async {
        await services.stop()
        try? FileManager.default.removeItem(atPath: entitlementSocket)
    }

    /// Runs `body` with a client of the routes nginx reaches (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await TestSubscribed.withClient(responder, body)
    }

    /// Runs `body` with a client of the entitlement listener.
    func withEntitlements<T: Sendable>(_ body: (EntitlementSocket) async throws -> T) async throws -> T {
        try await TestSubscribed.withEntitlements(socket: entitlementSocket, body)
    }
}
