import Foundation
import RedisClient
import Synchronization
import TestSupport
import Testing

/// Kills, freezes and restarts a private redis-server; the shared one stays untouched.
@Suite("Outages on a private redis-server", .serialized, .timeLimit(.minutes(2)))
struct OutageTests {
    static func configure(_ configuration: inout RedisConfiguration) {
        configuration.commandTimeout = .milliseconds(500)
        configuration.maximumReconnectDelay = .milliseconds(400)
    }

    /// Runs `body` with a client connected to a private server that was then frozen (SIGSTOP); the
    /// body may thaw it (SIGCONT).
    static func withFrozenServer(_ body: (LocalServer, RedisClient) async throws -> Void) async throws {
        let server = try await LocalServer.startPrivate(.redis)
        defer { server.remove() }
        try await TestRedis.withClient(server: server, configure: configure) { client async throws in
            #expect(try await client.send("PING") == .simpleString("PONG"))
            server.signal(SIGSTOP)
            try await body(server, client)
        }
    }

    @Test func callsFailFastDuringAnOutageAndTheClientRecovers() async throws {
        let server = try await LocalServer.startPrivate(.redis)
        defer { server.remove() }
        try await TestRedis.withClient(server: server, configure: Self.configure) { client in
            // A loaded machine can miss the short timeout on the very first call.
            #expect(try await TestRedis.eventually(within: .seconds(10)) { (try? await client.set("k", to: "before")) != nil })
            try await server.stop()
            for _ in 0..<5 {
                let start = ContinuousClock.now
                let error = await #expect(throws: RedisError.self) { try await client.get("k") }
                #expect(ContinuousClock.now - start < .milliseconds(700))
                let code = try #require(error?.code)
                #expect([.unavailable, .connectionClosed].contains(code), "\(String(describing: error))")
            }
            try await server.start()
            #expect(
                try await TestRedis.eventually(within: .seconds(10)) {
                    (try? await client.send("PING")) == .simpleString("PONG")
                })
            // The private server keeps no data across restarts (--save ''): the write path works.
            try await client.set("k", to: "after")
            #expect(try await client.get("k") == "after")
        }
    }

    /// Each call keeps its own limit on one connection: a short one sent behind a long one still
    /// fails at its own deadline, not at the long one's (one watchdog per connection is re-armed
    /// for the earliest deadline).
    @Test func aShortTimeoutBehindALongOneFailsOnTime() async throws {
        try await Self.withFrozenServer { _, client async throws in
            let start = ContinuousClock.now
            let long = Task { () async throws(RedisError) -> RedisValue in try await client.send(RedisCommand("GET", "long"), timeout: .seconds(20)) }
            try await Task.sleep(for: .milliseconds(100))
            let short = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("GET", "short"), timeout: .milliseconds(300)) }
            #expect(short?.code == .timeout)
            #expect(ContinuousClock.now - start < .seconds(2), "the short call waited for the long one's deadline")
            // The late reply means a stuck link: the connection closes and the long call ends too.
            let ended = await #expect(throws: RedisError.self) { try await long.value }
            #expect(ended?.code == .connectionClosed || ended?.code == .timeout)
        }
    }

    @Test func aFrozenServerGivesTimeoutsNotHangs() async throws {
        try await Self.withFrozenServer { server, client async throws in
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await client.get("k") }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .timeout)
            #expect(elapsed >= .milliseconds(450) && elapsed < .milliseconds(1500), "\(elapsed)")
            server.signal(SIGCONT)
            #expect(
                try await TestRedis.eventually(within: .seconds(10)) {
                    (try? await client.send("PING")) == .simpleString("PONG")
                })
        }
    }

    @Test func subscriptionsResumeAfterReconnect() async throws {
        let server = try await LocalServer.startPrivate(.redis)
        defer { server.remove() }
        try await TestRedis.withClient(server: server, configure: Self.configure) { client in
            try await client.subscribe(to: ["news"]) { messages in
                var iterator = messages.makeAsyncIterator()
                #expect(try await client.publish("one", to: "news") == 1)
                #expect(await iterator.next()?.string == "one")
                try await server.stop()
                try await server.start()
                // Resubscribed: published until it arrives (a message published while the client
                // was still subscribing again is lost, as Redis' pub/sub loses any), for 10 s at most.
                let received = await withTaskGroup(of: String?.self) { group in
                    group.addTask {
                        var resumed = messages.makeAsyncIterator()
                        return await resumed.next()?.string
                    }
                    group.addTask {
                        for _ in 0..<100 where !Task.isCancelled {
                            _ = try? await client.publish("two", to: "news")
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                        return nil
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
                #expect(received == "two")
            }
        }
    }

    /// A server that stops answering without closing the connection: the subscriber's heartbeat
    /// notices (so that authd stops trusting its cache), and the subscription comes back with it.
    @Test func aFrozenServerIsNoticedBySubscribers() async throws {
        let server = try await LocalServer.startPrivate(.redis)
        defer { server.remove() }
        let links = Mutex<[RedisSubscriptionLink]>([])
        try await TestRedis.withClient(server: server, configure: Self.configure) { client in
            try await client.subscribe(to: ["news"], onLinkChange: { link in links.withLock { $0.append(link) } }) { messages in
                server.signal(SIGSTOP)
                let start = ContinuousClock.now
                let lost = try await TestRedis.eventually(within: .seconds(10)) { links.withLock { $0.contains(.lost) } }
                let elapsed = ContinuousClock.now - start
                #expect(lost)
                // Heartbeat 1 s, then the 500 ms call timeout.
                #expect(elapsed < .seconds(3), "\(elapsed)")
                server.signal(SIGCONT)
                #expect(try await TestRedis.eventually(within: .seconds(10)) { links.withLock { $0.contains(.restored) } })
                // Published until it arrives: for a moment after the resubscription the server may
                // still count the frozen connection's subscription, and a message sent to it is lost.
                let received = await withTaskGroup(of: String?.self) { group in
                    group.addTask {
                        var iterator = messages.makeAsyncIterator()
                        return await iterator.next()?.string
                    }
                    group.addTask {
                        for _ in 0..<100 where !Task.isCancelled {
                            _ = try? await client.publish("back", to: "news")
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                        return nil
                    }
                    let first = await group.next() ?? nil
                    group.cancelAll()
                    return first
                }
                #expect(received == "back")
            }
        }
    }

    /// The server answers a subscriber's setup only after the client began shutting down: the late
    /// reply completes the setup, which then closes the connection while the reply is being read.
    /// (This once crashed the process: closing emptied the reply queue under the reader.)
    @Test func aReplyArrivingDuringShutdownEndsTheSubscriptionCleanly() async throws {
        let server = try await LocalServer.startPrivate(.redis)
        defer { server.remove() }
        var configuration = try TestRedis.configuration(server)
        configuration.commandTimeout = .seconds(5)
        let client = RedisClient(configuration: configuration, logger: TestRedis.logger)
        let running = Task { try await client.run() }
        server.signal(SIGSTOP)
        let subscribing = Task { try await client.subscribe(to: ["late"]) { _ in } }
        try await Task.sleep(for: .milliseconds(300))
        // The shutdown must have begun before the server answers, however late the task that
        // runs it is scheduled on a loaded machine: it says when it has started.
        let (started, start) = AsyncStream.makeStream(of: Void.self)
        let stopping = Task {
            start.yield()
            await client.shutdown()
        }
        for await _ in started { break }
        try await Task.sleep(for: .milliseconds(100))
        server.signal(SIGCONT)
        await stopping.value
        let subscribed = await subscribing.result
        #expect(throws: RedisError.self) { try subscribed.get() }
        _ = await running.result
    }

    @Test func callsBeforeTheFirstConnectFailWhenTheServerIsDown() async throws {
        // A port bound but not listening refuses connections, and, held for the whole test, cannot
        // be taken by another suite's server (a stopped server's port can, and then answers).
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) == 0 && getsockname(holder, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        try await TestRedis.withClient(port: port, configure: Self.configure) { client in
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await client.send("PING") }
            #expect(error?.code == .unavailable)
            #expect(ContinuousClock.now - start < .milliseconds(700))
        }
    }
}
