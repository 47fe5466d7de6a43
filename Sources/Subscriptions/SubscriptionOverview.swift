import Foundation

/// A user's subscription as `GET /api/subscription` shows it: the plan that applies now, where it
/// stands, and what is used and left of each quota.
struct SubscriptionOverview: Sendable, Equatable {
    /// The plan whose limits apply now (`free` without a live subscription).
    let plan: Plan
    /// The subscription row's status (`trial`, `active`, `past_due`, `canceled`, `expired`), or
    /// `none` for a user who never subscribed.
    let status: String
    let periodStart: Date
    let periodEnd: Date
    let cancelAtPeriodEnd: Bool
    let usedToday: Int
    let dayResetsAt: Date
    let usedThisPeriod: Int
    let tasksUnderWay: Int
}
