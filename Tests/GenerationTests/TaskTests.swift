import AMQPClient
import Contracts
import Foundation
import HTTPTypes
import Logging
import Messaging
import PostgresClient
import TestSupport
import Testing

@testable import Generation

/// Long generations: accepted as tasks (202), run by genworker, followed by polling, canceled,
/// retried and failed, with the quota settled or given back exactly once; over the in-memory
/// storage and queue.
@Suite(.timeLimit(.minutes(3))) struct TaskTests {
    static let lessonPlan = #"{"topic":"The solar system","function":"lesson_plan","options":{"max_tokens":40}}"#

    /// A user on a plan with long generations.
    func paidUser(_ aid: some TestAid) -> Caller {
        Caller(userID: aid.entitlements.subscribe())
    }

    /// Polls the task until it leaves queued and running, for at most `seconds`.
    func finished(_ aid: some TestAid, _ caller: Caller, _ id: String, within seconds: Double = 15) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while true {
            let answer = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }
            let status = answer.json["status"] as? String
            if status != "queued", status != "running" { return answer.json }
            guard ContinuousClock.now < deadline else { throw LocalServer.Failure(description: "task \(id) still \(status ?? "?")") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Polls the task until genworker runs it, for at most 10 s.
    func waitUntilRunning(_ aid: some TestAid, _ caller: Caller, _ id: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await aid.withClient({ client in try await caller.get(client, "/api/generate/\(id)") }).json["status"] as? String != "running" {
            try #require(ContinuousClock.now < deadline, "the task never ran")
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends the task's request (with nginx's request id `requestID`, when given).
    func accept(_ aid: some TestAid, _ caller: Caller, key: String? = nil, body: String = lessonPlan, requestID: String? = nil) async throws -> Answer {
        var fields: HTTPFields = key.map { [HTTPField.Name("Idempotency-Key")!: $0] } ?? [:]
        if let requestID { fields[GatewayHeaders.requestID] = requestID }
        let headers = fields
        return try await aid.withClient { client in try await caller.send(client, "/api/generate", method: .post, headers: headers, body: body) }
    }

    @Test func aTaskIsAcceptedQueuedRunAndSettledOnce() async throws {
        try await InMemoryAid.with(workerArguments: []) { aid in
            let caller = paidUser(aid)
            let accepted = try await accept(aid, caller)
            #expect(accepted.status == .accepted)
            let id = try #require(accepted.json["task_id"] as? String)
            #expect(accepted.json["status_url"] as? String == "/api/generate/\(id)")
            #expect(accepted.headers[.location] == "/api/generate/\(id)")
            let task = try await finished(aid, caller, id)
            #expect(task["status"] as? String == "succeeded")
            #expect((task["text"] as? String)?.contains("\"The solar system\"") == true)
            #expect(task["mode"] as? String == "queued")
            #expect(try await aid.attempts(id) == 1)
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, settled: 1)) == .init(reserved: 1, settled: 1))
            #expect(aid.queue.published == [id], "published once, from the outbox")
            #expect(aid.store.state.withLock { $0.outbox.isEmpty })
            #expect(aid.store.userEvents(of: id) == [.generationProgress, .generationSucceeded])
        }
    }

    @Test func aPaidPlansTaskGoesToThePaidQueue() async throws {
        try await InMemoryAid.with { aid in
            let caller = paidUser(aid)
            let id = try #require(
                try await aid.withClient { client in
                    try await caller.send(client, "/api/generate", method: .post, headers: [GatewayHeaders.tier: "pro"], body: Self.lessonPlan)
                }.json["task_id"] as? String)
            // The relay's own loop runs too (every 50 ms): a pass of it may hold the message while
            // this one finds none, so wait for the outcome rather than for this pass.
            await aid.components.relay.relayAll()
            try await waitUntil { aid.store.state.withLock { $0.outbox.isEmpty } && aid.queue.published == [id] }
            for await delivery in aid.queue.deliveries {
                #expect(delivery.paid, "a paid plan's task is served first")
                break
            }
        }
    }

    @Test func theSameIdempotencyKeyGivesTheSameTaskAndADifferentBodyA409() async throws {
        try await InMemoryAid.with { aid in
            let caller = paidUser(aid)
            let key = "lesson-\(UUID().uuidString)"
            let first = try await accept(aid, caller, key: key)
            let again = try await accept(aid, caller, key: key)
            #expect(first.status == .accepted && again.status == .accepted)
            #expect(first.json["task_id"] as? String == again.json["task_id"] as? String)
            let other = try await accept(aid, caller, key: key, body: #"{"topic":"Another topic","function":"lesson_plan"}"#)
            #expect(other.status == .conflict)
            #expect(other.json["error"] as? String == "idempotency_key_reused")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1))
        }
    }

    @Test func aQueuedTaskCanceledGivesItsUnitBackAndCannotBeCanceledTwice() async throws {
        try await InMemoryAid.with { aid in
            let caller = paidUser(aid)
            let id = try #require(try await accept(aid, caller).json["task_id"] as? String)
            let canceled = try await aid.withClient { client in try await caller.send(client, "/api/generate/\(id)", method: .delete) }
            #expect(canceled.status == .ok)
            #expect(canceled.json["status"] as? String == "canceled")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, released: 1))
            let again = try await aid.withClient { client in try await caller.send(client, "/api/generate/\(id)", method: .delete) }
            #expect(again.status == .conflict && again.json["error"] as? String == "already_finished")
            let someoneElse = try await aid.withClient { client in try await Caller().send(client, "/api/generate/\(id)", method: .delete) }
            #expect(someoneElse.status == .notFound)
        }
    }

    @Test func aRunningTaskCanceledStopsWithinASecond() async throws {
        try await InMemoryAid.with(workerArguments: ["--engine-offline-latency", "20", "--worker-cancel-check", "0.1"]) { aid in
            let caller = paidUser(aid)
            let requestID = "req-\(UUID().uuidString.prefix(8))"
            let id = try #require(try await accept(aid, caller, requestID: requestID).json["task_id"] as? String)
            try await waitUntilRunning(aid, caller, id)
            let canceled = try await aid.withClient { client in try await caller.send(client, "/api/generate/\(id)", method: .delete) }
            #expect(canceled.status == .ok)
            // The worker sees the cancellation, stops the engine and says so; the task stays
            // canceled, with no text, and its unit comes back.
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, released: 1)) == .init(reserved: 1, released: 1))
            // The user is told of the cancellation once, by the status change (sql/013's trigger).
            #expect(aid.store.userEvents(of: id).filter { $0 == .generationCanceled }.count == 1)
            #expect(aid.store.userEvents(of: id).last == .generationCanceled)
            let task = try await finished(aid, caller, id)
            #expect(task["status"] as? String == "canceled")
            #expect(task["text"] == nil)
        }
    }

    @Test func anEngineThatFailsTwiceThenSucceedsSucceedsAfterRetries() async throws {
        try await InMemoryAid.with(workerArguments: ["--engine-offline-fail", "first:2", "--worker-backoff", "0.05", "--engine-retries", "0"]) { aid in
            let caller = paidUser(aid)
            let id = try #require(try await accept(aid, caller).json["task_id"] as? String)
            let task = try await finished(aid, caller, id)
            #expect(task["status"] as? String == "succeeded")
            #expect(try await aid.attempts(id) == 3)
            // Each retry waits twice as long as the one before.
            #expect(aid.queue.retries.map(\.delay) == [.milliseconds(50), .milliseconds(100)])
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, settled: 1)) == .init(reserved: 1, settled: 1))
        }
    }

    @Test func anEngineThatAlwaysFailsFailsTheTaskWithAReasonAndGivesTheUnitBack() async throws {
        try await InMemoryAid.with(
            workerArguments: ["--engine-offline-fail", "always", "--worker-attempts", "2", "--worker-backoff", "0.05", "--engine-retries", "0"]
        ) { aid in
            let caller = paidUser(aid)
            let id = try #require(try await accept(aid, caller).json["task_id"] as? String)
            let task = try await finished(aid, caller, id)
            #expect(task["status"] as? String == "failed")
            #expect(task["failure"] as? String == "engine_failed")
            #expect(try await aid.attempts(id) == 2)
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, released: 1)) == .init(reserved: 1, released: 1))
            // Its id waits in generate.dead for a replay.
            #expect(aid.queue.dead == [.init(taskID: id, failure: "engine_failed")])
            // Had that publish been lost (RabbitMQ gone after the failure was committed), the task's
            // message comes back to genworker unacknowledged, which puts the id in generate.dead again.
            let runner = try #require(aid.runner)
            #expect(await runner.handle(try GenerationTaskMessage(taskID: id).encoded(), paid: false) == .done)
            #expect(aid.queue.dead == [.init(taskID: id, failure: "engine_failed"), .init(taskID: id, failure: "engine_failed")])
            #expect(try await aid.attempts(id) == 2)
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, released: 1))
        }
    }

    @Test func aSecondMessageForAFinishedTaskDoesNotRunItAgain() async throws {
        try await InMemoryAid.with(workerArguments: []) { aid in
            let caller = paidUser(aid)
            let id = try #require(try await accept(aid, caller).json["task_id"] as? String)
            let text = try await finished(aid, caller, id)["text"] as? String
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, settled: 1)) == .init(reserved: 1, settled: 1))
            // The duplicate is handled (acknowledged) without an engine call.
            let runner = try #require(aid.runner)
            #expect(await runner.handle(try GenerationTaskMessage(taskID: id).encoded(), paid: false) == .done)
            #expect(try await aid.attempts(id) == 1)
            #expect(try await finished(aid, caller, id)["text"] as? String == text)
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1))
            #expect(aid.store.userEvents(of: id) == [.generationProgress, .generationSucceeded], "the user is told once")
        }
    }

    @Test func aSecondMessageForARunningTaskWaitsForItInsteadOfRunningItAgain() async throws {
        try await InMemoryAid.with(workerArguments: ["--engine-offline-latency", "1"]) { aid in
            let caller = paidUser(aid)
            let id = try #require(try await accept(aid, caller).json["task_id"] as? String)
            try await waitUntilRunning(aid, caller, id)
            // A duplicate (a relay that published twice) while the engine call is under way: it is
            // handled only once the first run has ended, without a second engine call.
            let runner = try #require(aid.runner)
            #expect(await runner.handle(try GenerationTaskMessage(taskID: id).encoded(), paid: false) == .done)
            #expect(try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }.json["status"] as? String == "succeeded")
            #expect(try await aid.attempts(id) == 1)
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1))
        }
    }

    @Test func aPoisonMessageIsRejectedAtOnce() async throws {
        try await InMemoryAid.with(workerArguments: []) { aid in
            let runner = try #require(aid.runner)
            #expect(await runner.handle(Array("not a task".utf8), paid: false) == .reject)
            #expect(await runner.handle(try GenerationTaskMessage(taskID: "not-a-uuid").encoded(), paid: false) == .reject)
            #expect(await runner.handle(try GenerationTaskMessage(taskID: UUID().uuidString.lowercased()).encoded(), paid: false) == .reject, "no such task")
        }
    }

    @Test func aFreeUserIsToldToSubscribeForALongGeneration() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller()
            let answer = try await accept(aid, caller)
            #expect(answer.status.code == 402)
            #expect(answer.json["error"] as? String == "subscription_required")
            #expect((answer.json["message"] as? String)?.contains("lesson_plan is not available on your plan") == true)
            #expect(aid.entitlements.ledger(caller.userID) == .init())
            #expect(aid.store.state.withLock { $0.rows.isEmpty && $0.outbox.isEmpty })
        }
    }
}

