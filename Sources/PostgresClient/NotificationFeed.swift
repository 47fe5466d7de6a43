public import Logging
public import ServiceLifecycle

/// A cache kept current by one channel's notifications (``NotificationFeed``): it must forget
/// what a notification names, and answer nothing it kept unless its ``Hearing`` is trusted.
public protocol NotifiedCache: Sendable {
    /// How often the listener's connection is asked whether it still hears.
    var heartbeat: Duration { get }
    /// Listening started (true) or stopped (false): what is kept may have missed changes.
    func listening(_ listening: Bool)
    /// One notification's payload.
    func heard(_ payload: String)
    /// The listener's connection answered a heartbeat sent at `sent`.
    func confirmed(_ sent: ContinuousClock.Instant)
}

/// Hands one channel's notifications to a cache, from the listener's own thread (no hop between),
/// for as long as the daemon runs.
public struct NotificationFeed: Service {
    let postgres: PostgresConfiguration
    let channel: String
    let cache: any NotifiedCache
    let logger: Logger

    /// - Parameter channel: a lowercase SQL identifier, as the triggers that notify it name it.
    public init(postgres: PostgresConfiguration, channel: String, cache: any NotifiedCache, logger: Logger) {
        self.postgres = postgres
        self.channel = channel
        self.cache = cache
        self.logger = logger
    }

    public func run() async throws {
        var postgres = postgres
        postgres.applicationName += " (listening on \(channel))"
        let (cache, channel, logger) = (cache, channel, logger)
        let listener = PostgresListener(configuration: postgres, channel: channel, heartbeat: cache.heartbeat, logger: logger) { event in
            switch event {
            case .listening:
                cache.listening(true)
                logger.info("changes are heard: the cache they keep current is in use", metadata: ["channel": .string(channel)])
            case .notification(let payload): cache.heard(payload)
            case .confirmed(let sent): cache.confirmed(sent)
            case .lost: cache.listening(false)
            }
        }
        defer {
            listener.stop()
            cache.listening(false)
        }
        try? await gracefulShutdown()
    }
}
