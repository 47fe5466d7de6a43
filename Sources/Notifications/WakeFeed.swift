import Contracts
import Logging
import RedisClient
import ServiceLifecycle

/// Wakes this instance's streams of a user when any instance stored an event of theirs (the
/// history's wake channel), and all of them when the feed was lost and is back, since wakes may
/// have been missed meanwhile; closes the streams of a session authd revoked, or of a user it
/// blocked (its `auth:revocations` feed); and beats every stream's heartbeat.
struct WakeFeed: Service {
    let redis: RedisClient
    let streams: LiveStreams
    let heartbeat: Duration
    let logger: Logger

    func run() async throws {
        // Users whose `user` message came, checked one at a time in the order they came.
        let (blockChecks, pending) = AsyncStream<String>.makeStream()
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await beat() }
                group.addTask { await listen(blockChecks: pending) }
                group.addTask {
                    for await userID in blockChecks { await closeIfBlocked(userID) }
                }
            }
        }
    }

    /// Each stream's heartbeat once per `heartbeat`, the streams in slices a second apart (up to
    /// 60), so that 10,000 streams do not all write at the same moment.
    private func beat() async {
        let slices = min(max(Int((heartbeat / .seconds(1)).rounded(.down)), 1), 60)
        var slice = 0
        while !Task.isCancelled {
            // Cancelled at shutdown: the loop then ends.
            try? await Task.sleep(for: heartbeat / slices)
            if !Task.isCancelled { streams.beat(slice: slice, of: slices) }
            slice = (slice + 1) % slices
        }
    }

    private func listen(blockChecks: AsyncStream<String>.Continuation) async {
        let streams = streams
        let logger = logger
        while !Task.isCancelled {
            do {
                try await redis.subscribe(
                    to: [RedisEventHistory.wakeChannel, SharedKeys.revocationChannel],
                    onLinkChange: { link in
                        switch link {
                        case .lost: logger.warning("wake-up feed lost; every stream reads its history when it is back")
                        case .restored, .messagesDropped: streams.wakeAll()
                        }
                    },
                    onMessage: { message in
                        if message.channel == SharedKeys.revocationChannel {
                            revoke(message.string, blockChecks: blockChecks)
                        } else if let wake = Wake(message.string) {
                            streams.wake(userID: wake.userID, bytes: wake.bytes)
                        }
                    }
                ) { messages in
                    // A wake for every stream: events stored before this subscription are read now.
                    streams.wakeAll()
                    for await _ in messages {}
                }
            } catch {
                logger.warning("wake-up feed unavailable", metadata: ["reason": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// `session <id>`: that session (or API key) was revoked, and its streams close at once.
    /// `user <id>`: the user was blocked, unblocked, or changed scopes or tier; their streams close
    /// only if they are blocked now.
    private func revoke(_ message: String, blockChecks: AsyncStream<String>.Continuation) {
        let parts = message.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return }
        switch parts[0] {
        case "session": streams.close(sessionID: parts[1])
        case "user": blockChecks.yield(parts[1])
        default: break
        }
    }

    private func closeIfBlocked(_ userID: String) async {
        do {
            if try await redis.get(SharedKeys.blocked(userID: userID)) != nil { streams.close(userID: userID) }
        } catch {
            logger.warning("could not tell whether a user is blocked", metadata: ["user": "\(userID)", "reason": "\(error)"])
        }
    }
}

/// A message of the history's wake channel: `<user id> <bytes>`, or the bare user id that an
/// instance of an earlier version sends during a rolling upgrade (its size then counts as 0).
struct Wake: Equatable {
    let userID: String
    let bytes: Int

    init?(_ message: String) {
        let parts = message.split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else { return nil }
        let bytes = parts.count == 2 ? Int(parts[1]) : 0
        guard let bytes, bytes >= 0 else { return nil }
        userID = String(parts[0])
        self.bytes = bytes
    }
}