/// Tasks over the real servers: the broker's dead letters and redeliveries, and `skillctl tasks`.
@Suite(.timeLimit(.minutes(3))) struct TaskBrokerTests {
    let tasks = TaskTests()

    @Test func aTaskTravelsThroughTheOutboxAndRabbitMQAndIsSettledOnce() async throws {
        try await AidInstance.with(workerArguments: [], isolation: .ownServers) { aid in
            let caller = tasks.paidUser(aid)
            let id = try #require(try await tasks.accept(aid, caller).json["task_id"] as? String)
            #expect(try await tasks.finished(aid, caller, id)["status"] as? String == "succeeded")
            #expect(try await aid.attempts(id) == 1)
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, settled: 1)) == .init(reserved: 1, settled: 1))
            let outbox = try await aid.postgres.query("SELECT count(*)::integer AS n FROM ai.outbox WHERE generation_id = $1::uuid", [.text(id)])
            #expect(try outbox[0].decode("n", as: Int.self) == 0)
        }
    }

    @Test func skillctlListsADeadTaskAndReplaysItWithoutCountingItAgain() async throws {
        try await AidInstance.with(
            workerArguments: ["--engine-offline-fail", "first:1", "--worker-attempts", "1", "--engine-retries", "0"], isolation: .ownServers
        ) { aid in
            let caller = tasks.paidUser(aid)
            let id = try #require(try await tasks.accept(aid, caller).json["task_id"] as? String)
            #expect(try await tasks.finished(aid, caller, id)["status"] as? String == "failed")
            let environment = ["POSTGRES_URL": aid.postgresURL, "AMQP_URL": aid.amqpURL]
            let listed = try await skillctl(["tasks", "dead"], environment)
            #expect(listed.status == 0, "\(listed.output)")
            #expect(listed.output.contains("\(id)  engine_failed  user \(caller.userID) lesson_plan failed"), "\(listed.output)")
            let replayed = try await skillctl(["tasks", "replay", id], environment)
            #expect(replayed.output.contains("\(id): queued"), "\(replayed.output)")
            let task = try await tasks.finished(aid, caller, id)
            #expect(task["status"] as? String == "succeeded")
            // Its unit was given back when it failed; the replay counts nothing.
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, released: 1))
            let empty = try await skillctl(["tasks", "dead"], environment)
            #expect(empty.output.contains("generate.dead is empty"), "\(empty.output)")
            let unknown = try await skillctl(["tasks", "replay", "--all"], environment)
            #expect(unknown.output.contains("generate.dead holds no task"), "\(unknown.output)")
        }
    }

    @Test func aTaskDeadLetteredWhileRunningIsReplayedAndKeepsItsReservation() async throws {
        try await AidInstance.with(workerArguments: [], isolation: .ownServers) { aid in
            let caller = tasks.paidUser(aid)
            // What five deliveries without an ack leave: the unit reserved, the row running, the
            // message in generate.dead.
            let id = try await aid.strand(user: caller.userID, function: "lesson_plan", feature: "generate.long", mode: "queued", maxTokens: 40, attempts: 5)
            try await Broker.publish(.generationTask(id, routingKey: GenerationTaskMessage.deadRoutingKey), url: aid.amqpURL)
            let environment = ["POSTGRES_URL": aid.postgresURL, "AMQP_URL": aid.amqpURL]
            let replayed = try await skillctl(["tasks", "replay", id], environment)
            #expect(replayed.output.contains("\(id): queued"), "\(replayed.output)")
            #expect(try await tasks.finished(aid, caller, id)["status"] as? String == "succeeded")
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, settled: 1)) == .init(reserved: 1, settled: 1))
        }
    }

    @Test func aPoisonMessageGoesToGenerateDeadAtOnce() async throws {
        try await AidInstance.with(workerArguments: [], isolation: .ownServers) { aid in
            let marker = UUID().uuidString
            try await Broker.publish(
                AMQPMessage(
                    exchange: GenerationTaskMessage.exchange, routingKey: GenerationTaskMessage.routingKey, body: Array("not a task \(marker)".utf8),
                    messageID: marker), url: aid.amqpURL)
            let dead = try await Broker.take(from: GenerationTaskMessage.deadRoutingKey, url: aid.amqpURL) { $0.messageID == marker }
            #expect(dead != nil)
        }
    }

    func skillctl(_ arguments: [String], _ environment: [String: String]) async throws -> ChildProcess.Outcome {
        try await ChildProcess.run(LocalServer.packageRoot.appendingPathComponent(".build/debug/skillctl").path, arguments, environment: environment)
    }
}

