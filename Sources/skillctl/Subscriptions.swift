import ArgumentParser
import Auth
import Foundation
import Subscriptions

/// Plans, as `billing.plans` holds them.
struct Plans: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the plans and their limits.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every plan with its price, limits and features.")
        @OptionGroup var servers: ServerOptions

        func run() async throws {
            let plans = try await servers.withServers { postgres, redis in
                try await SubscriptionAdmin(postgres: postgres, redis: redis, logger: ServerOptions.logger).plans()
            }
            print("code  price  requests/min  generations/day  generations/period  max tokens  tasks at once  cached answers count  features")
            for plan in plans {
                print(
                    "\(plan.code)  \(String(format: "%.2f", Double(plan.priceCents) / 100))  \(plan.requestsPerMinute)  \(plan.generationsPerDay)  "
                        + "\(plan.generationsPerMonth)  \(plan.maxOutputTokens)  \(plan.tasksAtOnce)  \(plan.cachedAnswersCount ? "yes" : "no")  \(plan.features.joined(separator: " "))"
                )
            }
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
        static let configuration = CommandConfiguration(abstract: "Show a user's subscription.")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            let record = try await servers.withSubscriptions(email: email) { admin, userID in try await admin.subscription(userID: userID) }
            guard let record else {
                print("\(email): no subscription (free)")
                return
            }
            print(Subscriptions.describe(record, email: email))
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

    static func describe(_ record: SubscriptionRecord, email: String) -> String {
        """
        user:     \(email) (\(record.userID))
        plan:     \(record.plan)
        status:   \(record.status)\(record.cancelAtPeriodEnd ? ", cancels at period end" : "")
        period:   \(record.periodStart.ISO8601Format()) to \(record.periodEnd.ISO8601Format())
        """
    }
}

extension ServerOptions {
    /// subscribed's `subscriptions.grace`, from `SUBSCRIPTIONS_GRACE` as the daemons read it: the
    /// tier skillctl writes must be the one subscribed would.
    static func grace() throws -> TimeInterval {
        guard let text = ProcessInfo.processInfo.environment["SUBSCRIPTIONS_GRACE"] else { return SubscriptionSettings.defaultGrace }
        guard let seconds = TimeInterval(text), seconds >= 0 else {
            throw ValidationError("SUBSCRIPTIONS_GRACE must be zero or positive seconds, as subscribed's subscriptions.grace")
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
                throw ValidationError("no account with email \(email)")
            }
            return try await body(SubscriptionAdmin(postgres: postgres, redis: redis, grace: try Self.grace(), logger: Self.logger), account.id)
        }
    }
}
