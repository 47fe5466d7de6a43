public import Logging
public import ServiceLifecycle
import Synchronization

/// Work that its backend could not take now (it was out of reach), kept in memory and tried again
/// every `interval`, up to `concurrency` tries at once, until each is done. What is still kept at
/// shutdown is logged by key, so that a daemon stopping with work undone says which.
public final class RetryLater<Item: Sendable>: Service, Sendable {
    /// What one try of an item came to.
    public enum Outcome: Sendable {
        /// Done, or never to be done by trying again: forgotten.
        case done
        /// Still out of reach: kept for the next try.
        case keep
    }

    private struct Kept: Sendable {
        let item: Item
        /// Which keeping of its key this is: a try of an older one does not forget a newer one.
        let serial: UInt64
    }

    private let interval: Duration
    private let concurrency: Int
    private let logger: Logger
    private let leftAtShutdown: Logger.Message
    private let keysName: String
    private let attempt: @Sendable (_ key: String, _ item: Item) async -> Outcome
    private let kept = Mutex<(items: [String: Kept], serial: UInt64)>(([:], 0))

    /// - Parameters:
    ///   - concurrency: the most tries under way at once: enough to fill a batch where the backend
    ///     batches, few where each try is a call of its own (after an outage, thousands may be kept).
    ///   - leftAtShutdown: the error logged at shutdown when items are still kept, their keys
    ///     under `keysName`.
    ///   - attempt: one try of an item.
    public init(
        interval: Duration, concurrency: Int, logger: Logger, leftAtShutdown: Logger.Message, keysName: String,
        attempt: @escaping @Sendable (_ key: String, _ item: Item) async -> Outcome
    ) {
        precondition(concurrency > 0)
        self.interval = interval
        self.concurrency = concurrency
        self.logger = logger
        self.leftAtShutdown = leftAtShutdown
        self.keysName = keysName
        self.attempt = attempt
    }

    /// Keeps `item` under `key` until a try of it is done; one kept under the same key is replaced.
    public func keep(_ item: Item, as key: String) {
        kept.withLock { kept in
            kept.serial += 1
            kept.items[key] = Kept(item: item, serial: kept.serial)
        }
    }

    public var count: Int { kept.withLock { $0.items.count } }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // A stopping daemon wakes it for one last try at once: services stop one after another,
            // so a whole interval's sleep here would lengthen every stop.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            await retry()
        }
        let left = kept.withLock { $0.items.keys.sorted() }
        if !left.isEmpty { logger.error(leftAtShutdown, metadata: [keysName: "\(left.joined(separator: ","))"]) }
    }

    /// Tries every kept item once; those done are forgotten.
    public func retry() async {
        let items = kept.withLock { $0.items }
        await withTaskGroup(of: Void.self) { group in
            for (index, (key, entry)) in items.enumerated() {
                if index >= concurrency { await group.next() }
                group.addTask {
                    guard await self.attempt(key, entry.item) == .done else { return }
                    self.kept.withLock { state in
                        if state.items[key]?.serial == entry.serial { state.items[key] = nil }
                    }
                }
            }
        }
    }
}
