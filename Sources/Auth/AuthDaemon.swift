import Hummingbird
import JWT
import Logging
import NIOPosix
import PasswordHashing
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// authd's part of the daemon: its routes, the lean validator listener, the revocation listener
/// and the signing-key reloader, over the Redis and PostgreSQL clients `BackedDaemon` made.
public enum AuthDaemon {
    /// The parts of a running authd; tests reach the validator and keys through it.
    struct Components: Sendable {
        let validator: TokenValidator
        let keys: SigningKeys
        let cache: ValidationCache
        /// The Telegram session listener's routes (served on `telegram.sessions-listen`).
        let telegramSessions: RouterResponder<BasicRequestContext>
        /// The accounts listener's routes, for docsd (served on `accounts.listen`).
        let accountLookup: RouterResponder<BasicRequestContext>
        let services: [any Service]
    }

    /// What authd connects to.
    public static let backends: [Backend] = [.redis, .postgres]

    /// `BackedDaemon`'s set-up hook: adds the routes and returns the services.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        try await build(setup).services + (try setup.eventOutboxRelay(schema: "auth"))
    }

    /// Where authd keeps its state: PostgreSQL and Redis in a running authd, in memory in the tests
    /// of its rules.
    struct Storage: Sendable {
        let accounts: any AccountStore
        let tokens: any TokenRegistry
        let throttle: any LoginThrottle
    }

    /// authd over the Redis and PostgreSQL clients: its storage there, the revocation feed, and
    /// ``wire(_:settings:storage:)`` for the rest.
    static func build(_ setup: DaemonSetup) async throws -> Components {
        let redis = try setup.backends.redis()
        let postgres = try setup.backends.postgres()
        let settings = try AuthSettings(setup.configuration)
        let accounts = PostgresAccountStore(postgres: postgres)
        let storage = Storage(
            accounts: accounts,
            tokens: RedisTokenRegistry(redis: redis, store: accounts, tokenLifetime: settings.accessTokenLifetime + settings.leeway),
            throttle: RedisLoginThrottle(
                redis: redis, accountThreshold: settings.accountFailureThreshold, addressThreshold: settings.addressFailureThreshold,
                base: settings.lockoutBase, maximum: settings.lockoutMaximum))
        let components = try await wire(setup, settings: settings, storage: storage)
        let feed = RevocationListener(redis: redis, cache: components.cache, logger: setup.logger)
        return Components(
            validator: components.validator, keys: components.keys, cache: components.cache, telegramSessions: components.telegramSessions,
            accountLookup: components.accountLookup, services: components.services + [feed])
    }

    /// authd's rules over a storage: signing keys, password hashing, the validator and its cache,
    /// the account flows and their routes, and the services that need no backend of their own.
    static func wire(_ setup: DaemonSetup, settings: AuthSettings, storage: Storage) async throws -> Components {
        let keys = try SigningKeys(
            directory: settings.keysDirectory,
            validation: .init(issuer: settings.issuer, audience: settings.audience, leeway: settings.leeway),
            activationDelay: settings.keyActivationDelay, logger: setup.logger)
        // Argon2id runs on its own threads, two at a time: each takes 19 MiB and ~20 ms, so this
        // bounds login memory and keeps the event loops free for the validator.
        let hashingThreads = NIOThreadPool(numberOfThreads: 2)
        hashingThreads.start()
        let hasher = PasswordHasher(
            parameters: Argon2idParameters(memoryKiB: UInt32(settings.passwordMemoryKiB), iterations: UInt32(settings.passwordIterations)),
            threadPool: hashingThreads, queueLimit: settings.passwordQueueLimit)
        // One cache per instance: the validator fills it, the revocation feed and this instance's
        // own revocations empty it.
        let cache = ValidationCache(capacity: settings.cacheEntries, ttl: settings.cacheTTL)
        let validator = TokenValidator(keys: keys, registry: storage.tokens, store: storage.accounts, cache: cache, logger: setup.logger)
        let accounts = try await Accounts(
            store: storage.accounts, registry: storage.tokens, throttle: storage.throttle, keys: keys, hasher: hasher, settings: settings, cache: cache,
            logger: setup.logger)
        let routes = AuthRoutes(accounts: accounts, validator: validator, keys: keys)
        routes.add(to: setup.router)
        let sessionRouter = Daemon.internalRouter()
        routes.addTelegramSessions(to: sessionRouter)
        let lookupRouter = Daemon.internalRouter()
        routes.addAccountLookup(to: lookupRouter)

        var services: [any Service] = [
            ShutdownHook { try? await hashingThreads.shutdownGracefully() },
            KeyReloader(keys: keys, interval: settings.keyReloadInterval),
        ]
        if let address = settings.validateListen {
            services.append(
                ValidateServer.listener(
                    address: address, threads: settings.validateThreads, socketMode: setup.configuration.socketMode, validator: validator, logger: setup.logger)
            )
        }
        if let address = settings.telegramSessionsListen {
            services.append(try Daemon.internalListener(router: sessionRouter, address: address, configuration: setup.configuration, logger: setup.logger))
        }
        if let address = settings.accountsListen {
            services.append(try Daemon.internalListener(router: lookupRouter, address: address, configuration: setup.configuration, logger: setup.logger))
        }
        return Components(
            validator: validator, keys: keys, cache: cache, telegramSessions: sessionRouter.buildResponder(), accountLookup: lookupRouter.buildResponder(),
            services: services)
    }
}

/// Reads the keys folder again every `interval` (see ``SigningKeys``).
struct KeyReloader: Service {
    let keys: SigningKeys
    let interval: Double

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // Cancelled at shutdown: the loop then ends without an error.
                try? await Task.sleep(for: .seconds(interval))
                if !Task.isCancelled { keys.reload() }
            }
        }
    }
}
