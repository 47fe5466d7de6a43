import Logging
import ServiceLifecycle
import Synchronization

/// Reservation endings subscribed could not be told (it, or its PostgreSQL, was out of reach),
/// told again every `interval` until it answers. Without this, a reservation whose release failed
/// (a request answered 503 after its unit was reserved, say) would keep its unit counted.
/// Held in memory: endings still pending when the daemon stops are logged, by request id.
final class PendingEndings: Service, Sendable {
    struct Ending: Sendable, Equatable {
        let delivered: Bool
        let cached: Bool
    }

    private let entitlements: any Entitlements
    private let interval: Duration
    private let logger: Logger
    private let pending = Mutex<[String: Ending]>([:])

    init(entitlements: any Entitlements, interval: Duration = .seconds(2), logger: Logger) {
        self.entitlements = entitlements
        self.interval = interval
        self.logger = logger
    }

    var count: Int { pending.withLock { $0.count } }

    func add(requestID: String, _ ending: Ending) {
        pending.withLock { $0[requestID] = ending }
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await retry()
        }
        let left = pending.withLock { $0 }
        if !left.isEmpty {
            logger.error("reservations not ended at shutdown", metadata: ["request_ids": "\(left.keys.sorted().joined(separator: ","))"])
        }
    }

    /// Tells subscribed every pending ending once; those it answered (either way) are done.
    func retry() async {
        for (requestID, ending) in pending.withLock({ $0 }) {
            do {
                _ = try await entitlements.end(requestID: requestID, delivered: ending.delivered, cached: ending.cached)
            } catch is EntitlementsUnavailable {
                continue
            } catch {
                logger.error("reservation ended otherwise", metadata: ["reservation": "\(requestID)", "reason": "\(error)"])
            }
            pending.withLock { _ = $0.removeValue(forKey: requestID) }
            logger.info("reservation ended after a retry", metadata: ["reservation": "\(requestID)", "delivered": "\(ending.delivered)"])
        }
    }
}
