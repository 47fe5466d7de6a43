import Foundation
import RedisClient
import TestSupport
import Testing

/// A replicated Redis (a master, two replicas, three Sentinels) of the test's own: the client finds the
/// master through Sentinel and follows it when it moves.
@Suite("Failovers behind Sentinel", .serialized, .timeLimit(.minutes(2)))
struct SentinelTests {
    static func withReplicatedRedis(_ body: (LocalServer, RedisClient) async throws -> Void) async throws {
        let server = try await LocalServer.startPrivate(.redisReplicated)
        defer { server.remove() }
        var configuration = try RedisConfiguration(url: try server.url())
        configuration.commandTimeout = .milliseconds(500)
        configuration.maximumReconnectDelay = .milliseconds(200)
        let client = RedisClient(configuration: configuration, logger: TestRedis.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            // The replica reports to the master, and the Sentinels find it, within a second or two.
            #expect(try await TestRedis.eventually(within: .seconds(20)) { (try? await client.durablePipeline([RedisCommand("SET", "ready", "1")])) != nil })
            try await body(server, client)
            await client.shutdown()
        }
    }

    /// The port the client's commands reach: the master's.
    static func masterPort(_ client: RedisClient) async throws -> Int? {
        let info = try await client.send("INFO", "server").string ?? ""
        return info.split(separator: "\r\n").first { $0.hasPrefix("tcp_port:") }.flatMap { Int($0.dropFirst("tcp_port:".count)) }
    }

    @Test func aKilledMasterIsFollowedAndNoDurableWriteIsLost() async throws {
        try await Self.withReplicatedRedis { server, client in
            let keys = (0..<200).map { "durable:\($0)" }
            for key in keys {
                _ = try await client.durablePipeline([RedisCommand("SET", key, key)])
            }
            let oldMaster = try await Self.masterPort(client)
            #expect(oldMaster == server.port)
            try await client.subscribe(to: ["after"]) { messages in
                try await server.crash("redis")
                let start = ContinuousClock.now
                // Until a Sentinel names the replica, calls fail (never hang past their timeout).
                var failures = 0
                while ContinuousClock.now - start < .seconds(20) {
                    do {
                        try await client.set("written-after", to: "yes")
                        break
                    } catch let error as RedisError {
                        #expect([RedisError.Code.unavailable, .connectionClosed, .timeout].contains(error.code), "\(error)")
                        failures += 1
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                #expect(try await client.get("written-after") == "yes", "no write reached a new master within 20 s")
                #expect(failures > 0, "the write after the kill never failed: the kill did not take")
                let newMaster = try await Self.masterPort(client)
                #expect(newMaster != nil && newMaster != oldMaster)
                for key in keys {
                    #expect(try await client.get(key) == key, "a write acknowledged by the replica was lost: \(key)")
                }
                // The subscription moved to the new master too.
                var iterator = messages.makeAsyncIterator()
                #expect(try await TestRedis.eventually(within: .seconds(10)) { (try? await client.publish("here", to: "after")) == 1 })
                #expect(await iterator.next()?.string == "here")
            }
        }
    }

    /// Sentinel's own failover, with the old master alive: it becomes a replica, and the client's
    /// writes (which it then refuses with READONLY, or its connections closed) go to the new master.
    @Test func aDemotedMasterIsLeftForTheNewOne() async throws {
        try await Self.withReplicatedRedis { server, client in
            let sentinelPort = try server.sentinelPorts()[0]
            var direct = RedisConfiguration(port: sentinelPort)
            direct.password = try server.read("sentinel-password")
            let answer = try await TestRedis.withClient(server: server, port: sentinelPort, configure: { $0 = direct }) { sentinel async throws -> RedisValue in
                try await sentinel.send("SENTINEL", "FAILOVER", "skillup")
            }
            #expect(answer == .simpleString("OK"))
            let oldMaster = server.port
            let moved = try await TestRedis.eventually(within: .seconds(20)) { () async -> Bool in
                guard (try? await client.set("moved", to: "1")) != nil, let port = try? await Self.masterPort(client) else { return false }
                return port != oldMaster
            }
            #expect(moved, "the client kept writing to the demoted master")
        }
    }

    @Test func aDurableWriteWithoutAReplicaFails() async throws {
        try await Self.withReplicatedRedis { server, client in
            try await server.crash("redis-replica-1")
            try await server.crash("redis-replica-2")
            let start = ContinuousClock.now
            let error = await #expect(throws: RedisError.self) { try await client.durablePipeline([RedisCommand("SET", "alone", "1")]) }
            #expect(error?.code == .notReplicated)
            #expect(ContinuousClock.now - start < .seconds(2))
            // A write that need not survive a failover still works.
            try await client.set("alone", to: "2")
            #expect(try await client.get("alone") == "2")
        }
    }

    /// The stack's daemons log in as ACL users of their own (scripts/redis-acl): behind Sentinel,
    /// they may send ROLE, and write their own keys durably.
    @Test func aDaemonsACLUserWorksBehindSentinel() async throws {
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("skillup-acl-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: credentials) }
        let acl = try await ChildProcess.run(LocalServer.packageRoot.appendingPathComponent("scripts/redis-acl").path, [credentials])
        #expect(acl.status == 0, "\(acl.output)")
        let aclFile = credentials + "/users.acl"
        try acl.output.write(toFile: aclFile, atomically: true, encoding: .utf8)
        let server = try await LocalServer.startPrivate(.redisReplicated, arguments: [aclFile])
        defer { server.remove() }
        let password = try String(contentsOfFile: credentials + "/redis-password-authd", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let sentinels = try server.sentinelPorts().map { "127.0.0.1:\($0)" }.joined(separator: ",")
        var configuration = try RedisConfiguration(
            url: "redis+sentinel://authd:\(password)@\(sentinels)/skillup?sentinel_password=\(try server.read("sentinel-password"))")
        configuration.commandTimeout = .milliseconds(500)
        let client = RedisClient(configuration: configuration, logger: TestRedis.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            try await waitUntil(within: .seconds(20)) { (try? await client.durablePipeline([RedisCommand("SET", "auth:acl-test", "1")])) != nil }
            #expect(try await client.get("auth:acl-test") == "1")
            await client.shutdown()
        }
    }

    @Test func sentinelURLsParse() throws {
        let configuration = try RedisConfiguration(url: "redis+sentinel://authd:p%40ss@10.0.0.1,10.0.0.2:26380,[::1]:26381/main/2?sentinel_password=s3")
        #expect(configuration.username == "authd")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == 2)
        #expect(configuration.durableReplicas == 1)
        #expect(configuration.sentinel?.masterName == "main")
        #expect(configuration.sentinel?.password == "s3")
        #expect(
            configuration.sentinel?.addresses == [
                RedisAddress(host: "10.0.0.1", port: 26379), RedisAddress(host: "10.0.0.2", port: 26380), RedisAddress(host: "::1", port: 26381),
            ])
        #expect(try RedisConfiguration(url: "redis+sentinel://h/m?durable_replicas=0").durableReplicas == 0)
        #expect(try RedisConfiguration(url: "redis://h?durable_replicas=2").durableReplicas == 2)
        for bad in [
            "redis+sentinel://h", "redis+sentinel://h:0/m", "redis+sentinel://h,/m", "redis+sentinel://h/m/x", "redis+sentinel://h/m?replicas=1",
            "redis://h?durable_replicas=-1",
        ] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }
}
