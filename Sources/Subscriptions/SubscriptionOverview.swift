import Contracts
public import Foundation

/// A user's subscription as `GET /api/subscription` shows it: the plan that applies now, where it
/// stands, and what is used and left of each quota.
public struct SubscriptionOverview: Sendable, Equatable {
    /// The plan whose limits apply now (`free` without a live subscription).
    public let plan: Plan
    /// The subscription row's status (`trial`, `active`, `past_due`, `canceled`, `expired`), or
    /// `none` for a user who never subscribed.
    public let status: String
    public let periodStart: Date
    public let periodEnd: Date
    public let cancelAtPeriodEnd: Bool
    public let usedToday: Int
    public let dayResetsAt: Date
    public let usedThisPeriod: Int
    public let tasksUnderWay: Int
    /// The plan the subscription moves to at its period end, when the user chose a cheaper one.
    public var scheduledPlan: String? = nil

    /// What the subscription becomes at its period end, when the user asked for a change: `free`
    /// after a cancel, or the plan they moved to; nil when it goes on as it is.
    public var next: String? {
        guard ["trial", "active", "past_due"].contains(status) else { return nil }
        return cancelAtPeriodEnd ? Tier.free : scheduledPlan
    }
}
