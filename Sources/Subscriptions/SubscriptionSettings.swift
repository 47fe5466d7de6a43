public import Foundation
import ServiceKit

/// subscribed's own settings, read (and checked) before anything connects.
public struct SubscriptionSettings: Sendable {
    /// `subscriptions.grace` unless set: 3 days.
    public static let defaultGrace: TimeInterval = 3 * 86_400

    /// The listener of the entitlement API for aid (`entitlements.listen`): a unix socket of its own
    /// that nginx never routes to. Without it the API is not served.
    var entitlementsListen: ListenAddress?
    /// How long a subscription past its period end keeps its plan, past due, before its user falls
    /// back to free (`subscriptions.grace`, seconds; 3 days).
    var grace: TimeInterval
    /// How often tiers that Redis does not hold yet are written again (`tiers.interval`, seconds).
    var tierInterval: TimeInterval
    /// How often subscriptions are moved along with time (`subscriptions.check`, seconds).
    var checkInterval: TimeInterval

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        entitlementsListen = try reader.string(forKey: "entitlements.listen").map { try ListenAddress(parsing: $0) }
        grace = reader.double(forKey: "subscriptions.grace", default: Self.defaultGrace)
        tierInterval = reader.double(forKey: "tiers.interval", default: 1)
        guard tierInterval > 0 else { throw ConfigurationError(key: "tiers.interval", message: "must be positive seconds") }
        checkInterval = reader.double(forKey: "subscriptions.check", default: 60)
        guard checkInterval > 0 else { throw ConfigurationError(key: "subscriptions.check", message: "must be positive seconds") }
        guard grace >= 0 else { throw ConfigurationError(key: "subscriptions.grace", message: "must be zero or positive seconds") }
    }
}
