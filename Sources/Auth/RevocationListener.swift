import Contracts
import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// What an instance keeps only while it hears the feed: its validation cache and the tokens
/// announced to it. Both are emptied and off while the feed is down.
struct FeedState: Sendable {
    let cache: ValidationCache
    let announced: AnnouncedTokens

    func reset(enabled: Bool) {
        cache.reset(enabled: enabled)
        announced.reset(enabled: enabled)
    }

    /// A message of `auth:tokens` (an announcement) or `auth:revocations` (`session <id>` or
    /// `user <id>`: what it names is forgotten).
    func apply(channel: String, message: String, logger: Logger) {
        if channel == RedisTokenRegistry.announcementChannel {
            announced.hear(announcement: message)
            return
        }
        let parts = message.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else {
            logger.warning("unknown revocation message; flushing the cache")
            reset(enabled: cache.isEnabled)
            return
        }
        // The announced tokens first: a validation that found one before this bumps the cache's
        // generation is then refused a place in the cache by the eviction below.
        announced.hear(revocationOf: parts[1], now: Date().timeIntervalSince1970)
        cache.evict(sessionOrUser: String(parts[1]))
    }

    /// A session or API key revoked by this instance takes effect here at once, not when its own
    /// message comes back on the feed.
    func revokeHere(_ sessionOrKeyID: String) {
        announced.hear(ownRevocationOf: sessionOrKeyID, now: Date().timeIntervalSince1970)
        cache.evict(sessionOrUser: sessionOrKeyID)
    }
}

/// Keeps this instance's validation cache and announced tokens in step with what any instance
/// records and revokes.
///
/// Subscribed to `auth:tokens` and `auth:revocations`, it takes announcements and evicts the named
/// session or user at once. Both are enabled only while the subscription is live: before the first
/// subscription, from the moment the link is lost until it is restored (then flushed, since messages
/// may have been missed), and while subscribing fails, they are empty and every request goes to Redis.
struct RevocationListener: Service {
    let redis: RedisClient
    let state: FeedState
    let logger: Logger

    func run() async throws {
        let state = state
        let logger = logger
        // Whether the link is up, changed under one lock with the state's switch, so that a loss
        // reported just before the subscription body starts is never overridden by it.
        let linkUp = Mutex(false)
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                linkUp.withLock { $0 = true }
                do {
                    try await redis.subscribe(
                        to: [RedisTokenRegistry.announcementChannel, SharedKeys.revocationChannel],
                        onLinkChange: { link in
                            linkUp.withLock { up in
                                switch link {
                                case .lost:
                                    up = false
                                    state.reset(enabled: false)
                                    logger.warning("revocation feed lost; validation cache off until it is back")
                                case .restored:
                                    up = true
                                    state.reset(enabled: true)
                                    logger.notice("revocation feed restored; validation cache on")
                                case .messagesDropped:
                                    state.reset(enabled: up)
                                    logger.warning("revocation messages dropped; validation cache flushed")
                                }
                            }
                        },
                        onMessage: { message in
                            // On Redis' event loop: a revocation never waits for a busy task pool.
                            state.apply(channel: message.channel, message: message.string, logger: logger)
                        }
                    ) { messages in
                        linkUp.withLock { up in if up { state.reset(enabled: true) } }
                        logger.info(
                            "revocation feed subscribed", metadata: ["entries": "\(state.cache.capacity)", "announced": "\(state.announced.capacity)"])
                        // Messages go to onMessage; this sequence ends when the client shuts down.
                        for await _ in messages {}
                    }
                } catch {
                    logger.warning("revocation feed unavailable; validation cache off", metadata: ["reason": "\(error)"])
                }
                linkUp.withLock { up in
                    up = false
                    state.reset(enabled: false)
                }
                // Cancelled at shutdown: the loop then ends without an error.
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
