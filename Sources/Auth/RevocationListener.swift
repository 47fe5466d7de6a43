import Contracts
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Keeps this instance's validation cache in step with revocations made on any instance.
///
/// Subscribed to `auth:revocations`, it evicts the named session or user at once. The cache is
/// enabled only while the subscription is live: before the first subscription, from the moment
/// the link is lost until it is restored (then flushed, since messages may have been missed), and
/// while subscribing fails, the cache is empty and every request goes to Redis.
struct RevocationListener: Service {
    let redis: RedisClient
    let cache: ValidationCache
    let logger: Logger

    init(redis: RedisClient, cache: ValidationCache, logger: Logger) {
        self.redis = redis
        self.cache = cache
        self.logger = logger
    }

    func run() async throws {
        let cache = cache
        let logger = logger
        // Whether the link is up, changed under one lock with the cache switch, so that a loss
        // reported just before the subscription body starts is never overridden by it.
        let linkUp = Mutex(false)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                linkUp.withLock { $0 = true }
                do {
                    try await redis.subscribe(
                        to: [SharedKeys.revocationChannel],
                        onLinkChange: { link in
                            linkUp.withLock { up in
                                switch link {
                                case .lost:
                                    up = false
                                    cache.reset(enabled: false)
                                    logger.warning("revocation feed lost; validation cache off until it is back")
                                case .restored:
                                    up = true
                                    cache.reset(enabled: true)
                                    logger.notice("revocation feed restored; validation cache on")
                                case .messagesDropped:
                                    cache.reset(enabled: up)
                                    logger.warning("revocation messages dropped; validation cache flushed")
                                }
                            }
                        },
                        onMessage: { message in
                            // On Redis' event loop: a revocation never waits for a busy task pool.
                            Self.apply(message.string, to: cache, logger: logger)
                        }
                    ) { messages in
                        linkUp.withLock { up in if up { cache.reset(enabled: true) } }
                        logger.info("revocation feed subscribed", metadata: ["entries": "\(cache.capacity)"])
                        // Messages go to onMessage; this sequence ends when the client shuts down.
                        for await _ in messages {}
                    }
                } catch {
                    logger.warning("revocation feed unavailable; validation cache off", metadata: ["reason": "\(error)"])
                }
                linkUp.withLock { up in
                    up = false
                    cache.reset(enabled: false)
                }
                // Cancelled at shutdown: the loop then ends without an error.
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Evicts cached answers named by a revocation message (`session <id>` or `user <id>`).
    static func apply(_ message: String, to cache: ValidationCache, logger: Logger) {
        let parts = message.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else {
            logger.warning("unknown revocation message; flushing the cache")
            cache.reset(enabled: cache.isEnabled)
            return
        }
        cache.evict(sessionOrUser: String(parts[1]))
    }
}
