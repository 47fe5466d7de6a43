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
import TestSupport
import Testing

@testable import Generation

/// An in-process aid over the real servers (PostgreSQL, Redis, RabbitMQ), and a genworker when
/// asked, each assembled as its `main` assembles it, with one change: subscribed is the in-memory
/// one (``InMemoryEntitlements``), shared by both. For what only the servers show: outages,
/// transactions, the broker's redeliveries and dead letters, `skillctl tasks`. `aidArguments` and
/// `workerArguments` are command-line settings (`--engine-offline-fail always`, ...).
final class AidInstance: TestAid {
    let postgres: PostgresClient
    let entitlements: InMemoryEntitlements
    let responder: RouterResponder<BasicRequestContext>
    private let services: RunningServices
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

    static var logger: Logger { InMemoryAid.logger }

    /// The arguments, with the result cache off unless they set it: the tests share one Redis, and
    /// one test's cached answer must not stand in for another's engine call.
    static func cacheOffUnlessSet(_ arguments: [String]) -> [String] {
        arguments.contains("--cache-ttl") ? arguments : ["--cache-ttl", "0"] + arguments
    }

    /// `workerArguments` nil: no genworker (tasks stay queued).
    static func with<T>(
        aidArguments: [String] = [], workerArguments: [String]? = nil, isolation: Isolation = .shared, _ body: (AidInstance) async throws -> T
    ) async throws -> T {
        let instance = try await AidInstance(aidArguments: aidArguments, workerArguments: workerArguments, isolation: isolation)
        return try await withStopping(instance, stop: { await $0.stop() }) { instance in
            try await instance.postgres.waitUntilAnswering()
            return try await body(instance)
        }
    }

    private init(aidArguments: [String], workerArguments: [String]?, isolation: Isolation) async throws {
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
        let entitlements = InMemoryEntitlements()
        /// The daemon's storage over its servers, with the in-memory subscribed.
        @Sendable func storage(_ setup: DaemonSetup, _ settings: GenerationSettings) throws -> GenerationDaemon.Storage {
            let servers = try GenerationDaemon.Storage.servers(setup, settings: settings)
            return .init(
                store: servers.store, entitlements: entitlements, balance: InMemoryBalance(), cache: servers.cache, queue: servers.queue,
                documents: servers.documents,
                profileChanges: servers.profileChanges)
        }
        // The sockets are never dialled: the storage above replaces subscribed's client.
        let common = ["--entitlements-sockets", "/nonexistent/entitlements.sock"]
        var services: [any Service] = []
        let aid = try await BackedDaemon.assemble(
            "aid",
            configuration: try await DaemonConfiguration.load(
                daemon: "aid", arguments: ["aid", "--relay-interval", "0.2"] + common + Self.cacheOffUnlessSet(aidArguments), environment: environment),
            registry: PrometheusCollectorRegistry(), backends: GenerationDaemon.backends, protectedPaths: GenerationDaemon.protectedPaths,
            logger: Self.logger
        ) { setup in
            let settings = try GenerationSettings(setup.configuration)
            return GenerationDaemon.wire(setup, settings: settings, storage: try storage(setup, settings)).services
        }
        if let workerArguments {
            let configuration = try await DaemonConfiguration.load(
                daemon: "genworker", arguments: ["genworker", "--shutdown-timeout", "1"] + common + Self.cacheOffUnlessSet(workerArguments),
                environment: environment)
            services += try await BackedDaemon.assemble(
                "genworker", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: WorkerDaemon.backends,
                logger: Self.logger
            ) { setup in
                let settings = try GenerationSettings(setup.configuration)
                let worker = try WorkerSettings(setup.configuration)
                let (runner, services) = WorkerDaemon.wire(setup, settings: settings, worker: worker, storage: try storage(setup, settings))
                return services + (try WorkerDaemon.queueWorkers(setup, worker: worker, runner: runner))
            }.services
        }
        postgres = try aid.backends.postgres()
        self.entitlements = entitlements
        responder = aid.router.buildResponder()
        self.services = RunningServices(services + aid.services)
    }

    private func stop() async {
        await services.stop()
        if let virtualHost { try? await LocalServer.shared(.rabbitmq).rabbitmqctl(["delete_vhost", virtualHost]) }
        privatePostgres?.remove()
    }

    /// Runs `body` with a client of aid's routes, as nginx reaches them (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }

    func attempts(_ id: String) async throws -> Int {
        try await postgres.query("SELECT attempts FROM ai.generations WHERE id = $1::uuid", [.text(id)])[0].decode("attempts")
    }
}

/// An aid under test, in memory or over the servers: what the helpers of the tests need.
protocol TestAid: Sendable {
    var entitlements: InMemoryEntitlements { get }
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T
    /// The engine calls task `id` has begun.
    func attempts(_ id: String) async throws -> Int
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
    /// What nginx says the credential was granted (`X-Scopes`).
    var scopes = "generate"
    /// An API key's daily limit on /v1 (`X-Key-Daily-Limit`), if nginx says it has one.
    var keyDailyLimit: Int64?

    init(userID: String = UUID().uuidString.lowercased(), scopes: String = "generate", keyDailyLimit: Int64? = nil) {
        self.userID = userID
        self.scopes = scopes
        self.keyDailyLimit = keyDailyLimit
    }

    var headers: HTTPFields {
        var fields: HTTPFields = [
            .contentType: "application/json", GatewayHeaders.userID: userID, GatewayHeaders.sessionID: sessionID,
            GatewayHeaders.scopes: scopes,
        ]
        if let keyDailyLimit { fields[GatewayHeaders.keyDailyLimit] = String(keyDailyLimit) }
        return fields
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
