public import NIOCore

/// Typed helpers for the commands the services use most; anything else goes through `send`.
extension RedisClient {
    /// `GET key`: the value as text, or `nil` when the key does not exist.
    public func get(_ key: String) async throws(RedisError) -> String? {
        try await send(RedisCommand("GET", key)).string
    }

    /// `GET key`: the value's bytes, or `nil` when the key does not exist.
    public func getBuffer(_ key: String) async throws(RedisError) -> ByteBuffer? {
        try await send(RedisCommand("GET", key)).buffer
    }

    /// `SET key value [EX seconds]`.
    public func set(_ key: String, to value: some RedisArgument, expiresInSeconds: Int? = nil) async throws(RedisError) {
        var command = RedisCommand("SET", key)
        command.append(value)
        if let expiresInSeconds {
            command.append("EX")
            command.append(expiresInSeconds)
        }
        try await send(command)
    }

    /// `DEL key...`: how many keys existed and were deleted.
    @discardableResult
    public func delete(_ keys: String...) async throws(RedisError) -> Int {
        try await send(RedisCommand("DEL", keys)).int ?? 0
    }

    /// `INCR key`: the value after the increment.
    @discardableResult
    public func increment(_ key: String) async throws(RedisError) -> Int {
        try await send(RedisCommand("INCR", key)).int ?? 0
    }

    /// `EXPIRE key seconds`: whether the key exists (and now expires).
    @discardableResult
    public func expire(_ key: String, afterSeconds seconds: Int) async throws(RedisError) -> Bool {
        try await send(RedisCommand("EXPIRE", key, seconds)).int == 1
    }

    /// `PUBLISH channel message`: how many subscribers received it.
    @discardableResult
    public func publish(_ message: some RedisArgument, to channel: String) async throws(RedisError) -> Int {
        var command = RedisCommand("PUBLISH", channel)
        command.append(message)
        return try await send(command).int ?? 0
    }

    /// Runs a Lua script with `EVALSHA`; when the server answers `NOSCRIPT`, runs it once with
    /// `EVAL`, which also caches it. (`SCRIPT LOAD` then `EVALSHA` would be two calls, and a flush
    /// or failover between them would fail the second.) A `durable` script's writes count as done
    /// only once replicas have them, as ``durablePipeline(_:)``'s do.
    @discardableResult
    public func evaluate(
        _ script: RedisScript,
        keys: [String] = [],
        arguments: [any RedisArgument] = [],
        timeout: Duration? = nil,
        durable: Bool = false
    ) async throws(RedisError) -> RedisValue {
        if durable {
            do {
                return try await durablePipeline([Self.scriptCommand("EVALSHA", script.sha1, keys: keys, arguments: arguments)])[0].get()
            } catch  where error.code == .server && error.message.hasPrefix("NOSCRIPT") {
                return try await durablePipeline([Self.scriptCommand("EVAL", script.source, keys: keys, arguments: arguments)])[0].get()
            }
        }
        do {
            return try await send(Self.scriptCommand("EVALSHA", script.sha1, keys: keys, arguments: arguments), timeout: timeout)
        } catch  where error.code == .server && error.message.hasPrefix("NOSCRIPT") {
            return try await send(Self.scriptCommand("EVAL", script.source, keys: keys, arguments: arguments), timeout: timeout)
        }
    }

    private static func scriptCommand(_ name: String, _ script: String, keys: [String], arguments: [any RedisArgument]) -> RedisCommand {
        var command = RedisCommand(name, script, keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        return command
    }
}
