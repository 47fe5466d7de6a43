import Logging
import PostgresClient
import ServiceLifecycle

/// Tells the read cache what PostgreSQL's `docs_changed` notifications say (sql/017): each changed
/// document, and whether anyone is listening at all (the cache answers only while so).
struct DocumentChangeFeed: Service {
    static let channel = "docs_changed"

    let postgres: PostgresConfiguration
    let cache: DocumentReadCache
    let logger: Logger

    func run() async throws {
        var postgres = postgres
        postgres.applicationName += " (listening for changes)"
        let events = PostgresListener.events(configuration: postgres, channel: Self.channel, logger: logger)
        await cancelWhenGracefulShutdown {
            for await event in events {
                switch event {
                case .listening:
                    cache.listening(true)
                    logger.info("the read cache is in use: changes are heard", metadata: ["channel": .string(Self.channel)])
                case .notification(let payload):
                    cache.heard(payload)
                case .lost:
                    cache.listening(false)
                }
            }
        }
        cache.listening(false)
    }
}
