import NIOCore
import NIOPosix

/// Asks the Sentinels, in their order, where the master is now: the first Sentinel that answers
/// names it. Nothing is remembered between connects, so a connection lost in a failover asks again.
enum SentinelLookup {
    static func master(
        _ sentinel: RedisSentinel, connectTimeout: Duration, commandTimeout: Duration, on eventLoop: any EventLoop
    ) -> EventLoopFuture<RedisAddress> {
        ask(from: sentinel.addresses[...], reasons: [], sentinel: sentinel, connectTimeout: connectTimeout, commandTimeout: commandTimeout, on: eventLoop)
    }

    /// Asks the first of `remaining`, then the next on failure; fails naming every Sentinel's reason.
    private static func ask(
        from remaining: ArraySlice<RedisAddress>, reasons: [String], sentinel: RedisSentinel,
        connectTimeout: Duration, commandTimeout: Duration, on eventLoop: any EventLoop
    ) -> EventLoopFuture<RedisAddress> {
        guard let address = remaining.first else {
            return eventLoop.makeFailedFuture(
                RedisError(.unavailable, "no Sentinel named the master '\(sentinel.masterName)' (\(reasons.joined(separator: "; ")))"))
        }
        return ask(address, sentinel: sentinel, connectTimeout: connectTimeout, commandTimeout: commandTimeout, on: eventLoop)
            .flatMapError { error in
                let reason = (error as? RedisError)?.message ?? "Sentinel \(address): \(error)"
                return ask(
                    from: remaining.dropFirst(), reasons: reasons + [reason], sentinel: sentinel,
                    connectTimeout: connectTimeout, commandTimeout: commandTimeout, on: eventLoop)
            }
    }

    private static func ask(
        _ address: RedisAddress, sentinel: RedisSentinel, connectTimeout: Duration, commandTimeout: Duration, on eventLoop: any EventLoop
    ) -> EventLoopFuture<RedisAddress> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: nil))
                }
            }
            .connect(host: address.host, port: address.port)
            .flatMap { channel in
                let answer = eventLoop.makePromise(of: RedisValue.self)
                do {
                    let handler = try channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self)
                    var payload = ByteBuffer()
                    var count = 1
                    if let password = sentinel.password {
                        try CommandEncoder.encode(RedisCommand("AUTH", password), into: &payload)
                        count += 1
                    }
                    try CommandEncoder.encode(RedisCommand("SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel.masterName), into: &payload)
                    handler.send(PendingCommand(payload: payload, expectedReplies: count, isBatch: true, timeout: commandTimeout, promise: answer))
                } catch {
                    answer.fail(error)
                }
                return answer.futureResult
                    .flatMapThrowing { replies in try master(in: replies, from: address, named: sentinel.masterName) }
                    .always { _ in channel.close(promise: nil) }
            }
    }

    /// The `[host, port]` answer, after an `AUTH` that must have passed.
    private static func master(in replies: RedisValue, from sentinel: RedisAddress, named name: String) throws(RedisError) -> RedisAddress {
        let values = replies.array ?? []
        for case .error(let message) in values {
            throw RedisError(.unavailable, "Sentinel \(sentinel) refused: \(message)")
        }
        guard let pair = values.last?.array, pair.count == 2, let host = pair[0].string, let port = pair[1].int else {
            throw RedisError(.unavailable, "Sentinel \(sentinel) knows no master named '\(name)'")
        }
        return RedisAddress(host: host, port: port)
    }
}
