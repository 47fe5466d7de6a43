import Logging
import PostgresClient
import ServiceLifecycle

/// Tells the read cache, from the listener's own thread (no hop between), what PostgreSQL's
/// `docs_changed` notifications say (sql/017): each changed document, whether anyone is listening
/// at all, and each heartbeat the connection answered (the cache answers only while so, recently).
struct DocumentChangeFeed: Service {
    static let channel = "docs_changed"

    let postgres: PostgresConfiguration
    let cache: DocumentReadCache
    let logger: Logger

    func run() async throws {
        var postgres = postgres
        postgres.applicationName += " (listening for changes)"
        let (cache, logger) = (cache, logger)
        let listener = PostgresListener(configuration: postgres, channel: Self.channel, heartbeat: cache.heartbeat, logger: logger) { event in
            switch event {
            case .listening:
                cache.listening(true)
                logger.info("the read cache is in use: changes are heard", metadata: ["channel": .string(Self.channel)])
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
