import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import PostgresClient
import Prometheus
import RedisClient
import ServiceBackends
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Subscriptions

/// What both test harnesses of subscribed share: its configuration for a test and its assembly
/// through `BackedDaemon.assemble` (what `main` runs).
enum TestSubscribed {
    static let logger: Logger = {
        var logger = Logger(label: "subscribed-test")
        logger.logLevel = .critical
        return logger
    }()

    /// subscribed assembled as `main` assembles it, with `build` as its set-up; the daemon and the
    /// parts the tests reach.
    static func assemble(
        arguments: [String], environment: [String: String], backends: [Backend],
        build: @escaping @Sendable (DaemonSetup) async throws -> SubscriptionsDaemon.Components
    ) async throws -> (daemon: AssembledDaemon, components: SubscriptionsDaemon.Components) {
        let configuration = try await DaemonConfiguration.load(daemon: "subscribed", arguments: ["subscribed"] + arguments, environment: environment)
        let parts = Mutex<SubscriptionsDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "subscribed", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: backends,
            protectedPaths: SubscriptionsDaemon.protectedPaths, publicPaths: SubscriptionsDaemon.publicPaths, logger: logger
        ) { setup in
            let components = try await build(setup)
            parts.withLock { $0 = components }
            return components.services
        }
        return (daemon, try #require(parts.withLock { $0 }))
    }

    /// Runs `body` with a client of `responder`'s routes (no socket).
    static func withClient<T: Sendable>(_ responder: RouterResponder<BasicRequestContext>, _ body: @Sendable (any TestClientProtocol) async throws -> T)
        async throws -> T
    {
        try await Application(responder: responder).test(.router, body)
    }

    /// A new path for an instance's entitlement listener (`--entitlements-listen`).
    static func newEntitlementSocket() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("entitlements-\(UUID().uuidString.prefix(8)).sock").path
    }

    /// Runs `body` with a client of the entitlement listener on `path`, once it takes connections:
    /// the calls go as aid sends them.
    static func withEntitlements<T: Sendable>(socket path: String, _ body: (EntitlementSocket) async throws -> T) async throws -> T {
        try await waitUntil { await acceptsConnections(onSocket: path) }
        return try await body(EntitlementSocket(path: path))
    }
}

/// One in-process subscribed over the shared test PostgreSQL and Redis (migrated by the test
/// command), assembled as `main` assembles it: its public routes (without their socket) and its
/// entitlement listener on a unix socket of its own. For what only the servers show: transactions,
/// locks, crashes, outages.
final class SubscribedInstance: Sendable {
    let postgres: PostgresClient
    let redis: RedisClient
    let fixtures: PostgresFixtures
    let responder: RouterResponder<BasicRequestContext>
    let entitlementSocket = TestSubscribed.newEntitlementSocket()
    private let services: RunningServices

    static var logger: Logger { TestSubscribed.logger }

    /// Starts an instance, runs `body` with it, and stops it before returning, also when `body`
    /// throws. `postgresURL` and `redisURL` point it at other servers (one that is down, say); `arguments`
    /// are subscribed command-line settings (`--tiers-interval 3600`, ...).
    static func with<T>(
        postgresURL: String? = nil, redisURL: String? = nil, arguments: [String] = [], _ body: (SubscribedInstance) async throws -> T
    ) async throws -> T {
        let instance = try await SubscribedInstance(
            postgresURL: postgresURL ?? LocalServer.shared(.postgres).url(), redisURL: redisURL ?? LocalServer.shared(.redis).url(), arguments: arguments)
        return try await withStopping(instance, stop: { await $0.stop() }) { instance in
            if postgresURL == nil { try await instance.postgres.waitUntilAnswering() }
            return try await body(instance)
        }
    }

    private init(postgresURL: String, redisURL: String, arguments: [String]) async throws {
        let (daemon, _) = try await TestSubscribed.assemble(
            arguments: arguments + ["--entitlements-listen", "unix:\(entitlementSocket)"], environment: ["REDIS_URL": redisURL, "POSTGRES_URL": postgresURL],
            backends: SubscriptionsDaemon.backends,
            build: SubscriptionsDaemon.build)
        postgres = try daemon.backends.postgres()
        redis = try daemon.backends.redis()
        fixtures = PostgresFixtures(postgres: postgres)
        responder = daemon.router.buildResponder()
        services = RunningServices(daemon.services)
    }

    private func stop() async {
        await services.stop()
        try? FileManager.default.removeItem(atPath: entitlementSocket)
    }

    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await TestSubscribed.withClient(responder, body)
    }

    func withEntitlements<T: Sendable>(_ body: (EntitlementSocket) async throws -> T) async throws -> T {
        try await TestSubscribed.withEntitlements(socket: entitlementSocket, body)
    }
}

/// An answer of subscribed: its status, body and headers.
struct Answer: Sendable {
    let status: HTTPResponse.Status
    let body: Data
    var headers: HTTPFields = [:]

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// The entitlement listener's socket, called over HTTP/1.1 as aid calls it, every answer (a 503
/// too) handed back as it came.
struct EntitlementSocket: Sendable {
    let path: String

    func post(_ target: String, _ body: ByteBuffer) async throws -> Answer {
        try await send(.POST, target, headers: ["Content-Type": "application/json"], body: body)
    }

    func send(_ method: HTTPMethod, _ target: String, headers: [String: String] = [:], body: ByteBuffer? = nil) async throws -> Answer {
        let url = try #require(URL(httpURLWithSocketPath: path, uri: target))
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        var fields = HTTPFields()
        for header in response.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Answer(
            status: HTTPResponse.Status(code: Int(response.status.code)), body: Data(buffer: try await response.body.collect(upTo: 1 << 20)),
            headers: fields)
    }
}

/// The entitlement API's calls as aid makes them.
enum Billing {
    static func reserveBody(user: String, feature: String = "generate.short", units: Int = 1, requestID: String = UUID().uuidString) -> ByteBuffer {
        ByteBuffer(string: #"{"user":"\#(user)","feature":"\#(feature)","units":\#(units),"request_id":"\#(requestID)"}"#)
    }

    static func post(_ client: EntitlementSocket, _ path: String, _ body: ByteBuffer) async throws -> Answer {
        try await client.post(path, body)
    }

    static func reserve(
        _ client: EntitlementSocket, user: String, feature: String = "generate.short", units: Int = 1, requestID: String = UUID().uuidString
    ) async throws -> Answer {
        try await post(client, "/internal/entitlements/reserve", reserveBody(user: user, feature: feature, units: units, requestID: requestID))
    }

    static func finish(_ client: EntitlementSocket, _ ending: String, requestID: String) async throws -> Answer {
        try await post(client, "/internal/entitlements/\(ending)", ByteBuffer(string: #"{"request_id":"\#(requestID)"}"#))
    }
}

extension PostgresClient {
    /// Ends, as a crash would, the backend that waits on a lock `holder` (a backend's pid) holds
    /// while running a statement containing `statement`: once it is waiting there, within 10 s.
    /// Whether one was ended.
    func terminateBackend(blockedBy holder: Int, running statement: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let rows = try await query(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE $1::integer = ANY (pg_blocking_pids(pid)) AND query LIKE '%' || $2 || '%'
                """, [.int(holder), .text(statement)])
            if !rows.isEmpty { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}
