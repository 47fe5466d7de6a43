import AMQPClient
import Contracts
import Logging
import Messaging
import ServiceBackends
import Synchronization
import TestSupport
import Testing

@testable import Notifications

/// notifyd's consumer: an event is stored before its message goes, once however often it comes,
/// and held (not dropped, not handed back) while the history cannot be reached.
@Suite struct EventIntakeTests {
    static let logger: Logger = {
        var logger = Logger(label: "intake-test")
        logger.logLevel = .critical
        return logger
    }()

    /// A history that fails its first `failures` appends (Redis away), then stores in memory.
    final class FlakyHistory: EventHistory {
        let stored = InMemoryEventHistory()
        let failuresLeft: Mutex<Int>
        let attempts = Mutex(0)

        init(failures: Int) { failuresLeft = Mutex(failures) }

        struct Away: Error {}

        func append(_ event: UserEvent) async throws -> (position: EventPosition, duplicate: Bool) {
            attempts.withLock { $0 += 1 }
            let fails = failuresLeft.withLock { left in
                defer { left = max(left - 1, 0) }
                return left > 0
            }
            if fails { throw Away() }
            return try await stored.append(event)
        }

        func events(of userID: String, after position: EventPosition?, limit: Int) async throws -> HistoryPage {
            try await stored.events(of: userID, after: position, limit: limit)
        }

        func latest(of userID: String) async throws -> EventPosition {
            try await stored.latest(of: userID)
        }

        func markRead(of userID: String, upTo position: EventPosition) async throws -> ReadMark {
            try await stored.markRead(of: userID, upTo: position)
        }
    }

    static func kept(_ history: any EventHistory, _ userID: String) async throws -> [UserEvent] {
        guard case .events(let stored) = try await history.events(of: userID, after: nil, limit: 100) else { return [] }
        return stored.map(\.event)
    }

    @Test func anEventIsStoredBeforeItsMessageGoesAndOnceHoweverOftenItComes() async throws {
        let history = InMemoryEventHistory()
        let intake = EventIntake(history: history, logger: Self.logger)
        let event = TestHistories.event(TestHistories.newUser())
        #expect(await intake.handle(try event.encoded()) == .done)
        #expect(await intake.handle(try event.encoded()) == .done)
        #expect(try await Self.kept(history, event.userID) == [event])
    }

    @Test(arguments: [
        Array("not json".utf8), Array(#"{"id":"1","type":"generation.succeeded","user_id":"nobody","time":"2026-12-06T10:00:00Z","data":{}}"#.utf8),
    ])
    func aBodyThatIsNoUsersEventIsRejected(body: [UInt8]) async {
        let intake = EventIntake(history: InMemoryEventHistory(), logger: Self.logger)
        #expect(await intake.handle(body) == .reject)
    }

    @Test func whileTheHistoryIsAwayTheMessageIsHeldThenStored() async throws {
        let history = FlakyHistory(failures: 2)
        let intake = EventIntake(history: history, logger: Self.logger)
        let event = TestHistories.event(TestHistories.newUser())
        #expect(await intake.handle(try event.encoded()) == .done)
        #expect(history.attempts.withLock { $0 } == 3)
        #expect(try await Self.kept(history, event.userID) == [event])
    }

    @Test func aShutdownWhileTheHistoryIsAwayHandsTheMessageBack() async throws {
        let history = FlakyHistory(failures: .max)
        let intake = EventIntake(history: history, logger: Self.logger)
        let body = try TestHistories.event(TestHistories.newUser()).encoded()
        let handling = Task { await intake.handle(body) }
        try await waitUntil { history.attempts.withLock { $0 } >= 1 }
        handling.cancel()
        #expect(await handling.value == .retryLater)
    }

    /// The whole path on the test servers: published on `events`, consumed from `notify.events`,
    /// kept in Redis, a duplicate publish kept once.
    @Test func anEventPublishedOnTheExchangeIsKeptInItsUsersHistoryOnce() async throws {
        let rabbit = try LocalServer.shared(.rabbitmq)
        let amqp = AMQPConfiguration(
            host: "127.0.0.1", port: rabbit.port, user: "skillup", password: try rabbit.password(), virtualHost: "/", heartbeat: .seconds(30),
            connectTimeout: .seconds(2), operationTimeout: .seconds(10), reconnectInitialDelay: .milliseconds(100), reconnectMaximumDelay: .seconds(1))
        let publisher = AMQPPublisher(configuration: amqp, logger: Self.logger)
        try await publisher.declare(.skillup)
        try await TestHistories.with(.redis) { test async throws in
            let intake = EventIntake(history: test.history, logger: Self.logger)
            let consumer = AMQPConsumer(queue: UserEvent.notificationsQueue, prefetch: 16, topology: .skillup, configuration: amqp, logger: Self.logger)
            let worker = QueueWorker(consumer: consumer, shutdownBudget: .seconds(2), logger: Self.logger) { await intake.handle($0.body) }
            let running = RunningServices([worker])
            let event = TestHistories.event(TestHistories.newUser(), .subscriptionChanged)
            try await publisher.publish(try .userEvent(event))
            try await publisher.publish(try .userEvent(event))
            try await waitUntil { try await Self.kept(test.history, event.userID).count == 1 }
            // The second copy is handled too (the queue is shared with the other tests' events).
            let other = TestHistories.event(event.userID, .generationSucceeded)
            try await publisher.publish(try .userEvent(other))
            try await waitUntil { try await Self.kept(test.history, event.userID).count == 2 }
            #expect(try await Self.kept(test.history, event.userID) == [event, other])
            await running.stop()
        }
        await publisher.shutdown()
    }
}
