import Foundation
import TestSupport
import Testing

/// Every daemon executable, started as the stack starts it, against the real servers.
@Suite(.timeLimit(.minutes(3))) struct DaemonTests {
    func environment(redisPort: Int? = nil) throws -> [String: String] {
        [
            "REDIS_URL": "redis://127.0.0.1:\(try redisPort ?? LocalServer.sharedPort(.redis))",
            "POSTGRES_URL": "postgresql://skillup@127.0.0.1:\(try LocalServer.sharedPort(.postgres))/skillup",
            "AMQP_URL": "amqp://guest:guest@127.0.0.1:\(try LocalServer.sharedPort(.rabbitmq))/",
        ]
    }

    @Test(arguments: ["authd", "subscribed", "aid", "genworker", "notifyd"])
    func startsReadyOnAUnixSocketAndStopsCleanly(_ name: String) async throws {
        let daemon = try DaemonProcess(name, environment: environment())
        defer { daemon.remove() }
        try await daemon.waitUntilListening()

        let mode = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        let ready = try await pollReady(daemon, until: 200)
        #expect(ready.body.contains(#""status":"ready""#))
        let metrics = try await daemon.get("/metrics")
        #expect(metrics.status == 200)

        let stopTime = try await daemon.terminate()
        #expect(daemon.exitStatus == 0)
        #expect(stopTime < .seconds(5), "\(daemon.log)")
        #expect(daemon.log.contains(#""msg":"listening""#))
    }

    @Test func readinessNamesRedisWhileItIsDownAndRecovers() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        let daemon = try DaemonProcess("authd", environment: environment(redisPort: redis.port))
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        _ = try await pollReady(daemon, until: 200)

        try await redis.stop()
        let down = try await pollReady(daemon, until: 503)
        #expect(down.body.contains(#""error":"not_ready""#))
        #expect(down.body.contains("redis: "))
        #expect(!down.body.contains("postgres: "))
        #expect(daemon.log.contains(#""msg":"not ready""#))

        try await redis.start()
        _ = try await pollReady(daemon, until: 200)
    }

    @Test func aBadSettingStopsStartWithTheKeyNamed() async throws {
        let daemon = try DaemonProcess("authd", arguments: ["--log-level", "loud"], environment: environment())
        defer { daemon.remove() }
        #expect(try await daemon.waitForExit(timeout: .seconds(20)))
        #expect(daemon.exitStatus == 78)
        #expect(daemon.log.contains("configuration 'log.level'"))
    }

    @Test func aMissingBackendURLStopsStartWithHowToSetIt() async throws {
        let daemon = try DaemonProcess("authd", environment: ["REDIS_URL": "redis://127.0.0.1:1"])
        defer { daemon.remove() }
        #expect(try await daemon.waitForExit(timeout: .seconds(20)))
        #expect(daemon.exitStatus == 78)
        #expect(daemon.log.contains("--postgres-url"))
    }

    /// Polls `/health/ready` until it answers `status` (readiness follows the backends within
    /// their reconnect backoff).
    func pollReady(_ daemon: DaemonProcess, until status: Int, timeout: Duration = .seconds(30)) async throws -> (status: Int, body: String) {
        let deadline = ContinuousClock.now + timeout
        var last = try await daemon.get("/health/ready")
        while last.status != status && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            last = try await daemon.get("/health/ready")
        }
        #expect(last.status == status, "last answer: \(last.body)")
        return last
    }
}
