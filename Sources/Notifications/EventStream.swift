import Foundation
import Logging
import Metrics

/// What an open stream writes to its client, in its transport's framing: server-sent events
/// (``ServerSentEventSink``) or WebSocket text messages (``WebSocketEventSink``), the same events.
protocol EventSink: SendableMetatype {
    /// The stream's first words: `start` is where a new stream begins (its first id, from which a
    /// reconnect before any event resumes); nil when the client resumes from an id of its own.
    mutating func open(at start: EventPosition?) async throws
    mutating func send(_ stored: StoredEvent) async throws
    /// The events after the client's id cannot all be given: it reloads its state and resumes
    /// from `from`.
    mutating func reset(from: EventPosition) async throws
    mutating func heartbeat() async throws
    /// The final `closed` event naming why, then the end of the stream.
    mutating func close(_ reason: LiveStreams.CloseReason) async throws
}

/// When a stream ends by itself, and why: at its maximum age, or a grace after its credential
/// expires (time for the client to reconnect with a fresh one), whichever comes first.
struct StreamLifetime: Equatable {
    let remaining: Duration
    let reason: LiveStreams.CloseReason

    init(openedAt now: Date, maxAge: Duration, credentialExpiresAt: Date?, grace: Duration) {
        let untilExpiry = credentialExpiresAt.map { max($0.timeIntervalSince(now) + grace / .seconds(1), 0) }
        if let untilExpiry, untilExpiry < maxAge / .seconds(1) {
            remaining = .milliseconds(Int64(untilExpiry * 1000))
            reason = .tokenExpired
        } else {
            remaining = maxAge
            reason = .maxAge
        }
    }
}

/// One user's open stream, whatever its transport: what the client missed (or a `reset`), then
/// each new event as the user's wakes and heartbeats come, until the stream is closed with a
/// reason; cut off without one when its client stops reading (``LiveStreams``' backlog).
struct EventStream: Sendable {
    let history: any EventHistory
    let streams: LiveStreams
    /// Events read from the history at once.
    let pageSize: Int
    let logger: Logger

    private static let closedStreams = Dictionary(
        uniqueKeysWithValues: LiveStreams.CloseReason.allCases.map {
            ($0, Counter(label: "notify_streams_closed_total", dimensions: [("reason", $0.rawValue)]))
        })

    /// A stream cut off as `slow`: its writer was abandoned mid-write.
    struct CutOff: Error {}

    /// Serves `subscription` into `sink` until it is closed (its lifetime ends, or
    /// ``LiveStreams`` closes it), or until it is cut off as slow (then this throws ``CutOff``,
    /// and the transport drops the connection without a closing word: the client reconnects from
    /// its last id).
    func serve<Sink: EventSink>(_ subscription: LiveStreams.Subscription, resumingAfter resume: String?, into sink: Sink) async throws {
        defer { streams.remove(subscription) }
        // The sink moves into the task that writes; nothing else touches it. That task is the
        // stream's only one besides this: this one waits for the cut-off, which ends when the
        // writer is done (it removes the stream, finishing the cut-off's sequence).
        nonisolated(unsafe) var sink = sink
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { streams.remove(subscription) }
                    try await run(subscription, resumingAfter: resume, into: &sink)
                }
                for await _ in subscription.cutOff {
                    group.cancelAll()
                    throw CutOff()
                }
                try await group.waitForAll()
            }
        } catch is CutOff {
            Self.closedStreams[.slow]?.increment()
            logger.warning(
                "stream cut off: its client does not read",
                metadata: [
                    "user": "\(subscription.userID)", "backlog_events_over": "\(streams.backlogLimit.events)",
                    "backlog_bytes_over": "\(streams.backlogLimit.bytes)",
                ])
            throw CutOff()
        }
    }

    private func run(_ subscription: LiveStreams.Subscription, resumingAfter resume: String?, into sink: inout some EventSink) async throws {
        var cursor: EventPosition
        if let resume, let position = EventPosition(resume) {
            cursor = position
            try await sink.open(at: nil)
        } else {
            cursor = try await EventRoutes.read { try await history.latest(of: subscription.userID) }
            // An id this gateway never gave cannot be resumed: reset.
            try await sink.open(at: resume == nil ? cursor : nil)
            if resume != nil { try await sink.reset(from: cursor) }
        }
        try await writeNew(subscription, after: &cursor, into: &sink)
        for await signal in subscription.signals {
            if let reason = streams.closeReason(subscription) {
                // Cut off: the cut-off task ends the stream (it may be stuck in a write).
                if reason == .slow { throw CutOff() }
                // A revoked session gets nothing more; otherwise what was stored goes out first.
                if reason != .sessionRevoked && reason != .accountBlocked {
                    try await writeNew(subscription, after: &cursor, into: &sink)
                }
                Self.closedStreams[reason]?.increment()
                try await sink.close(reason)
                return
            }
            if case .heartbeat = signal {
                try await sink.heartbeat()
                // Only if a wake came since the last read (the heartbeat may have taken its place).
                guard streams.hasUnread(subscription) else { continue }
            }
            try await writeNew(subscription, after: &cursor, into: &sink)
        }
    }

    /// Writes the user's events after `cursor` and moves it past them; a reset when they are no
    /// longer all kept.
    private func writeNew(_ subscription: LiveStreams.Subscription, after cursor: inout EventPosition, into sink: inout some EventSink) async throws {
        while true {
            streams.readingHistory(subscription)
            switch try await EventRoutes.read({ try await history.events(of: subscription.userID, after: cursor, limit: pageSize) }) {
            case .reset(let from):
                cursor = from
                try await sink.reset(from: from)
                return
            case .events(let events):
                for stored in events {
                    try await sink.send(stored)
                    cursor = stored.position
                }
                if events.count < pageSize { return }
            }
        }
    }
}
