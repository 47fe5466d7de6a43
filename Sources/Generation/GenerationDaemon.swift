import Hummingbird
public import ServiceBackends
public import ServiceLifecycle

/// aid's part of the daemon: generations asked for through nginx, counted at subscribed.
public enum GenerationDaemon {
    /// What aid connects to.
    public static let backends: [Backend] = [.redis, .postgres, .rabbitmq]
    /// What nginx/routes.conf sends here behind auth.
    public static let protectedPaths = ["/api/generate", "/api/generations"]

    /// `BackedDaemon`'s set-up hook: adds the routes and returns the services.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        let settings = try GenerationSettings(setup.configuration)
        let store = PostgresGenerationStore(postgres: try setup.backends.postgres())
        let (generations, services) = settings.generations(store: store, redis: try setup.backends.redis(), logger: setup.logger)
        let relay = OutboxRelay(store: store, publisher: try setup.backends.publisher(), interval: settings.relayInterval, logger: setup.logger)
        GenerationRoutes(generations: generations, tasks: TaskService(generations: generations, relay: relay), streamLimit: settings.streamLimit).add(
            to: setup.router)
        let sweep = InterruptedSweep(generations: generations, interval: settings.sweepInterval)
        return services + [relay, sweep]
    }
}
