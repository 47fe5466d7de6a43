import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceBackends
import ServiceKit
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import Auth

/// What both test harnesses of authd share: its configuration for a test, its assembly through
/// `BackedDaemon.assemble` (what `main` runs), and its services running in the background.
enum TestAuthd {
    static let logger: Logger = {
        var logger = Logger(label: "authd-test")
        logger.logLevel = .critical
        return logger
    }()

    /// authd's settings for a test: a keys folder (a new one with one key unless given), keys active
    /// at once, and cheap password hashing (1 MiB, one pass) unless `productionHashing`: the tests
    /// run side by side on two cores, and the default cost would starve the timing-sensitive suites.
    static func configuration(
        keysDirectory: String?, productionHashing: Bool, arguments: [String], environment: [String: String]
    ) async throws -> DaemonConfiguration {
        let keysDirectory = try keysDirectory ?? AuthInstance.makeKeysDirectory()
        return try await DaemonConfiguration.load(
            daemon: "authd",
            arguments: ["authd", "--jwt-keys", keysDirectory, "--jwt-activation", "0", "--cookies-secure", "true"]
                + (productionHashing ? [] : ["--password-memory", "1024", "--password-iterations", "1"]) + arguments,
            environment: environment)
    }

    /// authd assembled as `main` assembles it, with `build` as its set-up; returns the daemon and
    /// the parts the tests reach.
    static func assemble(
        _ configuration: DaemonConfiguration, backends: [Backend], build: @escaping @Sendable (DaemonSetup) async throws -> AuthDaemon.Components
    ) async throws -> (daemon: AssembledDaemon, components: AuthDaemon.Components) {
        let parts = Mutex<AuthDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "authd", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: backends, logger: logger
        ) { setup in
            let components = try await build(setup)
            parts.withLock { $0 = components }
            return components.services
        }
        return (daemon, try #require(parts.withLock { $0 }))
    }

    /// Runs `body` with `instance` and stops it before returning, also when `body` throws, so no
    /// test's clients and tasks run on into the next test's time bounds.
    static func run<Instance, T>(_ instance: Instance, stop: (Instance) async -> Void, _ body: (Instance) async throws -> T) async throws -> T {
        try await withStopping(instance, stop: stop, body)
    }
}
