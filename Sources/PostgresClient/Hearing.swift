/// What a cache kept current by ``PostgresListener``'s notifications knows of its hearing: whether
/// it listens, up to when every committed notification is known to have been heard, and how many
/// changes it heard. What it kept may be answered only while this is trusted, and an answer read
/// from the database is kept only if no change was heard while it was read (its ``Ticket``).
public struct Hearing: Sendable {
    /// What a read holds between its query and its keeping: the count of changes heard when it began.
    public struct Ticket: Sendable {
        fileprivate let changes: UInt64
    }

    public private(set) var isListening = false
    private var confirmedAt = ContinuousClock.now
    private var changes: UInt64 = 0

    public init() {}

    public var ticket: Ticket { Ticket(changes: changes) }

    /// A change was heard (or may have been missed): a read under way may predate it.
    public mutating func heardChange() {
        changes += 1
    }

    /// ``PostgresListener/Event/listening`` (true) or ``PostgresListener/Event/lost`` (false); either
    /// way changes may have been missed.
    public mutating func listening(_ listening: Bool) {
        isListening = listening
        confirmedAt = .now
        heardChange()
    }

    /// ``PostgresListener/Event/confirmed(_:)``: every change committed before `sent` was heard.
    public mutating func confirmed(_ sent: ContinuousClock.Instant) {
        confirmedAt = max(confirmedAt, sent)
    }

    /// Listening, and heard from within three heartbeats: a silent network split is noticed so.
    public func isTrusted(at now: ContinuousClock.Instant, heartbeat: Duration) -> Bool {
        isListening && now - confirmedAt <= heartbeat * 3
    }

    /// Whether a read that took `ticket` may be kept now: trusted, and no change heard since.
    public func admits(_ ticket: Ticket, at now: ContinuousClock.Instant, heartbeat: Duration) -> Bool {
        isTrusted(at: now, heartbeat: heartbeat) && ticket.changes == changes
    }
}
