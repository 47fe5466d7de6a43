import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import Prometheus
import ServiceBackends
import ServiceKit
import ServiceLifecycle
import Subscriptions
import TestSupport
import Testing

@testable import Generation

/// An in-process aid over the shared test servers, with a real subscribed behind its entitlement
/// socket, and a genworker when asked: each assembled as its `main` assembles it. `aidArguments`
/// and `workerArguments` are command-line settings (`--engine-offline-fail always`, ...).
final class AidInstance: Sendable {
    let postgres: PostgresClient
    let responder: RouterResponder<BasicRequestContext>
    private let services: RunningServices
    /// A folder of the instance's own, and subscribed's entitlement socket in it.
    let directory: String
    let entitlementSocket: String
    /// The RabbitMQ the instance uses, with its virtual host, and its PostgreSQL.
    let amqpURL: String
    let postgresURL: String
    /// An isolated instance's own PostgreSQL, to stop and start.
    let privatePostgres: LocalServer?
    /// An isolated instance's own virtual host on the shared RabbitMQ, removed at the end.
    private let virtualHost: String?

    /// Which servers an instance shares with the other tests.
    enum Isolation {
        /// The shared ones, for tests that queue no tasks.
        case shared
        /// A PostgreSQL of its own and a virtual host of its own on the shared RabbitMQ: no other
        /// test's relay publishes its outbox and no other test's worker takes its tasks.
        case ownServers
        /// As `ownServers`, with this RabbitMQ of its own, to stop and start.
        case ownBroker(LocalServer)
    }

    static let logger: Logger = {
        var logger = Logger(label: "aid-test")
        logger.logLevel = .critical
        return logger
    }()

    /// The arguments, with the result cache off unless they set it: the tests share one Redis, and
    /// one test's cached answer must not stand in for another's engine call.
    static func cacheOffUnlessSet(_ arguments: [String]) -> [String] {
        arguments.contains("--cache-ttl") ? arguments : ["--cache-ttl", "0"] + arguments
    }

    /// `workerArguments` nil: no genworker (tasks stay queued).
    static func with<T>(
        aidArguments: [String] = [], workerArguments: [String]? = nil, isolation: Isolation = .shared, subscribed: Bool = true,
        _ body: (AidInstance) async throws -> T
    ) async throws -> T {
        let instance = try await AidInstance(aidArguments: aidArguments, workerArguments: workerArguments, isolation: isolation, subscribed: subscribed)
        do {
            try await instance.postgres.waitUntilAnswering()
            let result = try await body(instance)
            await instance.stop()
            return result
        } catch {
            await instance.stop()
            throw error
        }
    }

