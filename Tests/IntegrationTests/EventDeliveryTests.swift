import AMQPClient
import Contracts
import Foundation
import Logging
import Messaging
import PostgresClient
import ServiceBackends
import TestSupport
import Testing

/// A user's events on their way through the servers, when the servers fail: notifyd killed between
/// consuming an event and storing it, and RabbitMQ restarted while a stream is open and a producer
/// has an event to publish. Each on servers of its own, so that stopping one disturbs no other test.
@Suite(.timeLimit(.minutes(3))) struct EventDeliveryTests {
    static let logger = Logger(label: "event-delivery-test")
    static let session = "0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11"

    static func newID() -> String { UUID().uuidString.lowercased() }

    /// A virtual host of the test's own on `broker`.
    static func virtualHost(on broker: LocalServer) async throws -> String {
        let name = "events-\(UUID().uuidString.prefix(8).lowercased())"
        try await broker.rabbitmqctl(["add_vhost", name])
        try await broker.rabbitmqctl(["set_permissions", "-p", name, "skillup", ".*", ".*", ".*"])
        return name
    }

    /// The user's kept events as notifyd lists them.
    static func kept(_ notifyd: DaemonProcess, _ user: String) async throws -> String {
        try await notifyd.get("/api/notifications", headers: ["X-User-Id: \(user)", "X-Session-Id: \(session)"]).body
    }

    @Test func anEventConsumedAndNotYetStoredWhenNotifydIsKilledArrivesAfterTheRestart() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        let broker = try LocalServer.shared(.rabbitmq)
        let vhost = try await Self.virtualHost(on: broker)
        let environment = ["REDIS_URL": try redis.url(), "AMQP_URL": try broker.url(vhost)]
        let first = try DaemonProcess("notifyd", environment: environment)
        defer { first.remove() }
        try await first.waitUntilListening()
        let publisher = AMQPPublisher(configuration: try AMQPConfiguration(url: try broker.url(vhost)), logger: Self.logger)
        try await publisher.declare(.skillup)
        // Redis stops answering: notifyd takes the event and holds it, unacknowledged, retrying.
        redis.signal(SIGSTOP)
        let event = UserEvent(type: .subscriptionChanged, userID: Self.newID(), data: ["status": "active"])
        try await publisher.publish(try .userEvent(event))
        try await waitUntil(within: .seconds(30)) { first.log.contains("event not stored; trying again") }
        first.crash()
        redis.signal(SIGCONT)
        let second = try DaemonProcess("notifyd", environment: environment)
        defer { second.remove() }
        try await second.waitUntilListening()
        try await waitUntil(within: .seconds(30)) { try await Self.kept(second, event.userID).contains(event.id) }
        let page = try await Self.kept(second, event.userID)
        #expect(page.components(separatedBy: event.id).count == 2, "kept once: \(page)")
        await publisher.shutdown()
        try await broker.rabbitmqctl(["delete_vhost", vhost])
    }

    /// subscribed's outbox relay as its daemon runs it, over a PostgreSQL and a RabbitMQ of the
    /// test's own: an event before RabbitMQ stops, one while it is down (kept in the outbox), one
    /// after it is back; the user's open stream gets all three, in order, once each.
    @Test func eventsBeforeDuringAndAfterARabbitMQRestartReachAnOpenStreamInOrder() async throws {
        let postgres = try await LocalServer.startPrivate(.postgres)
        defer { postgres.remove() }
        try await postgres.migrate()
        let broker = try await LocalServer.startPrivate(.rabbitmq)
        defer { broker.remove() }
        let database = try PostgresClient(configuration: try PostgresConfiguration(url: try postgres.url()), logger: Self.logger)
        let amqp = try AMQPConfiguration(url: try broker.url())
        let publisher = AMQPPublisher(configuration: amqp, logger: Self.logger)
        let relay = EventOutboxRelay(postgres: database, publisher: publisher, schema: "billing", interval: .milliseconds(100), logger: Self.logger)
        let running = RunningServices([database, publisher, relay])
        // A Redis of its own too: the history's contract tests reset the shared one's histories.
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        let notifyd = try DaemonProcess(
            "notifyd", arguments: ["--notify-heartbeat", "1"], environment: ["REDIS_URL": try redis.url(), "AMQP_URL": try broker.url()])
        defer { notifyd.remove() }
        try await notifyd.waitUntilListening()
        let user = Self.newID()
        let marker = notifyd.socketPath + ".open"
        async let stream = ChildProcess.run("/usr/bin/python3", ["-c", Self.streamClient, notifyd.eventsSocketPath, user, marker, "3"])
        try await waitUntil(within: .seconds(20)) { FileManager.default.fileExists(atPath: marker) }

        try await database.query(
            "INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end) VALUES ($1::uuid, 'pro', 'trial', now(), now() + interval '30 days')",
            [.text(user)])
        try await waitUntil(within: .seconds(30)) { try await Self.kept(notifyd, user).contains(#""status":"trial""#) }
        try await broker.stop()
        try await database.query("UPDATE billing.subscriptions SET status = 'active' WHERE user_id = $1::uuid", [.text(user)])
        // The relay tries while the broker is down: the event stays in the outbox.
        try await waitUntil(within: .seconds(30)) { !publisher.isConnected }
        #expect(try await database.query("SELECT count(*)::int8 FROM billing.event_outbox")[0].decode(at: 0, as: Int.self) == 1, "kept while RabbitMQ is down")
        try await broker.start()
        try await database.query("UPDATE billing.subscriptions SET status = 'past_due' WHERE user_id = $1::uuid", [.text(user)])

        let output = try await stream.output
        let statuses = output.split(separator: "\n").filter { $0.hasPrefix("data: ") }.compactMap { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any]).flatMap { ($0["data"] as? [String: String])?["status"] }
        }
        #expect(statuses == ["trial", "active", "past_due"], "\(output)\n\(notifyd.log.suffix(2000))")
        await running.stop()
    }

    /// Opens `/api/events` for USER as nginx would, marks that it is open once its first id came,
    /// then prints each event's lines until COUNT `subscription.changed` events came, or 90 s
    /// passed (heartbeats keep the socket busy, so its own timeout would never end a wait).
    static let streamClient = """
        import socket, sys, time
        path, user, marker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        deadline = time.time() + 90
        connection = socket.socket(socket.AF_UNIX)
        connection.settimeout(90)
        connection.connect(path)
        connection.sendall((f"GET /api/events HTTP/1.1\\r\\nHost: notifyd\\r\\nX-User-Id: {user}\\r\\n"
            "X-Session-Id: 0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11\\r\\n\\r\\n").encode())
        reader = connection.makefile("rb")
        while reader.readline().strip():
            pass
        seen = 0
        for raw in reader:
            line = raw.decode().rstrip("\\r\\n")
            if line.startswith("id: "):
                open(marker, "w").close()
            if line.startswith(("event:", "data:")):
                print(line, flush=True)
            if line == "event: subscription.changed":
                seen += 1
            if (seen == count and line.startswith("data:")) or time.time() > deadline:
                break
        """
}
