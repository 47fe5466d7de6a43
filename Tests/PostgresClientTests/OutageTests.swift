import Logging
import PostgresClient
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A private server that stops and starts again: calls fail fast and clearly, then the pool recovers.
@Suite(.timeLimit(.minutes(2)))
struct OutageTests {
    static let outageCodes: [PostgresError.Code] = [.connectionFailed, .connectionUnavailable, .connectionLost]

    @Test func serverStopsAndComesBack() async throws {
        let server = try await LocalServer.startPrivate(.postgres)
        defer { server.remove() }
        var configuration = try Support.configuration(server, poolSize: 2)
        configuration.connectTimeout = .seconds(2)
        configuration.maximumReconnectDelay = .milliseconds(500)
        let client = try PostgresClient(configuration: configuration, logger: Logger(label: "outage"))

        try await client.query("SELECT 1")
        let inFlight = Task { try await client.query("SELECT pg_sleep(30)") }
        try await Support.waitUntilRunning("SELECT pg_sleep(30)", on: configuration)
        try await server.stop()

        let lost = await #expect(throws: PostgresError.self) { try await inFlight.value }
        #expect(lost.map { Self.outageCodes.contains($0.code) } == true, "\(String(describing: lost))")

        for _ in 0..<6 {
            let start = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT $1::int AS n", [.int(1)]) }
            #expect(error.map { Self.outageCodes.contains($0.code) } == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - start < configuration.connectTimeout + .seconds(1))
            try await Task.sleep(for: .milliseconds(100))
        }

        try await server.start()
        let recovered = try await Self.poll(for: .seconds(10)) {
            try await client.query("SELECT $1::int AS n", [.int(7)])[0].decode("n", as: Int.self)
        }
        #expect(recovered == 7)
        // Every pooled connection works again, not only the first one to reconnect.
        let answers = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<20 {
                group.addTask {
                    try await Self.poll(for: .seconds(5)) {
                        try await client.query("SELECT $1::int AS n", [.int(value)])[0].decode("n", as: Int.self)
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(answers == (0..<20).reduce(0, +))
        await client.close()
    }

    @Test func silentServerHitsTheConnectTimeout() async throws {
        // A socket that listens but never answers: the kernel accepts the TCP handshake, then nothing.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
        #expect(listen(listener, 8) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        var configuration = try Support.configuration(port: Int(UInt16(bigEndian: address.sin_port)), poolSize: 1)
        configuration.connectTimeout = .seconds(1)
        configuration.tls = .disable

        let client = try PostgresClient(configuration: configuration, logger: Logger(label: "silent"))
        let start = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT 1") }
        #expect(error?.code == .connectTimeout)
        // The silent server would hold the connect forever; the 1 s timeout ends it (plus a loaded
        // machine's scheduling delay).
        #expect(ContinuousClock.now - start < .seconds(4))
        // Right after a failed attempt the slot waits out its reconnect delay and says so at once; on a
        // loaded machine the delay may already be over, and the next attempt times out again.
        let waiting = await #expect(throws: PostgresError.self) { try await client.query("SELECT 1") }
        #expect(waiting?.code == .connectionUnavailable || waiting?.code == .connectTimeout)
        await client.close()
    }

    /// Retries `body` until it succeeds or `limit` passes, then rethrows the last error.
    static func poll<T>(for limit: Duration, _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                return try await body()
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
