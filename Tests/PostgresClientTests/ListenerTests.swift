import Foundation
import Logging
import PostgresClient
import Testing

/// A listener hears what committed transactions notify, not what rolled back, confirms that it
/// still hears, and says when its connection was lost and when it listens again.
@Suite(.timeLimit(.minutes(1)))
struct ListenerTests {
    /// The listener's events as a stream (confirmations left out unless asked for), stopped when
    /// `body` returns.
    static func withEvents(
        _ configuration: PostgresConfiguration, channel: String, confirmations: Bool = false,
        _ body: (inout AsyncStream<PostgresListener.Event>.Iterator) async throws -> Void
    ) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: PostgresListener.Event.self)
        let listener = PostgresListener(configuration: configuration, channel: channel, heartbeat: .milliseconds(200), logger: Logger(label: "test")) {
            if case .confirmed = $0, !confirmations { return }
            continuation.yield($0)
        }
        defer { listener.stop() }
        var events = stream.makeAsyncIterator()
        try await body(&events)
    }

    static func channel() -> String { "test_" + UUID().uuidString.prefix(8).lowercased().filter(\.isLetter) }

    @Test func committedNotificationsArriveInOrderAndRolledBackOnesNever() async throws {
        let channel = Self.channel()
        try await Self.withEvents(try Support.configuration(), channel: channel) { events in
            #expect(await events.next() == .listening)
            try await Support.withClient { client in
                await #expect(throws: CancellationError.self) {
                    try await client.withTransaction { transaction in
                        _ = try await transaction.query("SELECT pg_notify($1, 'rolled back')", [.text(channel)])
                        throw CancellationError()
                    }
                }
                for payload in ["first", "second"] {
                    try await client.withTransaction { transaction in
                        _ = try await transaction.query("SELECT pg_notify($1, $2)", [.text(channel), .text(payload)])
                    }
                }
            }
            #expect(await events.next() == .notification("first"))
            #expect(await events.next() == .notification("second"))
        }
    }

    @Test func aListeningConnectionIsConfirmedEveryHeartbeat() async throws {
        try await Self.withEvents(try Support.configuration(), channel: Self.channel(), confirmations: true) { events in
            #expect(await events.next() == .listening)
            let started = ContinuousClock.now
            for _ in 0..<2 {
                guard case .confirmed(let sent) = await events.next() else {
                    Issue.record("no confirmation")
                    return
                }
                #expect(sent >= started - .milliseconds(200))
            }
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }

    @Test func aConnectionEndedByTheServerIsReportedLostThenListensAgain() async throws {
        let channel = Self.channel()
        var configuration = try Support.configuration()
        configuration.applicationName = "listener-\(channel)"
        try await Self.withEvents(configuration, channel: channel) { events in
            #expect(await events.next() == .listening)
            try await Support.withClient { client in
                let ended = try await client.query(
                    "SELECT count(pg_terminate_backend(pid))::int8 AS n FROM pg_stat_activity WHERE application_name = $1",
                    [.text(configuration.applicationName)])
                #expect(try ended[0].decode("n", as: Int.self) == 1)
                #expect(await events.next() == .lost)
                #expect(await events.next() == .listening)
                _ = try await client.query("SELECT pg_notify($1, 'after')", [.text(channel)])
            }
            #expect(await events.next() == .notification("after"))
        }
    }
}