    /// `subscribed: false` leaves the entitlement socket without a server, as when every
    /// subscribed instance is down.
    private init(aidArguments: [String], workerArguments: [String]?, isolation: Isolation, subscribed: Bool) async throws {
        // A short folder: a unix socket path is limited to 107 bytes.
        directory = "/tmp/aid-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let socket = "\(directory)/entitlements.sock"
        entitlementSocket = socket
        switch isolation {
        case .shared:
            virtualHost = nil
            amqpURL = try LocalServer.shared(.rabbitmq).url()
        case .ownServers:
            let name = "test-\(UUID().uuidString.prefix(8).lowercased())"
            let broker = try LocalServer.shared(.rabbitmq)
            try await broker.rabbitmqctl(["add_vhost", name])
            try await broker.rabbitmqctl(["set_permissions", "-p", name, "skillup", ".*", ".*", ".*"])
            virtualHost = name
            amqpURL = try broker.url(name)
        case .ownBroker(let broker):
            virtualHost = nil
            amqpURL = try broker.url()
        }
        if case .shared = isolation {
            privatePostgres = nil
        } else {
            let postgres = try await LocalServer.startPrivate(.postgres)
            try await postgres.migrate()
            privatePostgres = postgres
        }
        postgresURL = try (privatePostgres ?? LocalServer.shared(.postgres)).url()
        let environment = ["REDIS_URL": try LocalServer.shared(.redis).url(), "POSTGRES_URL": postgresURL, "AMQP_URL": amqpURL]
        var services: [any Service] = []
        if subscribed {
            let configuration = try await DaemonConfiguration.load(
                daemon: "subscribed", arguments: ["subscribed", "--entitlements-listen", "unix:\(socket)"], environment: environment)
            services += try await BackedDaemon.assemble(
                "subscribed", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: SubscriptionsDaemon.backends,
                protectedPaths: SubscriptionsDaemon.protectedPaths, publicPaths: SubscriptionsDaemon.publicPaths, logger: Self.logger,
                setUp: SubscriptionsDaemon.setUp
            ).services
        }
        let configuration = try await DaemonConfiguration.load(
            daemon: "aid", arguments: ["aid", "--entitlements-sockets", socket, "--relay-interval", "0.2"] + Self.cacheOffUnlessSet(aidArguments),
            environment: environment)
        let aid = try await BackedDaemon.assemble(
            "aid", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: GenerationDaemon.backends,
            protectedPaths: GenerationDaemon.protectedPaths, logger: Self.logger, setUp: GenerationDaemon.setUp)
        if let workerArguments {
            let configuration = try await DaemonConfiguration.load(
                daemon: "genworker",
                arguments: ["genworker", "--entitlements-sockets", socket, "--shutdown-timeout", "1"] + Self.cacheOffUnlessSet(workerArguments),
                environment: environment)
            services += try await BackedDaemon.assemble(
                "genworker", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: WorkerDaemon.backends,
                logger: Self.logger, setUp: WorkerDaemon.setUp
            ).services
        }
        postgres = try aid.backends.postgres()
        responder = aid.router.buildResponder()
        self.services = RunningServices(services + aid.services)
        if subscribed { try await Self.waitForSocket(socket) }
    }

    private func stop() async {
        await services.stop()
        try? FileManager.default.removeItem(atPath: directory)
        if let virtualHost { try? await LocalServer.shared(.rabbitmq).rabbitmqctl(["delete_vhost", virtualHost]) }
        privatePostgres?.remove()
    }

    private static func waitForSocket(_ path: String) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: path) {
            guard ContinuousClock.now < deadline else { throw LocalServer.Failure(description: "subscribed's entitlement socket never appeared") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs `body` with a client of aid's routes, as nginx reaches them (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }
}

/// An answer of aid: its status, headers and body.
struct Answer: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }

    /// The server-sent events of a streamed answer: each event's name and JSON data.
    var events: [(name: String, data: [String: Any])] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var name = ""
            var data: [String: Any] = [:]
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    data = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any] ?? [:]
                }
            }
            return name.isEmpty ? nil : (name, data)
        }
    }
}

/// A user as nginx presents one to aid, and what the tests send and read.
struct Caller: Sendable {
    let userID: String
    let sessionID = UUID().uuidString.lowercased()

    init(userID: String = UUID().uuidString.lowercased()) {
        self.userID = userID
    }

    var headers: HTTPFields {
        [
            .contentType: "application/json", GatewayHeaders.userID: userID, GatewayHeaders.sessionID: sessionID,
            GatewayHeaders.scopes: "generate",
        ]
    }

