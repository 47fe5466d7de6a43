import NIOCore
import ServiceKit

/// aid's own settings, read (and checked) before anything connects.
struct GenerationSettings: Sendable {
    /// subscribed's entitlement sockets (`entitlements.sockets`, paths, comma-separated): every
    /// generation is reserved there first, so aid does not start without one.
    var entitlementSockets: [String]
    /// How long one entitlement call to one instance may take (`entitlements.timeout`, seconds).
    var entitlementTimeout: TimeAmount
    /// The offline engine (`engine.offline.latency` seconds per answer, `engine.offline.words` per
    /// piece, `engine.offline.fail`: never, always, after:N pieces, or first:N calls).
    var offline: OfflineEngine
    /// How often aid's outbox relay looks for task messages not yet published
    /// (`relay.interval`, seconds); a new task is relayed at once.
    var relayInterval: Duration

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        entitlementSockets = reader.stringArray(forKey: "entitlements.sockets", default: []).filter { !$0.isEmpty }
        guard !entitlementSockets.isEmpty, entitlementSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "entitlements.sockets", message: "must name subscribed's entitlement sockets, as absolute paths")
        }
        let timeout = reader.double(forKey: "entitlements.timeout", default: 2)
        guard timeout > 0 else { throw ConfigurationError(key: "entitlements.timeout", message: "must be positive seconds") }
        entitlementTimeout = .milliseconds(Int64(timeout * 1000))
        let latency = reader.double(forKey: "engine.offline.latency", default: 0)
        guard latency >= 0 else { throw ConfigurationError(key: "engine.offline.latency", message: "must be zero or positive seconds") }
        let words = reader.int(forKey: "engine.offline.words", default: 4)
        guard words > 0 else { throw ConfigurationError(key: "engine.offline.words", message: "must be a positive number of words") }
        let failureText = reader.string(forKey: "engine.offline.fail", default: "never")
        let failure: OfflineEngine.Failure
        switch failureText {
        case "never": failure = .never
        case "always": failure = .always
        case let text where text.hasPrefix("after:"):
            guard let pieces = Int(text.dropFirst("after:".count)), pieces >= 0 else { fallthrough }
            failure = .afterPieces(pieces)
        case let text where text.hasPrefix("first:"):
            guard let calls = Int(text.dropFirst("first:".count)), calls >= 0 else { fallthrough }
            failure = .firstCalls(calls)
        default:
            throw ConfigurationError(
                key: "engine.offline.fail", message: "must be never, always, after:N (pieces) or first:N (calls), not '\(failureText)'")
        }
        let relay = reader.double(forKey: "relay.interval", default: 1)
        guard relay > 0 else { throw ConfigurationError(key: "relay.interval", message: "must be positive seconds") }
        relayInterval = .milliseconds(Int64(relay * 1000))
        offline = OfflineEngine(latency: .milliseconds(Int64(latency * 1000)), wordsPerPiece: words, failure: failure)
    }

    /// subscribed's entitlement API over its sockets.
    func entitlements() -> SubscribedEntitlements {
        SubscribedEntitlements(sockets: entitlementSockets, timeout: entitlementTimeout)
    }
}
