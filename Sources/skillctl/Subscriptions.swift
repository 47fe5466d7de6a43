import ArgumentParser
import Auth
import Foundation
import Subscriptions

/// Plans, as `billing.plans` holds them.
struct Plans: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the plans and their limits.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every plan with its price, limits and features.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let plans = try await database.withClient { postgres in try await SubscriptionAdmin.plans(postgres: postgres) }
            let rows = plans.map { plan in
                [
                    plan.code, String(format: "%d.%02d %@", plan.priceCents / 100, plan.priceCents % 100, plan.currency), String(plan.requestsPerMinute),
                    String(plan.generationsPerDay), String(plan.generationsPerMonth), String(plan.maxOutputTokens), String(plan.tasksAtOnce),
                    plan.cachedAnswersCount ? "yes" : "no", plan.features.joined(separator: " "),
                ]
            }
            print(
                Table.render(
                    ["code", "price", "requests/min", "per day", "per period", "max tokens", "at once", "cached count", "features"], rows))
        }
    }
}

/// A user's subscription: show it, grant one, change its plan, cancel or extend it. Each change is
/// audited with the admin's name, and the new tier reaches X-Tier through the gateway within a second.
struct Subscriptions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, grant, change, cancel or extend a user's subscription.",
        subcommands: [Show.self, Grant.self, Change.self, Cancel.self, Extend.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a user's subscription as GET /api/subscription shows it: the plan that applies now, its period and usage.")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            let (overview, record, userID) = try await servers.withSubscriptions(email: email) { admin, userID in
                (try await admin.overview(userID: userID), try await admin.subscription(userID: userID), userID)
            }
            print(Subscriptions.describe(overview, record: record, email: email, userID: userID))
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a user a plan for a new period from now (replaces the current one).")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String
        @Argument(help: "The plan's code (skillctl plans list).") var plan: String
        @Option(help: "Length of the period in days.") var days = 30
        @Flag(help: "Start it as a trial.") var trial = false

        func run() async throws {
            try await servers.changeSubscription(.grant(plan: plan, days: days, trial: trial), email: email, by: actor.name)
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a live subscription to another plan for the rest of its period.")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String
        @Argument(help: "The new plan's code.") var plan: String

        func run() async throws {
            try await servers.changeSubscription(.changePlan(plan), email: email, by: actor.name)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a subscription now, or at the end of its period.")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String
        @Flag(help: "Let it run to the end of its period.") var atPeriodEnd = false

        func run() async throws {
            try await servers.changeSubscription(.cancel(atPeriodEnd: atPeriodEnd), email: email, by: actor.name)
        }
    }

    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a live subscription's period end later.")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String
        @Option(help: "Days to add.") var days: Int

        func run() async throws {
            try await servers.changeSubscription(.extend(days: days), email: email, by: actor.name)
        }
    }

    /// A subscription row after a change.
    static func describe(_ record: SubscriptionRecord, email: String) -> String {
        """
        user:     \(email) (\(record.userID))
        plan:     \(record.plan)
        status:   \(record.status)\(record.cancelAtPeriodEnd ? ", cancels at period end" : "")
        period:   \(record.periodStart.ISO8601Format()) to \(record.periodEnd.ISO8601Format())
        """
    }

    /// What applies to a user now, as `GET /api/subscription` says it, and the subscription row
    /// behind it (a canceled or expired row leaves its user on free).
    static func describe(_ overview: SubscriptionOverview, record: SubscriptionRecord?, email: String, userID: String) -> String {
        let plan = overview.plan
        let row = record.map { record in
            "\(record.plan), \(record.status)\(record.cancelAtPeriodEnd ? " (cancels at period end)" : ""), "
                + "\(record.periodStart.ISO8601Format()) to \(record.periodEnd.ISO8601Format())"
        }
        return """
            user:          \(email) (\(userID))
            plan:          \(plan.code) (applies now)
            status:        \(overview.status)\(overview.cancelAtPeriodEnd ? ", cancels at period end" : "")
            period:        \(overview.periodStart.ISO8601Format()) to \(overview.periodEnd.ISO8601Format())
            today:         \(overview.usedToday) of \(plan.generationsPerDay) used, resets \(overview.dayResetsAt.ISO8601Format())
            this period:   \(overview.usedThisPeriod) of \(plan.generationsPerMonth) used, resets \(overview.periodEnd.ISO8601Format())
            tasks:         \(overview.tasksUnderWay) under way of \(plan.tasksAtOnce)
            subscription:  \(row ?? "none (free for the calendar month)")\(overview.next.map { "\nnext:          \($0) from \(overview.periodEnd.ISO8601Format())" } ?? "")
            """
    }
}

extension ServerOptions {
    /// subscribed's `subscriptions.grace`, from `SUBSCRIPTIONS_GRACE` as the daemons read it: the
    /// tier skillctl writes must be the one subscribed would.
    static func grace() throws -> TimeInterval {
        guard let text = ProcessInfo.processInfo.environment["SUBSCRIPTIONS_GRACE"] else { return SubscriptionSettings.defaultGrace }
        guard let seconds = TimeInterval(text), seconds >= 0 else {
            throw CommandFailure("SUBSCRIPTIONS_GRACE must be zero or positive seconds, as subscribed's subscriptions.grace")
        }
        return seconds
    }

    /// Applies `change` to the subscription of `email`'s account and prints the result.
    func changeSubscription(_ change: SubscriptionChange, email: String, by admin: String) async throws {
        let record = try await withSubscriptions(email: email) { subscriptions, userID in try await subscriptions.apply(change, userID: userID, by: admin) }
        print(Subscriptions.describe(record, email: email))
    }

    /// The subscription admin and the user id of `email`, for `body`.
    func withSubscriptions<T>(email: String, _ body: (SubscriptionAdmin, String) async throws -> T) async throws -> T {
        try await withServers { postgres, redis in
            guard let account = try await AccountAdmin(postgres: postgres, redis: redis).account(email: email) else {
                throw CommandFailure("no account with email \(email)")
            }
            return try await body(SubscriptionAdmin(postgres: postgres, redis: redis, grace: try Self.grace(), logger: Self.logger), account.id)
        }
    }
}