    func generate(_ client: any TestClientProtocol, _ body: String) async throws -> Answer {
        try await client.execute(uri: "/api/generate", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            Answer(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }

    func get(_ client: any TestClientProtocol, _ uri: String) async throws -> Answer {
        try await send(client, uri, method: .get)
    }

    func send(_ client: any TestClientProtocol, _ uri: String, method: HTTPRequest.Method, headers extra: HTTPFields = [:], body: String? = nil)
        async throws -> Answer
    {
        var fields = headers
        fields.append(contentsOf: extra)
        return try await client.execute(uri: uri, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) }) { response in
            Answer(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }
}

/// What subscribed recorded for a user: the ledger's rows by state.
func ledger(_ postgres: PostgresClient, user: String) async throws -> (reserved: Int, settled: Int, released: Int) {
    let row = try await postgres.query(
        """
        SELECT count(*) FILTER (WHERE state = 'reserved')::integer AS reserved, count(*) FILTER (WHERE state = 'settled')::integer AS settled,
               count(*) FILTER (WHERE state = 'released')::integer AS released
        FROM billing.usage_ledger WHERE user_id = $1::uuid
        """, [.text(user)])[0]
    return (try row.decode("reserved"), try row.decode("settled"), try row.decode("released"))
}

/// The ledger once it shows `expected`, or as it is after 10 s: a task's unit is settled or
/// released just after its status is final.
func ledger(_ postgres: PostgresClient, user: String, becomes expected: (reserved: Int, settled: Int, released: Int)) async throws -> (
    reserved: Int, settled: Int, released: Int
) {
    let deadline = ContinuousClock.now + .seconds(10)
    while true {
        let now = try await ledger(postgres, user: user)
        if now == expected || ContinuousClock.now > deadline { return now }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// A plan of the test's own with `features`, and a user subscribed to it.
func subscribedUser(
    _ postgres: PostgresClient, perDay: Int = 100, perPeriod: Int = 1000, features: [String] = ["generate.short"], cachedAnswersCount: Bool = true,
    maxOutputTokens: Int = 4096
) async throws -> String {
    let plan = "test_" + UUID().uuidString.prefix(8).lowercased()
    try await postgres.query(
        """
        INSERT INTO billing.plans (code, title, price_cents, requests_per_minute, generations_per_month, features, generations_per_day, tasks_at_once,
                                   cached_answers_count, max_output_tokens)
        VALUES ($1, 'Test plan', 100, 60, $6::integer, string_to_array($2, ' '), $3::integer, 100, $4, $5::integer)
        """,
        [.text(plan), .text(features.joined(separator: " ")), .int(perDay), .bool(cachedAnswersCount), .int(maxOutputTokens), .int(perPeriod)])
    return try await userOnPlan(postgres, plan)
}

/// A new user with an active subscription to `plan`.
func userOnPlan(_ postgres: PostgresClient, _ plan: String) async throws -> String {
    let user = UUID().uuidString.lowercased()
    try await postgres.query(
        "INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end) VALUES ($1::uuid, $2, 'active', now() - interval '1 day', now() + interval '29 days')",
        [.text(user), .text(plan)])
    return user
}

/// A generation as a stopped daemon leaves it: its unit reserved at subscribed, its row running,
/// `age` old after `attempts` engine calls, leased to another daemon for `leaseLeft` more (negative:
/// run out) when given; its id.
func strandedGeneration(
    _ postgres: PostgresClient, user: String, function: String, feature: String, mode: String, maxTokens: Int, age: Duration = .zero,
    attempts: Int = 0, leaseLeft: Duration? = nil
) async throws -> String {
    let id = UUID().uuidString.lowercased()
    try await postgres.query(
        "SELECT * FROM billing.reserve($1::uuid, $2, 1, $3, now(), interval '3 days', interval '1 hour')",
        [.text(user), .text(feature), .text("generation:\(id)")])
    try await postgres.query(
        """
        INSERT INTO ai.generations (id, user_id, function, topic, language, max_tokens, template_version, mode, status, reservation, attempts,
                                    created_at)
        VALUES ($1::uuid, $2::uuid, $3, 'Tides', 'en', $4::integer, 1, $5, 'running', $6, $7::integer, now() - $8::integer * interval '1 second')
        """,
        [.text(id), .text(user), .text(function), .int(maxTokens), .text(mode), .text("generation:\(id)"), .int(attempts), .int(Int(age.components.seconds))])
    if let leaseLeft {
        try await postgres.query(
            "UPDATE ai.generations SET lease_owner = gen_random_uuid(), lease_until = now() + $2::integer * interval '1 second' WHERE id = $1::uuid",
            [.text(id), .int(Int(leaseLeft.components.seconds))])
    }
    return id
}
