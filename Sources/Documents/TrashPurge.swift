import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// Empties the trash of what has waited in it longer than `trash.keep` (30 days), every
/// `trash.purge-interval`; each instance does, and a purge that finds nothing costs one statement.
struct TrashPurge: Service {
    let store: any DocumentStore
    let keep: TimeInterval
    let interval: Duration
    let logger: Logger
    private let wakeups = Wakeups()

    init(store: any DocumentStore, keep: TimeInterval, interval: Duration, logger: Logger) {
        self.store = store
        self.keep = keep
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        await wakeups.run(every: interval) { await purge() }
    }

    func purge() async {
        do {
            let purged = try await store.purge(deletedBefore: Date().addingTimeInterval(-keep))
            if purged > 0 { logger.info("emptied the trash", metadata: ["documents": "\(purged)"]) }
        } catch {
            logger.warning("the trash could not be emptied; next time", metadata: ["reason": "\(error)"])
        }
    }
}
