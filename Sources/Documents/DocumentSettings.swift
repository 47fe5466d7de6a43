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
        var url = reader.string(forKey: "public.url", default: "https://localhost:8443")
        while url.hasSuffix("/") { url.removeLast() }
        publicURL = url
    }
}
