import Foundation
import ServiceKit

/// docsd's own settings, read (and checked) before anything connects.
struct DocumentSettings: Sendable {
    /// The internal API for aid (`internal.listen`): a unix socket of its own that nginx never
    /// routes to. Without it aid cannot save generations or read profiles.
    var internalListen: ListenAddress?
    /// subscribed's entitlement sockets, for the plans' document limits (`entitlements.sockets`,
    /// comma-separated, asked in turn).
    var entitlementSockets: [String]
    /// authd's accounts sockets, to find whom a document is shared with by email (`authd.sockets`,
    /// comma-separated, asked in turn).
    var authdSockets: [String]
    /// How long the plans' limits are kept before they are asked again (`plans.refresh`, seconds).
    var plansRefresh: Duration
    /// How long a deleted document waits in the trash (`trash.keep`, seconds; 30 days).
    var trashKeep: TimeInterval
    /// How often the trash is emptied of what is older than that (`trash.purge-interval`, seconds).
    var purgeInterval: Duration
    /// The gateway's public URL, for the share links docsd hands out (`public.url`).
    var publicURL: String
    /// The read listener (`reads.listen`) that nginx sends `GET /api/documents` and
    /// `GET /api/documents/{id}` to; without it the Hummingbird listener answers them.
    var readsListen: ListenAddress?
    /// Its event-loop threads (`reads.threads`): one writes kept answers faster than nginx asks.
    var readsThreads: Int
    /// How many bytes of encoded answers the read cache keeps (`cache.bytes`, 64 MiB); 0 keeps none.
    var cacheBytes: Int
    /// How long an answer is kept at most (`cache.lifetime`, seconds): a bound on staleness should
    /// PostgreSQL's notifications ever stop without the listener noticing.
    var cacheLifetime: Duration

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        internalListen = try reader.string(forKey: "internal.listen").map { try ListenAddress(parsing: $0) }
        // Its callers name any user and plan in the body: only a socket in a folder of aid's may serve it.
        if let address = internalListen, case .tcp = address {
            throw ConfigurationError(
                key: "internal.listen", message: "must be a unix socket (unix:/path.sock): the internal API trusts the user its caller names")
        }
        entitlementSockets = reader.stringArray(forKey: "entitlements.sockets", default: []).filter { !$0.isEmpty }
        guard entitlementSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "entitlements.sockets", message: "must be absolute paths of subscribed's entitlement sockets")
        }
        authdSockets = reader.stringArray(forKey: "authd.sockets", default: []).filter { !$0.isEmpty }
        guard authdSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "authd.sockets", message: "must be absolute paths of authd's accounts sockets")
        }
        plansRefresh = .seconds(reader.double(forKey: "plans.refresh", default: 60))
        guard plansRefresh > .zero else { throw ConfigurationError(key: "plans.refresh", message: "must be positive seconds") }
        trashKeep = reader.double(forKey: "trash.keep", default: 30 * 86_400)
        guard trashKeep >= 60 else { throw ConfigurationError(key: "trash.keep", message: "must be at least 60 seconds") }
        purgeInterval = .seconds(reader.double(forKey: "trash.purge-interval", default: 3600))
        guard purgeInterval > .zero else { throw ConfigurationError(key: "trash.purge-interval", message: "must be positive seconds") }
        readsListen = try reader.string(forKey: "reads.listen").map { try ListenAddress(parsing: $0) }
        readsThreads = reader.int(forKey: "reads.threads", default: 1)
        guard (1...64).contains(readsThreads) else { throw ConfigurationError(key: "reads.threads", message: "must be 1 to 64") }
        cacheBytes = reader.int(forKey: "cache.bytes", default: 64 << 20)
        guard cacheBytes >= 0 else { throw ConfigurationError(key: "cache.bytes", message: "must be 0 (keep nothing) or more bytes") }
        cacheLifetime = .seconds(reader.double(forKey: "cache.lifetime", default: 60))
        guard cacheLifetime > .zero else { throw ConfigurationError(key: "cache.lifetime", message: "must be positive seconds") }
        var url = reader.string(forKey: "public.url", default: "https://localhost:8443")
        while url.hasSuffix("/") { url.removeLast() }
        publicURL = url
    }
}
