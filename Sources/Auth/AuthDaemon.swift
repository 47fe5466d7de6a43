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
    public struct Components: Sendable {
        public let validator: TokenValidator
        public let keys: SigningKeys
        public let services: [any Service]
    }

    /// `BackedDaemon`'s set-up hook: adds the routes and returns the services.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        try await build(setup).services
    }

    public static func build(_ setup: DaemonSetup) async throws -> Components {
        guard let redis = setup.redis, let postgres = setup.postgres else {
            throw SigningKeysError(message: "authd needs Redis and PostgreSQL")
        }
        let settings = try AuthSettings(setup.configuration)
        let keys = try SigningKeys(
            directory: settings.keysDirectory,
            validation: .init(issuer: settings.issuer, audience: settings.audience, leeway: settings.leeway),
            activationDelay: settings.keyActivationDelay, logger: setup.logger)
        // Argon2id runs on its own threads, two at a time: each takes 19 MiB and ~20 ms, so this
        // bounds login memory and keeps the event loops free for the validator.
        let hashingThreads = NIOThreadPool(numberOfThreads: 2)
        hashingThreads.start()
        let store = AccountStore(postgres: postgres)
        let registry = TokenRegistry(redis: redis, store: store, tokenLifetime: settings.accessTokenLifetime + settings.leeway)
        let validator = TokenValidator(keys: keys, registry: registry, store: store, settings: settings, logger: setup.logger)
        let accounts = try await AccountService(
            store: store, registry: registry, keys: keys,
            hasher: PasswordHasher(
                parameters: Argon2idParameters(memoryKiB: UInt32(settings.passwordMemoryKiB), iterations: UInt32(settings.passwordIterations)),
                threadPool: hashingThreads, queueLimit: settings.passwordQueueLimit), settings: settings, validator: validator, logger: setup.logger)
        AuthRoutes(accounts: accounts, validator: validator).add(to: setup.router)

        var services: [any Service] = [
            ShutdownHook { try? await hashingThreads.shutdownGracefully() },
            RevocationListener(redis: redis, validator: validator, logger: setup.logger),
            KeyReloader(keys: keys, interval: settings.keyReloadInterval),
        ]
        if let address = settings.validateListen {
            services.append(
                ValidateServer(
                    address: address, threads: settings.validateThreads, socketMode: setup.configuration.socketMode, validator: validator, logger: setup.logger)
            )
        }
        return Components(validator: validator, keys: keys, services: services)
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
