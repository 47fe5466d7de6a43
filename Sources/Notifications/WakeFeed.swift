import Logging
import RedisClient
import ServiceLifecycle

/// Wakes this instance's streams of a user when any instance stored an event of theirs (the
/// history's wake channel), and all of them when the feed was lost and is back, since wakes may
/// have been missed meanwhile; also beats every stream's heartbeat.
struct WakeFeed: Service {
    let redis: RedisClient
    let streams: LiveStreams
    let heartbeat: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await beat() }
                group.addTask { await listen() }
            }
        }
    }

    private func beat() async {
        while !Task.isCancelled {
            // Cancelled at shutdown: the loop then ends.
            try? await Task.sleep(for: heartbeat)
            if !Task.isCancelled { streams.signalAll(.heartbeat) }
        }
    }

    private func listen() async {
        let streams = streams
        let logger = logger
        while !Task.isCancelled {
            do {
                try await redis.subscribe(
                    to: [RedisEventHistory.wakeChannel],
                    onLinkChange: { link in
                        switch link {
                        case .lost: logger.warning("wake-up feed lost; streams catch up at their heartbeat until it is back")
                        case .restored, .messagesDropped: streams.signalAll(.wake)
                        }
                    },
                    onMessage: { message in streams.wake(userID: message.string) }
                ) { messages in
                    // A wake for every stream: events stored before this subscription are read now.
                    streams.signalAll(.wake)
                    for await _ in messages {}
                }
            } catch {
                logger.warning("wake-up feed unavailable", metadata: ["reason": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
