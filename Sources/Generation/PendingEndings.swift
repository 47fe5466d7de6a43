import Logging
import ServiceKit

/// A reservation ending subscribed could not be told (it, or its PostgreSQL, was out of reach).
struct PendingEnding: Sendable, Equatable {
    let delivered: Bool
    let cached: Bool
}

extension RetryLater<PendingEnding> {
    /// Reservation endings told again every `interval` until subscribed answers, by request id.
    /// Without this, a reservation whose release failed (a request answered 503 after its unit was
    /// reserved, say) would keep its unit counted. Held in memory: endings still pending when the
    /// daemon stops are logged.
    static func pendingEndings(entitlements: any Entitlements, interval: Duration = .seconds(2), logger: Logger) -> RetryLater<PendingEnding> {
        RetryLater(interval: interval, concurrency: 8, logger: logger, leftAtShutdown: "reservations not ended at shutdown", keysName: "request_ids") {
            requestID, ending in
            do {
                _ = try await entitlements.end(requestID: requestID, delivered: ending.delivered, cached: ending.cached)
            } catch is EntitlementsUnavailable {
                return .keep
            } catch {
                logger.error("reservation ended otherwise", metadata: ["reservation": "\(requestID)", "reason": "\(error)"])
            }
            logger.info("reservation ended after a retry", metadata: ["reservation": "\(requestID)", "delivered": "\(ending.delivered)"])
            return .done
        }
    }
}
