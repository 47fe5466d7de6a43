import ArgumentParser
import Auth
import Foundation
import Logging
import PostgresClient
import RedisClient

/// Account administration: look accounts up, block or unblock one, change its scopes (the first
/// admin is made with `skillctl users scopes EMAIL --add admin`). Every change is a security event
/// naming the admin (`--admin`, default: the user who ran sudo, else the current user).
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, list, block, unblock, or change the scopes of accounts.",
        subcommands: [Show.self, List.self, Block.self, Unblock.self, ChangeScopes.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one account: id, status, scopes, sessions and API keys.")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            guard let account = try await servers.withAdmin({ try await $0.account(email: email) }) else {
                throw CommandFailure("no account with email \(email)")
            }
            print(
                """
                id:        \(account.id)
                email:     \(account.email)
                created:   \(account.createdAt)
                status:    \(account.blocked ? "blocked" : "active")
                scopes:    \(account.scopes.joined(separator: " "))
                sessions:  \(account.activeSessions) active
                api keys:  \(account.liveAPIKeys) live
                """)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List accounts in email order, a page at a time.",
            discussion: "The last line says how to ask for the next page (--after the last email shown).")
        @OptionGroup var servers: ServerOptions
        @Option(help: "Only emails that contain this text.") var filter: String?
        @Option(help: "Start after this email (the previous page's last).") var after: String?
        @Option(help: "Accounts per page (1 to 1000).") var limit = 50

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be 1 to 1000") }
        }

        func run() async throws {
            let page = try await servers.withAdmin { try await $0.accounts(filter: filter, after: after, limit: limit) }
            for account in page {
                let status = account.blocked ? "blocked" : "active"
                print("\(account.email)  \(account.id)  \(status)  \(account.scopes.joined(separator: " "))  sessions=\(account.activeSessions)")
            }
            if page.count == limit, let last = page.last {
                print("next page: skillctl users list --after \(last.email)\(filter.map { " --filter \($0)" } ?? "") --limit \(limit)")
            } else {
                print("(\(page.count) account\(page.count == 1 ? "" : "s"), end of list)")
            }
        }
    }

    struct Block: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block an account: its logins are refused and its tokens answered 403 at once.")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            let userID = try await servers.withAdmin { try await $0.setBlocked(email: email, true, by: actor.name) }
            print("users: blocked \(userID)")
        }
    }

    struct Unblock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unblock an account.")
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            let userID = try await servers.withAdmin { try await $0.setBlocked(email: email, false, by: actor.name) }
            print("users: unblocked \(userID)")
        }
    }

    struct ChangeScopes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scopes",
            abstract: "Change an account's scopes: --add and --remove, or the whole set as arguments.",
            discussion: """
                Known scopes: \(Scopes.known.sorted().joined(separator: " ")). The change holds at once: the account's \
                access tokens are refused at their next use (clients refresh into the new scopes) and its API keys \
                lose removed scopes from the next request on.
                """)
        @OptionGroup var servers: ServerOptions
        @OptionGroup var actor: AdminName
        @Argument(help: "The account's email.") var email: String
        @Argument(help: "The complete new set, e.g. generate subscription:read profile (instead of --add/--remove).") var scopes: [String] = []
        @Option(help: "A scope to add (repeatable).") var add: [String] = []
        @Option(help: "A scope to remove (repeatable).") var remove: [String] = []

        func validate() throws {
            guard scopes.isEmpty != (add.isEmpty && remove.isEmpty) else {
                throw ValidationError("give either the whole set of scopes, or --add/--remove")
            }
        }

        func run() async throws {
            let change: AccountAdmin.ScopeChange = scopes.isEmpty ? .add(add, remove: remove) : .replace(scopes)
            let changed = try await servers.withAdmin { try await $0.changeScopes(email: email, change, by: actor.name) }
            print("users: \(changed.userID) now has \(changed.scopes.joined(separator: " "))")
        }
    }
}

/// Who is acting, for the security events an admin change records.
struct AdminName: ParsableArguments {
    @Option(name: .customLong("admin"), help: "Your name in the security event (default: $SUDO_USER, else $USER).")
    var given: String?

    var name: String {
        let environment = ProcessInfo.processInfo.environment
        return given ?? environment["SUDO_USER"] ?? environment["USER"] ?? "unknown"
    }
}

/// PostgreSQL (see ``DatabaseOptions``) and Redis (`--redis-url` or `REDIS_URL`).
struct ServerOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(help: "Redis URL redis://host:port or unix:///path/to/redis.sock; default: $REDIS_URL.")
    var redisURL: String?

    func withAdmin<T>(_ body: (AccountAdmin) async throws -> T) async throws -> T {
        try await withServers { postgres, redis in try await body(AccountAdmin(postgres: postgres, redis: redis)) }
    }

    /// The PostgreSQL and Redis clients for `body`, closed after it.
    /// skillctl's log: warnings and errors only, beside its output.
    static let logger: Logger = {
        var logger = Logger(label: "skillctl")
        logger.logLevel = .warning
        return logger
    }()

    func withServers<T>(_ body: (PostgresClient, RedisClient) async throws -> T) async throws -> T {
        let logger = Self.logger
        guard let url = redisURL ?? ProcessInfo.processInfo.environment["REDIS_URL"] else {
            throw ValidationError("no Redis: pass --redis-url redis://host:port or set REDIS_URL")
        }
        var redisSettings = try RedisConfiguration(url: url)
        if let password = ProcessInfo.processInfo.environment["REDIS_PASSWORD"] { redisSettings.password = password }
        let redis = RedisClient(configuration: redisSettings, logger: logger)
        let postgres = try database.client(logger: logger)
        let running = Task { try await redis.run() }
        defer { running.cancel() }
        do {
            let result = try await body(postgres, redis)
            await redis.shutdown()
            await postgres.close()
            return result
        } catch {
            await redis.shutdown()
            await postgres.close()
            throw error
        }
    }
}
