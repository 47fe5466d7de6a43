import Foundation
import NIOCore
import RedisClient
import TestSupport
import Testing

@Suite("Commands against the shared redis-server", .timeLimit(.minutes(1)))
struct CommandTests {
    @Test func setGetDeleteIncrementExpire() async throws {
        let key = TestRedis.prefix("basic")
        try await TestRedis.withClient { client in
            try await client.set(key + "a", to: "hello")
            #expect(try await client.get(key + "a") == "hello")
            #expect(try await client.increment(key + "n") == 1)
            #expect(try await client.increment(key + "n") == 2)
            #expect(try await client.expire(key + "a", afterSeconds: 60))
            #expect(try await client.send("TTL", key + "a").int ?? 0 > 0)
            #expect(try await client.expire(key + "missing", afterSeconds: 60) == false)
            #expect(try await client.delete(key + "a", key + "n", key + "missing") == 2)
            #expect(try await client.get(key + "a") == nil)
            try await client.set(key + "e", to: "soon", expiresInSeconds: 100)
            #expect(try await client.send("TTL", key + "e").int ?? 0 > 90)
            #expect(try await client.send("PING") == .simpleString("PONG"))
        }
    }

    @Test func binaryValuesRoundTrip() async throws {
        let key = TestRedis.prefix("binary") + "blob"
        let bytes: [UInt8] = [0, 255, 13, 10, 36, 42, 0, 1, 128] + Array(repeating: 7, count: 100_000)
        try await TestRedis.withClient { client in
            try await client.set(key, to: bytes)
            let buffer = try #require(try await client.getBuffer(key))
            #expect(Array(buffer.readableBytesView) == bytes)
            #expect(try await client.send("STRLEN", key) == .integer(Int64(bytes.count)))
        }
    }

    @Test func nilAndArrayReplies() async throws {
        let key = TestRedis.prefix("arrays")
        try await TestRedis.withClient { client in
            #expect(try await client.send("GET", key + "missing").isNil)
            #expect(try await client.send("RPUSH", key + "list", "a", "", "c") == .integer(3))
            let list = try #require(try await client.send("LRANGE", key + "list", 0, -1).array)
            #expect(list.map(\.string) == ["a", "", "c"])
            #expect(try await client.send("LRANGE", key + "none", 0, -1) == .array([]))
            let mixed = try #require(try await client.send("MGET", key + "list", key + "missing").array)
            #expect(mixed.count == 2 && mixed[1].isNil)
        }
    }

    /// An ACL user from the URL (`redis://user:password@...`) is what the server sees: its keys are
    /// limited, and a wrong password connects nobody.
    @Test func anACLUserFromTheURLReachesOnlyItsKeys() async throws {
        let prefix = TestRedis.prefix("acl")
        let user = "test-\(UUID().uuidString.prefix(8))"
        let password = UUID().uuidString
        let port = try LocalServer.sharedPort(.redis)
        _ = try await TestRedis.withClient { admin in
            try await admin.send("ACL", "SETUSER", user, "on", ">\(password)", "~\(prefix)*", "+@all", "-@dangerous")
        }
        try await TestRedis.withClient(configure: { $0 = try! RedisConfiguration(url: "redis://\(user):\(password)@127.0.0.1:\(port)") }) { client in
            try await client.set(prefix + "mine", to: "yes")
            #expect(try await client.get(prefix + "mine") == "yes")
            let refused = await #expect(throws: RedisError.self) { try await client.get("test:redis:someone-else") }
            #expect(refused?.message.hasPrefix("NOPERM") == true)
        }
        try await TestRedis.withClient(configure: { $0 = try! RedisConfiguration(url: "redis://\(user):wrong@127.0.0.1:\(port)") }) { client in
            let refused = await #expect(throws: RedisError.self) { try await client.send("PING") }
            #expect(refused.map { !"\($0)".contains("wrong") } == true, "the password must not appear in errors")
        }
        _ = try await TestRedis.withClient { admin in try await admin.send("ACL", "DELUSER", user) }
    }

    /// `unix://user:password@/path?db=N` connects over the server's unix socket (the stack's
    /// daemons do), with the URL's user and database.
    @Test func aUnixSocketURLConnectsOverTheSocket() async throws {
        let server = try LocalServer.shared(.redis)
        let socket = "\(server.stateDirectory)/redis/redis.sock"
        let key = TestRedis.prefix("unix")
        try await TestRedis.withClient(configure: { $0 = try! RedisConfiguration(url: "unix://default:\(try! server.password())@\(socket)?db=3") }) {
            client in
            let info = try await client.send("CLIENT", "INFO").string ?? ""
            #expect(info.contains("laddr=\(socket)"), "\(info)")
            #expect(info.contains(" db=3 "), "\(info)")
            try await client.set(key, to: "over the socket")
            #expect(try await client.get(key) == "over the socket")
        }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "unix://localhost/redis.sock") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "unix://:6379/redis.sock") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "unix:///redis.sock?database=1") }
    }

    @Test func serverErrorsAreThrownWithTheServerMessage() async throws {
        let key = TestRedis.prefix("errors")
        try await TestRedis.withClient { client in
            try await client.set(key + "text", to: "not a number")
            let notInteger = await #expect(throws: RedisError.self) { try await client.increment(key + "text") }
            #expect(notInteger?.code == .server)
            #expect(notInteger?.message.hasPrefix("ERR") == true)
            let wrongType = await #expect(throws: RedisError.self) { try await client.send("LPUSH", key + "text", "x") }
            #expect(wrongType?.message.hasPrefix("WRONGTYPE") == true)
            let unknown = await #expect(throws: RedisError.self) { try await client.send("NOSUCHCOMMAND") }
            #expect(unknown?.code == .server)
            // The connection stays usable after error replies.
            #expect(try await client.get(key + "text") == "not a number")
        }
    }

    @Test func pipelinedBatchKeepsOrderAndPerCommandErrors() async throws {
        let key = TestRedis.prefix("pipeline")
        try await TestRedis.withClient { client in
            var commands = (0..<500).map { RedisCommand("SET", key + "\($0)", $0) }
            commands.append(RedisCommand("INCR", key + "counter"))
            commands.append(RedisCommand("LPUSH", key + "1", "x"))
            commands += (0..<500).map { RedisCommand("GET", key + "\($0)") }
            let replies = try await client.pipeline(commands)
            #expect(replies.count == 1002)
            #expect(try replies[0].get() == .simpleString("OK"))
            #expect(try replies[500].get() == .integer(1))
            #expect(throws: RedisError.self) { try replies[501].get() }
            for index in 0..<500 {
                #expect(try replies[502 + index].get().int == index)
            }
            #expect(try await client.pipeline([]).isEmpty)
        }
    }

    @Test func concurrentCallsFromManyTasks() async throws {
        let key = TestRedis.prefix("concurrent")
        try await TestRedis.withClient { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<200 {
                    group.addTask {
                        for round in 0..<10 {
                            try await client.increment(key + "shared")
                            try await client.set(key + "own:\(task)", to: "\(task):\(round)")
                            #expect(try await client.get(key + "own:\(task)") == "\(task):\(round)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.get(key + "shared") == "2000")
        }
    }

    @Test func emptyCommandIsRejectedBeforeSending() async throws {
        try await TestRedis.withClient { client in
            let error = await #expect(throws: RedisError.self) { try await client.send(RedisCommand("")) }
            #expect(error?.code == .invalidCommand)
        }
    }
}
