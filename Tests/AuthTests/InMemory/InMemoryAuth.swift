import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceBackends
import ServiceKit
import Synchronization
import Testing

@testable import Auth

/// authd in process over in-memory storage: its own wiring (``AuthDaemon/wire(_:storage:)``, as
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
    private let background: Task<Void, Never>

    /// Starts an instance, runs `body` with it, and stops it before returning, also when `body`
    /// throws. `arguments` are authd command-line settings; password hashing is cheap (1 MiB, one
    /// pass) unless `productionHashing`, as with ``AuthInstance``.
    static func with<T>(
        keysDirectory: String? = nil, productionHashing: Bool = false, arguments: [String] = [], _ body: (InMemoryAuth) async throws -> T
    ) async throws -> T {
        let instance = try await InMemoryAuth(keysDirectory: keysDirectory, productionHashing: productionHashing, arguments: arguments)
        do {
            let result = try await body(instance)
            await instance.stop()
            return result
        } catch {
            await instance.stop()
            throw error
        }
    }

    private init(keysDirectory: String?, productionHashing: Bool, arguments: [String]) async throws {
        let keysDirectory = try keysDirectory ?? AuthInstance.makeKeysDirectory()
        let configuration = try await DaemonConfiguration.load(
            daemon: "authd",
            arguments: ["authd", "--jwt-keys", keysDirectory, "--jwt-activation", "0", "--cookies-secure", "true"]
                + (productionHashing ? [] : ["--password-memory", "1024", "--password-iterations", "1"]) + arguments,
            environment: [:])
        let settings = try AuthSettings(configuration)
        let logger = {
            var logger = Logger(label: "authd-in-memory")
            logger.logLevel = .critical
            return logger
        }()
        let accounts = InMemoryAccountStore()
        let tokens = InMemoryTokenRegistry(tokenLifetime: settings.accessTokenLifetime + settings.leeway)
        let storage = AuthDaemon.Storage(accounts: accounts, tokens: tokens, throttle: UnthrottledLogins())
        let parts = Mutex<AuthDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "authd", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: [], logger: logger
        ) {
            setup in
            let components = try await AuthDaemon.wire(setup, storage: storage)
            parts.withLock { $0 = components }
            return components.services
        }
        let components = try #require(parts.withLock { $0 })
        // The feed is always live here: what the registry announces reaches the cache at once.
        components.cache.reset(enabled: true)
        let cache = components.cache
        tokens.subscribe { message in RevocationListener.apply(message, to: cache, logger: logger) }
        self.accounts = accounts
        self.tokens = tokens
        self.validator = components.validator
        self.keys = components.keys
        self.cache = components.cache
        self.settings = settings
        self.responder = daemon.router.buildResponder()
        background = Task {
            await withTaskGroup(of: Void.self) { group in
                for service in daemon.services {
                    group.addTask {
                        do {
                            try await service.run()
                        } catch  where !Task.isCancelled {
                            Issue.record("authd's \(type(of: service)) failed while the test ran: \(error)")
                        } catch {}
                    }
                }
            }
        }
    }

    /// An administrator's facade over the same storage, as skillctl has over the servers.
    var admin: AccountAdmin { AccountAdmin(store: accounts, registry: tokens) }

    func stop() async {
        background.cancel()
        await background.value
    }

    /// Runs `body` with a client of this instance's routes (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }
}
