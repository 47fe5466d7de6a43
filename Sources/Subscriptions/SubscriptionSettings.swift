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
    /// How long a reservation neither settled nor released counts as a task under way
    /// (`reservations.ttl`, seconds; an hour): its caller crashed, or gave up before the answer.
    var openReservationTTL: TimeInterval
    /// When a reservation still open is taken for abandoned and released, its units given back
    /// (`reservations.release-after`, seconds; a day): longer than any generation or task may wait.
    var releaseAbandonedAfter: TimeInterval
    /// When a balance hold still open is taken for abandoned and released, its bound given back
    /// uncharged (`balances.hold-release-after`, seconds; 15 minutes): longer than any `/v1`
    /// request may take, and short, since the hold keeps the team's money from its other requests.
    var releaseAbandonedHoldsAfter: TimeInterval
    /// How often subscriptions are moved along with time (`subscriptions.check`, seconds).
    var checkInterval: TimeInterval

    /// The payment provider's webhook secret (`webhook.secret`, a credential file `webhook-secret`
    /// under systemd): without it, webhooks and checkout are refused with 503.
    var webhookSecret: [UInt8]?
    /// Checkout through the test provider, which pays at once (`checkout.test`): the local
    /// stack's; never on a real installation.
    var testCheckout: Bool
    /// The gateway's public URL, for the links subscribed hands out (`public.url`).
    var publicURL: String

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        webhookSecret = reader.string(forKey: "webhook.secret", isSecret: true).map { Array($0.utf8) }
        if let secret = webhookSecret, secret.count < 32 {
            throw ConfigurationError(key: "webhook.secret", message: "must be at least 32 characters")
        }
        testCheckout = reader.bool(forKey: "checkout.test", default: false)
        publicURL = reader.string(forKey: "public.url", default: "https://localhost:8443")
        entitlementsListen = try reader.string(forKey: "entitlements.listen").map { try ListenAddress(parsing: $0) }
        grace = reader.double(forKey: "subscriptions.grace", default: Self.defaultGrace)
        tierInterval = reader.double(forKey: "tiers.interval", default: 1)
        guard tierInterval > 0 else { throw ConfigurationError(key: "tiers.interval", message: "must be positive seconds") }
        openReservationTTL = reader.double(forKey: "reservations.ttl", default: 3600)
        guard openReservationTTL > 0 else { throw ConfigurationError(key: "reservations.ttl", message: "must be positive seconds") }
        releaseAbandonedAfter = reader.double(forKey: "reservations.release-after", default: 86400)
        guard releaseAbandonedAfter >= openReservationTTL else {
            throw ConfigurationError(key: "reservations.release-after", message: "must be at least reservations.ttl")
        }
        releaseAbandonedHoldsAfter = reader.double(forKey: "balances.hold-release-after", default: 900)
        guard releaseAbandonedHoldsAfter > 0 else { throw ConfigurationError(key: "balances.hold-release-after", message: "must be positive seconds") }
        checkInterval = reader.double(forKey: "subscriptions.check", default: 60)
        guard checkInterval > 0 else { throw ConfigurationError(key: "subscriptions.check", message: "must be positive seconds") }
        guard grace >= 0 else { throw ConfigurationError(key: "subscriptions.grace", message: "must be zero or positive seconds") }
    }
}
