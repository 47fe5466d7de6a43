import Foundation
import Logging
import PostgresClient
import SchemaMigrations
import TestSupport
import Testing

extension NewDatabaseSuites {
    /// What an admin reads from skillctl, word for word (ids and times aside), on a database of the
    /// test's own: the plans table, a subscription as the API shows it, and a one-line failure.
    @Suite struct SkillctlTests {
        static let skillctl = LocalServer.packageRoot.appendingPathComponent(".build/debug/skillctl").path

        /// Runs `body` with the environment of a migrated database of its own (and the shared Redis).
        func withDatabase(_ body: ([String: String], PostgresClient) async throws -> Void) async throws {
            try await NewDatabaseSuites.withDatabase(prefix: "skillctl") { url, client in
                try await Migrator(client: client, logger: Logger(label: "test")).migrate(
                    Migration.load(from: LocalServer.packageRoot.appendingPathComponent("sql").path))
                try await body(["POSTGRES_URL": url, "REDIS_URL": try LocalServer.shared(.redis).url(), "USER": "tester"], client)
            }
        }

        /// The output with ids and times made placeholders, so that it can be compared as written.
        static func golden(_ text: String) -> String {
            text.replacingOccurrences(of: #"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#, with: "<id>", options: .regularExpression)
                .replacingOccurrences(of: #"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"#, with: "<time>", options: .regularExpression)
        }

        @Test func plansListIsATableWithAlignedColumnsAndNeedsNoRedis() async throws {
            try await withDatabase { environment, _ in
                var withoutRedis = environment
                withoutRedis["REDIS_URL"] = nil
                let listed = try await ChildProcess.run(Self.skillctl, ["plans", "list"], environment: withoutRedis)
                #expect(listed.status == 0)
                #expect(
                    listed.output == """
                        code  price      requests/min  per day  per period  max tokens  at once  cached count  features
                        free  0.00 USD   30            10       50          512         1        yes           generate.short
                        pro   19.00 USD  300           200      2000        2048        3        yes           generate.short generate.long
                        team  79.00 USD  1200          1000     10000       4096        10       yes           generate.short generate.long team.seats

                        """)
            }
        }

        @Test func anUnknownEmailIsOneLineAndExitStatus1() async throws {
            try await withDatabase { environment, _ in
                for arguments in [["users", "show", "nobody@example.com"], ["subscriptions", "show", "nobody@example.com"]] {
                    let shown = try await ChildProcess.run(Self.skillctl, arguments, environment: environment)
                    #expect(shown.status == 1, "\(arguments)")
                    #expect(shown.output == "Error: no account with email nobody@example.com\n", "\(arguments)")
                }
            }
        }

        @Test func aSubscriptionIsShownAsTheAPIShowsItWithItsUsageAndItsRow() async throws {
            try await withDatabase { environment, postgres in
                try await postgres.query(
                    "INSERT INTO auth.users (email, email_normalized, password_hash) VALUES ('ada@example.com', 'ada@example.com', 'unused')")
                let never = try await ChildProcess.run(Self.skillctl, ["subscriptions", "show", "ada@example.com"], environment: environment)
                #expect(
                    Self.golden(never.output) == """
                        user:          ada@example.com (<id>)
                        plan:          free (applies now)
                        status:        none
                        period:        <time> to <time>
                        today:         0 of 10 used, resets <time>
                        this period:   0 of 50 used, resets <time>
                        tasks:         0 under way of 1
                        subscription:  none (free for the calendar month)

                        """)
                for arguments in [["subscriptions", "grant", "ada@example.com", "team"], ["subscriptions", "cancel", "ada@example.com"]] {
                    #expect(try await ChildProcess.run(Self.skillctl, arguments, environment: environment).status == 0)
                }
                // Canceled: the row says team, but free applies now, for the calendar month, as the API says.
                let canceled = try await ChildProcess.run(Self.skillctl, ["subscriptions", "show", "ada@example.com"], environment: environment)
                #expect(
                    Self.golden(canceled.output) == """
                        user:          ada@example.com (<id>)
                        plan:          free (applies now)
                        status:        canceled
                        period:        <time> to <time>
                        today:         0 of 10 used, resets <time>
                        this period:   0 of 50 used, resets <time>
                        tasks:         0 under way of 1
                        subscription:  team, canceled, <time> to <time>

                        """)
            }
        }
    }
}
