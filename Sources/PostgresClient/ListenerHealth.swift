/// What a reader of ``PostgresListener``'s events knows of its hearing: whether it listens, and up
/// to when every committed notification is known to have been heard. What a cache kept from the
/// notifications may be answered only while this is trusted.
public struct ListenerHealth: Sendable {
    public private(set) var isListening = false
    private var confirmedAt = ContinuousClock.now

    public init() {}

    /// ``PostgresListener/Event/listening`` (true) or ``PostgresListener/Event/lost`` (false).
    public mutating func listening(_ listening: Bool) {
        isListening = listening
        confirmedAt = .now
    }

    /// ``PostgresListener/Event/confirmed(_:)``: every change committed before `sent` was heard.
    public mutating func confirmed(_ sent: ContinuousClock.Instant) {
        confirmedAt = max(confirmedAt, sent)
    }

    /// Listening, and heard from within three heartbeats: a silent network split is noticed so.
    public func isTrusted(at now: ContinuousClock.Instant, heartbeat: Duration) -> Bool {
        isListening && now - confirmedAt <= heartbeat * 3
    }
}
