import Contracts
import Logging
import ServiceBackends
import ServiceKit

/// notifyd's consumer of the `events` exchange: each event is stored in its user's history before
/// its message is acknowledged, so a crash between the two delivers it again (and the history keeps
/// it once) instead of losing it.
struct EventIntake: Sendable {
    let history: any EventHistory
    let logger: Logger

    /// Handles one delivery: a body that is not an event is rejected; while Redis cannot be
    /// reached the message is held and the store tried again (handing it back would only bring it
    /// straight back), until it is stored or the daemon stops.
    func handle(_ body: [UInt8]) async -> QueueWorker.Outcome {
        guard let event = try? UserEvent.decode(body), Identifiers.isUUID(event.userID) else {
            logger.error("event message is not a user event; dropped", metadata: ["bytes": "\(body.count)"])
            return .reject
        }
        var pause = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let (position, duplicate) = try await history.append(event)
                logger.debug(
                    "event stored",
                    metadata: ["event": "\(event.id)", "type": "\(event.type.rawValue)", "position": "\(position)", "duplicate": "\(duplicate)"])
                return .done
            } catch {
                logger.warning("event not stored; trying again", metadata: ["event": "\(event.id)", "reason": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
        return .retryLater
    }
}
