import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import Prometheus
import RedisClient
import ServiceBackends
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Subscriptions

/// One in-process subscribed over the shared test PostgreSQL and Redis (migrated by the test
/// command), assembled as `main` assembles it: its public routes and its entitlement API, minus
/// the sockets.
final class SubscribedInstance: Sendable {
    let postgres: PostgresClient
    let redis: RedisClient
    let responder: RouterResponder<BasicRequestContext>
    let entitlementResponder: RouterResponder<BasicRequestContext>
    private let services: RunningServices

    static let logger: Logger = {
        var logger = Logger(label: "subscribed-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Starts an instance, runs `body` with it, and stops it before returning, also when `body`
    /// throws. `postgresURL` and `redisURL` point it at other servers (one that is down, say); `arguments`
    /// are subscribed command-line settings (`--tiers-interval 3600`, ...).
    static func with<T>(
        postgresURL: String? = nil, redisURL: String? = nil, arguments: [String] = [], _ body: (SubscribedInstance) async throws -> T
    ) async throws -> T {
        let instance = try await SubscribedInstance(
            postgresURL: postgresURL ?? LocalServer.shared(.postgres).url(), redisURL: redisURL ?? LocalServer.shared(.redis).url(), arguments: arguments)
        do {
            if postgresURL == nil { try await instance.postgres.waitUntilAnswering() }
            let result = try await body(instance)
            await instance.services.stop()
            return result
        } catch {
            await instance.services.stop()
            throw error
        }
    }

    private init(postgresURL: String, redisURL: String, arguments: [String]) async throws {
        let configuration = try await DaemonConfiguration.load(
            daemon: "subscribed", arguments: ["subscribed"] + arguments, environment: ["REDIS_URL": redisURL, "POSTGRES_URL": postgresURL])
        let parts = Mutex<SubscriptionsDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "subscribed", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: SubscriptionsDaemon.backends,
            protectedPaths: SubscriptionsDaemon.protectedPaths, publicPaths: SubscriptionsDaemon.publicPaths, logger: Self.logger
        ) { setup in
            let components = try await SubscriptionsDaemon.build(setup)
            parts.withLock { $0 = components }
            return components.services
        }
        let components = try #require(parts.withLock { $0 })
        postgres = try daemon.backends.postgres()
        redis = try daemon.backends.redis()
        responder = daemon.router.buildResponder()
        entitlementResponder = components.entitlementResponder
        services = RunningServices(daemon.services)
    }

    /// Runs `body` with a client of the routes nginx reaches (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }

    /// Runs `body` with a client of the entitlement API (no socket).
    func withEntitlements<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: entitlementResponder).test(.router, body)
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

/// What the tests send and read.
enum Billing {
    /// A plan of the test's own, so that its limits are exactly what the test needs.
    static func makePlan(
        _ postgres: PostgresClient, perDay: Int, perMonth: Int = 1000, tasksAtOnce: Int = 1000, features: [String] = ["generate.short"]
    ) async throws -> String {
        let code = "test_" + UUID().uuidString.prefix(8).lowercased()
        try await postgres.query(
            """
            INSERT INTO billing.plans (code, title, price_cents, requests_per_minute, generations_per_month, features, generations_per_day, tasks_at_once)
            VALUES ($1, 'Test plan', 100, 60, $2::integer, string_to_array($3, ' '), $4::integer, $5::integer)
            """,
            [.text(code), .int(perMonth), .text(features.joined(separator: " ")), .int(perDay), .int(tasksAtOnce)])
        return code
    }

    /// A user subscribed to `plan` since yesterday for 30 days, with `status`.
    static func subscribe(_ postgres: PostgresClient, plan: String, status: String = "active") async throws -> String {
        let user = UUID().uuidString.lowercased()
        try await postgres.query(
            "INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end) VALUES ($1::uuid, $2, $3, now() - interval '1 day', now() + interval '29 days')",
            [.text(user), .text(plan), .text(status)])
        return user
    }

    static func reserveBody(user: String, feature: String = "generate.short", units: Int = 1, requestID: String = UUID().uuidString) -> ByteBuffer {
        ByteBuffer(string: #"{"user":"\#(user)","feature":"\#(feature)","units":\#(units),"request_id":"\#(requestID)"}"#)
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ body: ByteBuffer) async throws -> Answer {
        try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"], body: body) { response in
            Answer(status: response.status, body: Data(buffer: response.body))
        }
    }

    static func reserve(
        _ client: any TestClientProtocol, user: String, feature: String = "generate.short", units: Int = 1, requestID: String = UUID().uuidString
    )
        async throws -> Answer
    {
        try await post(client, "/internal/entitlements/reserve", reserveBody(user: user, feature: feature, units: units, requestID: requestID))
    }

    static func finish(_ client: any TestClientProtocol, _ ending: String, requestID: String) async throws -> Answer {
        try await post(client, "/internal/entitlements/\(ending)", ByteBuffer(string: #"{"request_id":"\#(requestID)"}"#))
    }

    /// The ledger's rows for a user, by state, and the day counter: what was really recorded.
    static func recorded(_ postgres: PostgresClient, user: String) async throws -> (reserved: Int, released: Int, settled: Int, today: Int) {
        let row = try await postgres.query(
            """
            SELECT count(*) FILTER (WHERE state = 'reserved')::integer AS reserved, count(*) FILTER (WHERE state = 'released')::integer AS released,
                   count(*) FILTER (WHERE state = 'settled')::integer AS settled,
                   coalesce((SELECT units FROM billing.usage_daily WHERE user_id = $1::uuid AND usage_day = (now() AT TIME ZONE 'UTC')::date), 0) AS today
            FROM billing.usage_ledger WHERE user_id = $1::uuid
            """, [.text(user)])[0]
        return (try row.decode("reserved"), try row.decode("released"), try row.decode("settled"), try row.decode("today"))
    }
}
