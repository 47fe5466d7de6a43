import Foundation
import Logging
import PostgresClient
import Testing

/// A listener hears what committed transactions notify, not what rolled back, and says when its
/// connection was lost and when it listens again.
@Suite(.timeLimit(.minutes(1)))
struct ListenerTests {
    @Test func committedNotificationsArriveInOrderAndRolledBackOnesNever() async throws {
        let channel = "test_" + UUID().uuidString.prefix(8).lowercased().filter(\.isLetter)
        var events = PostgresListener.events(configuration: try Support.configuration(), channel: channel, logger: Logger(label: "test"))
            .makeAsyncIterator()
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

    @Test func aConnectionEndedByTheServerIsReportedLostThenListensAgain() async throws {
        let channel = "test_" + UUID().uuidString.prefix(8).lowercased().filter(\.isLetter)
        var configuration = try Support.configuration()
        configuration.applicationName = "listener-\(channel)"
        var events = PostgresListener.events(configuration: configuration, channel: channel, logger: Logger(label: "test")).makeAsyncIterator()
        #expect(await events.next() == .listening)
        try await Support.withClient { client in
            let ended = try await client.query(
                "SELECT count(pg_terminate_backend(pid))::int8 AS n FROM pg_stat_activity WHERE application_name = $1", [.text(configuration.applicationName)])
            #expect(try ended[0].decode("n", as: Int.self) == 1)
            guard case .lost = await events.next() else {
                Issue.record("the ended connection was not reported")
                return
            }
            #expect(await events.next() == .listening)
            _ = try await client.query("SELECT pg_notify($1, 'after')", [.text(channel)])
        }
        #expect(await events.next() == .notification("after"))
    }
}
