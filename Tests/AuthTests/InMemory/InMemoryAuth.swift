import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceBackends
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Auth

/// authd in process over in-memory storage: its own wiring (``AuthDaemon/wire(_:settings:storage:)``, as
/// `main` runs it) with no server behind it, so a test of its rules takes milliseconds. What only
/// the servers can show (Lua scripts, transactions, outages, the revocation feed between
/// instances) is tested with ``AuthInstance``.
final class InMemoryAuth: Sendable {
    let accounts: InMemoryAccountStore
    let tokens: InMemoryTokenRegistry
    let validator: TokenValidator
    let keys: SigningKeys
    let cache: ValidationCache
    let settings: AuthSettings
    let responder: RouterResponder<BasicRequestContext>
    /// The routes it serves, to hold against the API document.
    let routes: [APIDocument.Operation]
    /// botd's Telegram session listener.
    let telegramSessions: RouterResponder<BasicRequestContext>
    let accountLookup: RouterResponder<BasicRequestContext>
    private let services: RunningServices

    /// Starts an instance, runs `body` with it, and stops it before returning, also when `body`
    /// throws; the settings are as ``AuthInstance``'s.
    static func with<T>(
        keysDirectory: String? = nil, productionHashing: Bool = false, arguments: [String] = [], _ body: (InMemoryAuth) async throws -> T
    ) async throws -> T {
        let configuration = try await TestAuthd.configuration(
            keysDirectory: keysDirectory, productionHashing: productionHashing, arguments: arguments, environment: [:])
        return try await TestAuthd.run(try await InMemoryAuth(configuration: configuration), stop: { await $0.stop() }, body)
    }

    private init(configuration: DaemonConfiguration) async throws {
        let settings = try AuthSettings(configuration)
        let accounts = InMemoryAccountStore()
        let tokens = InMemoryTokenRegistry(tokenLifetime: settings.accessTokenLifetime + settings.leeway)
        let storage = AuthDaemon.Storage(accounts: accounts, tokens: tokens, throttle: UnthrottledLogins())
        let (daemon, components) = try await TestAuthd.assemble(configuration, backends: []) { setup in
            try await AuthDaemon.wire(setup, settings: settings, storage: storage)
        }
        // The feed is always live here: what the registry announces reaches the cache at once.
        let cache = components.cache
        cache.reset(enabled: true)
        tokens.subscribe { message in RevocationListener.apply(message, to: cache, logger: TestAuthd.logger) }
        self.accounts = accounts
        self.tokens = tokens
        self.validator = components.validator
        self.keys = components.keys
        self.cache = cache
        self.settings = settings
        self.responder = daemon.router.buildResponder()
        routes = daemon.routes.map { APIDocument.Operation(method: $0.method.rawValue, path: $0.path.description) }
        self.telegramSessions = components.telegramSessions
        self.accountLookup = components.accountLookup
        services = RunningServices(daemon.services)
    }

    /// An administrator's facade over the same storage, as skillctl has over the servers.
    var admin: AccountAdmin { AccountAdmin(store: accounts, registry: tokens) }

    func stop() async {
        await services.stop()
    }

    /// Runs `body` with a client of the Telegram session listener, as botd calls it.
    func withTelegramSessionClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: telegramSessions).test(.router, body)
    }

    /// Runs `body` with a client of the accounts listener, as docsd calls it.
    func withAccountLookupClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: accountLookup).test(.router, body)
    }

    /// Runs `body` with a client of this instance's routes (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }
}
