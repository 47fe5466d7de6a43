import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceKit
import Synchronization
import Testing

/// What an admin greps for: one line per request with the request's id, and HEAD served as GET.
@Suite struct AccessLogTests {
    /// A router as every daemon has, with one route that reports the trace it runs under.
    func withDaemon(_ body: @Sendable (any TestClientProtocol, @Sendable () -> [[String: String]]) async throws -> Void) async throws {
        let lines = Mutex<[String]>([])
        let logger = Logger(label: "test") { label in JSONLogHandler(label: label, level: .debug) { line in lines.withLock { $0.append(line) } } }
        let router = Daemon.router(readiness: Readiness(), registry: PrometheusCollectorRegistry())
        router.get("/api/things/{id}") { _, _ in "trace \(RequestTrace.requestID ?? "none") \(RequestTrace.traceID ?? "none")" }
        Daemon.answerWrongMethods(on: router)
        let logged: @Sendable () -> [[String: String]] = {
            lines.withLock { $0 }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String] }
        }
        try await Application(router: router, logger: logger).test(.router) { client in try await body(client, logged) }
    }

    @Test func eachRequestIsOneInfoLineWithItsIdUserStatusAndDurationAndNoQuery() async throws {
        try await withDaemon { client, logged in
            let answer = try await client.execute(
                uri: "/api/things/7?token=secret", method: .get,
                headers: [GatewayHeaders.requestID: "req-42", GatewayHeaders.userID: "5f1c0e6e-5b7a-4a43-9c55-9f8f3a1d2b11"])
            #expect(String(buffer: answer.body).hasPrefix("trace req-42 "), "the route's own calls carry the request id")
            let line = try #require(logged().first { $0["msg"] == "request" && $0["path"] == "/api/things/7" })
            #expect(line["level"] == "info")
            #expect(line["method"] == "GET" && line["status"] == "200")
            #expect(line["request_id"] == "req-42")
            #expect(line["user"] == "5f1c0e6e-5b7a-4a43-9c55-9f8f3a1d2b11")
            #expect(line["duration_ms"].flatMap(Double.init) != nil)
            #expect(!logged().contains { $0.values.contains { $0.contains("secret") } }, "a query may hold a token: it is never logged")
            _ = try await client.execute(uri: "/api/things/8", method: .delete)
            #expect(logged().contains { $0["path"] == "/api/things/8" && $0["status"] == "405" })
        }
    }

    @Test func everyLineOfARequestHasTheTraceIdOfItsTraceparentAndItsCallsCarryIt() async throws {
        try await withDaemon { client, logged in
            let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
            let answer = try await client.execute(
                uri: "/api/things/9", method: .get,
                headers: [GatewayHeaders.requestID: "req-43", GatewayHeaders.traceparent: "00-\(trace)-00f067aa0ba902b7-01"])
            #expect(String(buffer: answer.body) == "trace req-43 \(trace)")
            #expect(logged().first { $0["path"] == "/api/things/9" }?["trace_id"] == trace)
            // Without one, or with a malformed one, the request starts a trace of its own.
            for traceparent in [nil, "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-\(trace.uppercased())-00f067aa0ba902b7-01"] {
                var headers: HTTPFields = [GatewayHeaders.requestID: "req-44"]
                if let traceparent { headers[GatewayHeaders.traceparent] = traceparent }
                let own = String(buffer: try await client.execute(uri: "/api/things/10", method: .get, headers: headers).body)
                let ownTrace = try #require(own.split(separator: " ").last.map(String.init))
                #expect(ownTrace.count == 32 && ownTrace.allSatisfy(\.isHexDigit) && ownTrace != trace && ownTrace != trace.uppercased(), "\(own)")
            }
        }
    }

    @Test func probesAreLoggedAtDebugOnly() async throws {
        try await withDaemon { client, logged in
            _ = try await client.execute(uri: "/health/live", method: .get)
            #expect(logged().first { $0["path"] == "/health/live" }?["level"] == "debug")
        }
    }

    @Test func headIsAnsweredAsGetWithoutTheBody() async throws {
        try await withDaemon { client, _ in
            let head = try await client.execute(uri: "/api/things/7", method: .head)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            #expect(try await client.execute(uri: "/nowhere", method: .head).status == .notFound)
        }
    }
}
