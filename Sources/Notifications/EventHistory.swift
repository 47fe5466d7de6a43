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
    /// Records that the user has seen their events up to `position` (never moving back), and
    /// answers how many kept events come after what they have seen.
    func markRead(of userID: String, upTo position: EventPosition) async throws -> ReadMark
}

/// What `POST /api/notifications/read` answers.
enum ReadMark: Sendable, Equatable {
    /// Seen up to `position` (the furthest marked so far); `unseen` kept events after it.
    case marked(upTo: EventPosition, unseen: Int)
    /// The position is not one of this history's: another epoch, or ahead of its newest event.
    case unknown
}
