public import Foundation

/// A user's subscription row, as the admin sees it.
public struct SubscriptionRecord: Sendable, Equatable {
    public let userID: String
    public let plan: String
    /// `trial`, `active`, `past_due`, `canceled` or `expired`.
    public let status: String
    public let periodStart: Date
    public let periodEnd: Date
    public let cancelAtPeriodEnd: Bool
    /// The plan it moves to at its period end (a user's move to a cheaper plan).
    public var scheduledPlan: String? = nil
}

/// What an admin, or the user themselves, does to a subscription.
public enum SubscriptionChange: Sendable, Equatable {
    /// A new period of `days` on `plan` from now, active (or a trial); replaces what was there.
    case grant(plan: String, days: Int, trial: Bool)
    /// Another plan for the rest of the current period.
    case changePlan(String)
    /// Ends it now, or lets it run to its period end.
    case cancel(atPeriodEnd: Bool)
    /// Moves the period end `days` later; a past-due subscription becomes active again.
    case extend(days: Int)
    /// Moves it to another plan at its period end (and drops a cancel at period end).
    case changeAtPeriodEnd(String)
    /// Keeps it as it is past its period end: drops a cancel or a plan change waiting for it.
    case resume

    /// The audit trail's name for the change.
    var action: String {
        switch self {
        case .grant: "grant"
        case .changePlan: "change"
        case .cancel: "cancel"
        case .extend: "extend"
        case .changeAtPeriodEnd: "change_at_period_end"
        case .resume: "resume"
        }
    }
}

/// A change that cannot apply, said in words an admin can act on.
struct SubscriptionChangeRefused: Error, Equatable, CustomStringConvertible {
    enum Reason: String, Sendable {
        case unknownPlan = "unknown_plan"
        case noLiveSubscription = "no_live_subscription"
        case invalidDays = "invalid_days"
        /// Resume with nothing waiting for the period end.
        case nothingToResume = "nothing_to_resume"
        /// A move to the plan the subscription is on.
        case samePlan = "same_plan"
        /// A user's change that would undo an admin's cancel.
        case canceledByAdmin = "canceled_by_admin"
        /// A move at the period's end for a subscription whose period has ended (past due).
        case periodEnded = "period_ended"
    }

    let reason: Reason
    let description: String
}
