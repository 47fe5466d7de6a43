import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceKit
import Testing

@Suite struct DaemonRouterTests {
    struct Unreachable: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    func makeRouter(
        _ checks: [Readiness.Check] = [], timeout: Duration = .seconds(2), registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) -> Router<BasicRequestContext> {
        let router = Daemon.router(readiness: Readiness(checks, timeout: timeout), registry: registry)
        router.get("/boom/api") { _, _ -> String in throw APIError(.conflict, code: "email_taken", message: "that email is registered") }
        router.get("/boom/other") { _, _ -> String in throw Unreachable() }
        router.get("/boom/http") { _, _ -> String in throw HTTPError(.unauthorized) }
        router.get("/boom/domain") { _, _ -> String in throw Overbooked() }
        return router
    }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])
    }

    @Test func liveAlwaysAnswers200() async throws {
        try await Application(router: makeRouter([.init("redis") { throw Unreachable() }])).test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func readyIs200WhenEveryCheckPasses() async throws {
        try await Application(router: makeRouter([.init("redis") {}, .init("postgres") {}])).test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["status"] as? String == "ready")
                #expect(body["checks"] as? [String: String] == ["redis": "ok", "postgres": "ok"])
            }
        }
    }

    @Test func readyIs503NamingTheFailingDependency() async throws {
        try await Application(router: makeRouter([.init("redis") { throw Unreachable() }, .init("postgres") {}])).test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try json(response.body)
                #expect(body["error"] as? String == "not_ready")
                #expect(body["message"] as? String == "redis: connection refused")
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func aHungDependencyFailsWithinTheTimeout() async throws {
        let router = makeRouter([.init("amqp") { try await Task.sleep(for: .seconds(3600)) }], timeout: .milliseconds(200))
        try await Application(router: router).test(.router) { client in
            let start = ContinuousClock.now
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let field = try json(response.body)["message"] as? String
                #expect(field == "amqp: no answer within 0.2 seconds")
            }
            // The check would hang for an hour; its 0.2 s timeout ends it (plus a loaded machine's delay).
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    @Test func domainErrorsBecomeTheJSONErrorBody() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            try await client.execute(uri: "/boom/api", method: .get, headers: [GatewayHeaders.requestID: "abc-123"]) { response in
                #expect(response.status == .conflict)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[GatewayHeaders.requestID] == "abc-123")
                let body = try json(response.body)
                #expect(body["error"] as? String == "email_taken")
                #expect(body["message"] as? String == "that email is registered")
                #expect(body["request_id"] as? String == "abc-123")
            }
        }
    }

    @Test func unexpectedErrorsAreA500WithoutDetails() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            try await client.execute(uri: "/boom/other", method: .get) { response in
                #expect(response.status == .internalServerError)
                let body = try json(response.body)
                #expect(body["error"] as? String == "internal_error")
                #expect(!(body["message"] as? String ?? "").contains("refused"))
            }
            try await client.execute(uri: "/boom/http", method: .get) { response in
                #expect(response.status == .unauthorized)
                let field = try json(response.body)["error"] as? String
                #expect(field == "unauthorized")
            }
        }
    }

    @Test func unknownRoutesAnswerJSON404() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            try await client.execute(uri: "/no/such/route", method: .get) { response in
                #expect(response.status == .notFound)
                let field = try json(response.body)["error"] as? String
                #expect(field == "not_found")
            }
        }
    }

    @Test func malformedRequestIdsAreReplaced() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get, headers: [GatewayHeaders.requestID: "evil\" id\nnext"]) { response in
                let id = try #require(response.headers[GatewayHeaders.requestID])
                #expect(id != "evil\" id\nnext")
                #expect(id.allSatisfy { $0.isHexDigit })
            }
        }
    }

    /// A domain error whose one HTTP mapping is `apiError`, as the services' errors are.
    struct Overbooked: APIErrorConvertible {
        var apiError: APIError { APIError(.conflict, code: "overbooked", message: "no seat is left") }
    }

    @Test func aDomainErrorIsAnsweredAndCountedAsItsOwnStatus() async throws {
        try await Application(router: makeRouter(registry: PrometheusCollectorRegistry())).test(.router) { client in
            try await client.execute(uri: "/boom/domain", method: .get) { response in
                #expect(response.status == .conflict)
                let body = try json(response.body)
                #expect(body["error"] as? String == "overbooked")
                #expect(body["message"] as? String == "no seat is left")
            }
            try await client.execute(uri: "/boom/other", method: .get) { response in
                #expect(response.status == .internalServerError)
            }
            try await client.execute(uri: "/users/7f1c/no-such-thing", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let metrics = String(buffer: response.body)
                #expect(metrics.contains(#"skillup_http_requests_total{route="/boom/domain",method="GET",status="409"} 1"#), "\(metrics)")
                #expect(metrics.contains(#"skillup_http_requests_total{route="/boom/other",method="GET",status="500"} 1"#), "\(metrics)")
                // A path no route matched is one series, whatever the path: ids never become series.
                #expect(metrics.contains(#"skillup_http_requests_total{route="NotFound",method="GET",status="404"} 1"#), "\(metrics)")
                #expect(!metrics.contains("7f1c"))
                #expect(metrics.contains(#"skillup_http_request_duration_seconds_count{route="/boom/domain",method="GET"} 1"#), "\(metrics)")
                #expect(metrics.contains("# HELP skillup_http_requests_total "))
            }
        }
    }

    @Test func metricsAreServedInPrometheusFormat() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "skillup", metricName: "test", unitName: "total", helpText: "a counter the test increments")
        ).increment()
        let router = Daemon.router(readiness: Readiness(), registry: registry)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("skillup_test_total 1"))
            }
        }
    }
}
