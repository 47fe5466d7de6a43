import RedisClient
import Testing

@Suite("Lua scripts against the shared redis-server", .serialized, .timeLimit(.minutes(1)))
struct ScriptTests {
    static let incrementBy = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")

    @Test func digestMatchesTheServers() async throws {
        try await TestRedis.withClient { client in
            let loaded = try await client.send("SCRIPT", "LOAD", Self.incrementBy.source)
            #expect(loaded.string == Self.incrementBy.sha1)
            #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        }
    }

    @Test func evalshaReloadsTransparentlyAfterScriptFlush() async throws {
        let key = TestRedis.prefix("script") + "counter"
        try await TestRedis.withClient { client in
            #expect(try await client.evaluate(Self.incrementBy, keys: [key], arguments: [5]) == .integer(5))
            try await client.send("SCRIPT", "FLUSH")
            #expect(try await client.send("SCRIPT", "EXISTS", Self.incrementBy.sha1) == .array([.integer(0)]))
            #expect(try await client.evaluate(Self.incrementBy, keys: [key], arguments: [2]) == .integer(7))
            #expect(try await client.send("SCRIPT", "EXISTS", Self.incrementBy.sha1) == .array([.integer(1)]))
        }
    }

    @Test func scriptErrorsAreThrown() async throws {
        try await TestRedis.withClient { client in
            let error = await #expect(throws: RedisError.self) {
                try await client.evaluate(RedisScript("return redis.error_reply('BAD nope')"))
            }
            #expect(error?.code == .server && error?.message.hasPrefix("BAD nope") == true, "\(String(describing: error))")
        }
    }
}