/// Direct access to the instance's RabbitMQ virtual host.
enum Broker {
    static let logger: Logger = {
        var logger = Logger(label: "broker-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Publishes `message` once the queues exist (the worker may not have declared them yet), and
    /// fails if no queue takes it.
    static func publish(_ message: AMQPMessage, url: String) async throws {
        let publisher = AMQPPublisher(configuration: try AMQPConfiguration(url: url), logger: logger)
        defer { Task { await publisher.shutdown() } }
        try await publisher.declare(.skillup)
        var message = message
        message.mandatory = true
        try await publisher.publish(message)
    }

    /// The first delivery from `queue` that `matches`, within 10 s; every delivery seen is acked.
    static func take(
        from queue: String, url: String, topology: AMQPTopology = .skillup, where matches: @escaping @Sendable (AMQPDelivery) -> Bool
    ) async throws -> AMQPDelivery? {
        let consumer = AMQPConsumer(queue: queue, prefetch: 10, topology: topology, configuration: try AMQPConfiguration(url: url), logger: logger)
        let found = await withTaskGroup(of: AMQPDelivery?.self) { group in
            group.addTask {
                for await delivery in consumer.deliveries {
                    consumer.ack(delivery)
                    if matches(delivery) { return delivery }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            await consumer.shutdown()
            return first
        }
        return found
    }
}
