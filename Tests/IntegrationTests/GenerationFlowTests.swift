import AMQPClient
import Contracts
import Foundation
import Logging
import Messaging
import PostgresClient
import ServiceBackends
import Synchronization
import TestSupport
import Testing

/// subscribed, aid and genworker as the stack runs them, each its own process, over a PostgreSQL
/// and a RabbitMQ virtual host of the test's own: what no test of one service can show, the
/// entitlement API between aid and subscribed and a genworker killed mid-task.
@Suite(.timeLimit(.minutes(3))) struct GenerationFlowTests {
    /// The servers and the daemons of one test, removed at its end.
    final class Stack: Sendable {
        let postgres: LocalServer
        let client: PostgresClient
        let running: RunningServices
        let virtualHost: String
        let environment: [String: String]
        let subscribed: DaemonProcess
        let aid: DaemonProcess
        let entitlementSocket: String

        static func with(_ body: (Stack) async throws -> Void) async throws {
            try await withStopping(try await Stack(), stop: { await $0.remove() }, body)
        }

        private init() async throws {
            postgres = try await LocalServer.startPrivate(.postgres)
            try await postgres.migrate()
            virtualHost = "flow-\(UUID().uuidString.prefix(8).lowercased())"
            let broker = try LocalServer.shared(.rabbitmq)
            try await broker.rabbitmqctl(["add_vhost", virtualHost])
            try await broker.rabbitmqctl(["set_permissions", "-p", virtualHost, "skillup", ".*", ".*", ".*"])
            environment = [
                "REDIS_URL": try LocalServer.shared(.redis).url(), "POSTGRES_URL": try postgres.url(), "AMQP_URL": try broker.url(virtualHost),
                "LOG_LEVEL": "warning",
            ]
            client = try PostgresClient(configuration: try PostgresConfiguration(url: try postgres.url()), logger: .init(label: "flow-test"))
            running = RunningServices([client])
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flow-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            entitlementSocket = directory + "/entitlements.sock"
            subscribed = try DaemonProcess("subscribed", arguments: ["--entitlements-listen", "unix:\(entitlementSocket)"], environment: environment)
            aid = try DaemonProcess(
                "aid", arguments: ["--entitlements-sockets", entitlementSocket, "--relay-interval", "0.2", "--cache-ttl", "0"], environment: environment)
            try await subscribed.waitUntilListening()
            try await aid.waitUntilListening()
        }

        /// A genworker process with `arguments`.
        func worker(_ arguments: [String] = []) throws -> DaemonProcess {
            try DaemonProcess("genworker", arguments: ["--entitlements-sockets", entitlementSocket, "--cache-ttl", "0"] + arguments, environment: environment)
        }

        /// A new user on pro, since yesterday for 30 days.
        func proUser() async throws -> String {
            let user = UUID().uuidString.lowercased()
            try await client.query(
                "INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end) VALUES ($1::uuid, 'pro', 'active', now() - interval '1 day', now() + interval '29 days')",
                [.text(user)])
            return user
        }

        /// The ledger's rows for `user` by state, as subscribed recorded them: `reserved settled released`.
        func ledger(_ user: String) async throws -> String {
            try await client.query(
                """
                SELECT count(*) FILTER (WHERE state = 'reserved') || ' ' || count(*) FILTER (WHERE state = 'settled') || ' '
                       || count(*) FILTER (WHERE state = 'released')
                FROM billing.usage_ledger WHERE user_id = $1::uuid
                """, [.text(user)])[0].decode(at: 0)
        }

        /// The ledger once it reads `expected`, or as it is after 20 s.
        func ledger(_ user: String, becomes expected: String) async throws -> String {
            let deadline = ContinuousClock.now + .seconds(20)
            while try await ledger(user) != expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            return try await ledger(user)
        }

        /// The identity nginx gives `user`'s requests.
        static func identity(_ user: String) -> [String] {
            [
                "\(GatewayHeaders.userID.rawName): \(user)", "\(GatewayHeaders.sessionID.rawName): \(UUID().uuidString.lowercased())",
                "\(GatewayHeaders.scopes.rawName): generate",
            ]
        }

        /// The task's status once it leaves queued and running, or after `within`.
        func finished(_ user: String, _ id: String, within: Duration = .seconds(60)) async throws -> [String: Any] {
            let deadline = ContinuousClock.now + within
            while true {
                let answer = try await aid.get("/api/generate/\(id)", headers: Self.identity(user))
                let json = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any] ?? [:]
                let status = json["status"] as? String
                if (status != "queued" && status != "running") || ContinuousClock.now > deadline { return json }
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        private func remove() async {
            subscribed.remove()
            aid.remove()
            await running.stop()
            postgres.remove()
            try? await LocalServer.shared(.rabbitmq).rabbitmqctl(["delete_vhost", virtualHost])
        }
    }

    static func json(_ body: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    @Test func aGenerationIsReservedAtSubscribedAndSettledOnceAnsweredAndALongOneNeedsAPlan() async throws {
        try await Stack.with { stack in
            let free = UUID().uuidString.lowercased()
            let answer = try await stack.aid.post("/api/generate", headers: Stack.identity(free), json: #"{"topic":"Tides","function":"summary"}"#)
            #expect(answer.status == 200, "\(answer.body)")
            #expect((Self.json(answer.body)["quota"] as? [String: Any])?["remaining"] as? Int == 9, "the free plan's 10 a day, one used")
            #expect(try await stack.ledger(free) == "1 1 0")
            let long = try await stack.aid.post("/api/generate", headers: Stack.identity(free), json: #"{"topic":"Tides","function":"lesson_plan"}"#)
            #expect(long.status == 402 && Self.json(long.body)["error"] as? String == "subscription_required", "\(long.body)")
            #expect((Self.json(long.body)["message"] as? String)?.contains("(pro, team)") == true, "subscribed's plans, named")
            #expect(try await stack.ledger(free) == "1 1 0", "a refusal counts nothing")

            let pro = try await stack.proUser()
            let worker = try stack.worker()
            defer { worker.remove() }
            let task = try await stack.aid.post(
                "/api/generate", headers: Stack.identity(pro), json: #"{"topic":"Tides","function":"lesson_plan","options":{"max_tokens":30}}"#)
            #expect(task.status == 202, "\(task.body)")
            let id = try #require(Self.json(task.body)["task_id"] as? String)
            #expect(try await stack.finished(pro, id)["status"] as? String == "succeeded")
            #expect(try await stack.ledger(pro, becomes: "1 1 0") == "1 1 0")
        }
    }

    /// Every producer's user events, written by sql/013's triggers in the transaction of the change
    /// and relayed from each schema's outbox: subscribed's relay for a new subscription, aid's for
    /// an answer, aid's or genworker's for a task's start and end, and authd's (run here in
    /// process) for a revoked session and a blocked account. Each reaches `notify.events` once, in
    /// the order of its producer's changes, and leaves its outbox.
    @Test func everyProducersEventsReachTheEventsExchangeThroughItsOutboxInOrder() async throws {
        try await Stack.with { stack in
            let logger = Logger(label: "outbox-test")
            let amqp = try AMQPConfiguration(url: try LocalServer.shared(.rabbitmq).url(stack.virtualHost))
            let consumer = AMQPConsumer(queue: UserEvent.notificationsQueue, prefetch: 50, topology: .skillup, configuration: amqp, logger: logger)
            let publisher = AMQPPublisher(configuration: amqp, logger: logger)
            let authRelay = EventOutboxRelay(postgres: stack.client, publisher: publisher, schema: "auth", interval: .milliseconds(100), logger: logger)
            let running = RunningServices([consumer, publisher, authRelay])
            let received = Mutex<[UserEvent]>([])
            let reading = Task {
                for await delivery in consumer.deliveries {
                    if let event = try? UserEvent.decode(delivery.body) { received.withLock { $0.append(event) } }
                    consumer.ack(delivery)
                }
            }
            defer { reading.cancel() }

            let pro = try await stack.proUser()
            let worker = try stack.worker()
            defer { worker.remove() }
            let task = try await stack.aid.post(
                "/api/generate", headers: Stack.identity(pro), json: #"{"topic":"Tides","function":"lesson_plan","options":{"max_tokens":30}}"#)
            let taskID = try #require(Self.json(task.body)["task_id"] as? String)
            #expect(try await stack.finished(pro, taskID)["status"] as? String == "succeeded")
            let answer = try await stack.aid.post("/api/generate", headers: Stack.identity(pro), json: #"{"topic":"Tides","function":"summary"}"#)
            let answerID = try #require(Self.json(answer.body)["id"] as? String, "\(answer.body)")

            let account = try await stack.client.query(
                "INSERT INTO auth.users (email, email_normalized, password_hash) VALUES ('o@example.com', 'o@example.com', 'x') RETURNING id::text"
            )[0].decode(at: 0, as: String.self)
            let session = try await stack.client.query(
                "INSERT INTO auth.sessions (user_id, expires_at) VALUES ($1::uuid, now() + interval '1 day') RETURNING id::text", [.text(account)]
            )[0].decode(at: 0, as: String.self)
            try await stack.client.query("UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1::uuid", [.text(session)])
            // A second revocation of the same session changes nothing and tells nothing.
            try await stack.client.query("UPDATE auth.sessions SET revoked_at = now() WHERE id = $1::uuid", [.text(session)])
            try await stack.client.query("UPDATE auth.users SET blocked = true WHERE id = $1::uuid", [.text(account)])
            // Bookkeeping that the user does not see tells nothing either.
            try await stack.client.query(
                "UPDATE billing.subscriptions SET tier_published_version = tier_published_version + 1 WHERE user_id = $1::uuid", [.text(pro)])

            try await waitUntil(within: .seconds(20)) {
                let events = received.withLock { $0 }
                return events.contains { $0.userID == pro && $0.data["task_id"] == answerID } && events.filter { $0.userID == account }.count >= 2
            }
            // Every outbox empty: everything was published (and confirmed) before the checks.
            try await waitUntil(within: .seconds(20)) {
                var left = 0
                for schema in ["auth", "billing", "ai"] {
                    left += try await stack.client.query("SELECT count(*)::int8 FROM \(identifier: schema).event_outbox")[0].decode(at: 0, as: Int.self)
                }
                return left == 0
            }
            let events = received.withLock { $0 }
            // Each producer's events in the order of its changes; two producers' relative to each
            // other in no promised order.
            let changes = events.filter { $0.userID == pro && $0.type == .subscriptionChanged }
            #expect(changes.count == 1 && changes.first?.data["plan"] == "pro" && changes.first?.data["status"] == "active", "\(changes)")
            let generations = events.filter { $0.userID == pro && $0.type != .subscriptionChanged }
            #expect(
                generations.map(\.type) == [.generationProgress, .generationSucceeded, .generationSucceeded],
                "\(generations.map { "\($0.type.rawValue) \($0.data)" })")
            #expect(generations.map { $0.data["task_id"] } == [taskID, taskID, answerID])
            #expect(generations.map { $0.data["mode"] } == ["queued", "queued", "immediate"])
            #expect(generations.allSatisfy { $0.data["request_id"] != nil }, "each names the request that made it")
            #expect(events.filter { $0.userID == pro }.allSatisfy { $0.data["text"] == nil && $0.data["result"] == nil }, "ids and statuses, never the text")
            let forAccount = events.filter { $0.userID == account }
            #expect(forAccount.map(\.type) == [.sessionRevoked, .sessionRevoked])
            #expect(forAccount.map { $0.data["reason"] } == ["logout", "account_blocked"])
            #expect(forAccount.first?.data["session_id"] == session)
            #expect(Set(events.map(\.id)).count == events.count, "each event once")
            await running.stop()
        }
    }

    @Test func aTaskWhoseWorkerWasKilledMidCallFinishesOnceAfterTheRestart() async throws {
        try await Stack.with { stack in
            let user = try await stack.proUser()
            // Its lease: the next genworker takes the task over 2 s after the killed one's last renewal.
            let slow = try stack.worker(["--engine-offline-latency", "30", "--worker-lease", "2"])
            defer { slow.remove() }
            let answer = try await stack.aid.post(
                "/api/generate", headers: Stack.identity(user), json: #"{"topic":"Earthquakes","function":"scenario","options":{"max_tokens":30}}"#)
            let id = try #require(Self.json(answer.body)["task_id"] as? String, "\(answer.body)")
            let deadline = ContinuousClock.now + .seconds(30)
            while try await stack.finished(user, id, within: .zero)["status"] as? String != "running" {
                try #require(ContinuousClock.now < deadline, "the task never ran")
                try await Task.sleep(for: .milliseconds(50))
            }
            slow.crash()
            // Unacknowledged, the message goes back to the queue; the next genworker runs the task.
            let next = try stack.worker(["--worker-lease", "2"])
            defer { next.remove() }
            #expect(try await stack.finished(user, id)["status"] as? String == "succeeded")
            // Two engine calls began, the killed one and the one that finished; one result, one unit.
            let attempts: Int = try await stack.client.query("SELECT attempts FROM ai.generations WHERE id = $1::uuid", [.text(id)])[0].decode(at: 0)
            #expect(attempts == 2)
            #expect(try await stack.ledger(user, becomes: "1 1 0") == "1 1 0")
        }
    }
}
