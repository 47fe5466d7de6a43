import Contracts

/// An event as kept in its user's history, at its position.
struct StoredEvent: Sendable, Equatable {
    let position: EventPosition
    let event: UserEvent
}

/// What a read of a history gives: the events after a position, or a reset when the events after
/// that position cannot all be given (it is from another epoch, or events after it were dropped
/// for age or count); then the client reloads its state and goes on from `from`.
enum HistoryPage: Sendable, Equatable {
    case events([StoredEvent])
    /// `from`: the history's ``EventHistory/latest(of:)`` now.
    case reset(from: EventPosition)
}

/// Each user's recent events, in the order notifyd stored them: what a client resumes from.
/// Kept in Redis in a running notifyd (``RedisEventHistory``), in memory in the tests of its rules.
protocol EventHistory: Sendable {
    /// Stores `event` at the end of its user's history, unless an event with its id is kept
    /// already (a duplicate publish, or a redelivery after the ack was lost): then its position.
    /// Wakes the user's open streams on every instance.
    func append(_ event: UserEvent) async throws -> (position: EventPosition, duplicate: Bool)
    /// Up to `limit` of the user's events after `position` (from the oldest kept when nil), oldest
    /// first; a reset when events after `position` are no longer all kept.
    func events(of userID: String, after position: EventPosition?, limit: Int) async throws -> HistoryPage
    /// Where a new stream starts: the newest position of the user's history, or for an empty one
    /// a position just before now, after which every event to come is.
    func latest(of userID: String) async throws -> EventPosition
}
