import Hummingbird
import JWT
import Logging
import NIOPosix
import PasswordHashing
import RedisClient
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
        /// What the validator reads: in a running authd the same keys as `tokens`, through a Redis
        /// connection on the validator's own event loop (``build(_:)``).
        let validation: any TokenRegistry

        init(accounts: any AccountStore, tokens: any TokenRegistry, throttle: any LoginThrottle, validation: (any TokenRegistry)? = nil) {
            self.accounts = accounts
            self.tokens = tokens
            self.throttle = throttle
            self.validation = validation ?? tokens
        }
    }

    /// authd over the Redis and PostgreSQL clients: its storage there, the revocation feed, and
    /// ``wire(_:settings:storage:)`` for the rest.
    static func build(_ setup: DaemonSetup) async throws -> Components {
        let redis = try setup.backends.redis()
        let postgres = try setup.backends.postgres()
        let settings = try AuthSettings(setup.configuration)
        let accounts = PostgresAccountStore(postgres: postgres)
        // The validator's own event loop, with a Redis connection of its own there: the lean
        // listener checks a new token's signature and reads its record on that one thread, and a
        // flood of new or forged tokens cannot delay sign-ins or the revocation feed, which stay on
        // the daemon's client.
        let validatorLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let validatorRedis = RedisClient(configuration: redis.configuration, eventLoop: validatorLoop.next(), logger: setup.logger)
        let lifetime = settings.accessTokenLifetime + settings.leeway
        let storage = Storage(
            accounts: accounts,
            tokens: RedisTokenRegistry(redis: redis, store: accounts, tokenLifetime: lifetime),
            throttle: RedisLoginThrottle(
                redis: redis, accountThreshold: settings.accountFailureThreshold, addressThreshold: settings.addressFailureThreshold,
                base: settings.lockoutBase, maximum: settings.lockoutMaximum),
            validation: RedisTokenRegistry(redis: validatorRedis, store: accounts, tokenLifetime: lifetime))
        let components = try await wire(setup, settings: settings, storage: storage)
        let feed = RevocationListener(redis: redis, cache: components.cache, logger: setup.logger)
        return Components(
            validator: components.validator, keys: components.keys, cache: components.cache, telegramSessions: components.telegramSessions,
            accountLookup: components.accountLookup, services: [ValidatorLoop(group: validatorLoop, redis: validatorRedis)] + components.services + [feed])
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
        let validator = TokenValidator(keys: keys, registry: storage.validation, store: storage.accounts, cache: cache, logger: setup.logger)
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

/// The validator's event loop and its Redis connection (``AuthDaemon/build(_:)``): the connection
/// runs until shutdown, then the loop stops, which closes whatever is still open on it. Not a
/// ``ShutdownHook``: a cancelled group would run that at once, and a loop shut down under a client
/// still closing drops the client's pending calls.
struct ValidatorLoop: Service {
    let group: MultiThreadedEventLoopGroup
    let redis: RedisClient

    func run() async throws {
        do {
            try await redis.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
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
