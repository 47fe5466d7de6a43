import ArgumentParser
import Auth
import Foundation
import Logging
import RedisClient

/// Account administration: block or unblock a user, set a user's scopes (the first admin is made
/// with `skillctl users scopes EMAIL generate subscription:read profile admin`).
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Block, unblock, or set the scopes of an account.",
        subcommands: [Block.self, Unblock.self, SetScopes.self]
    )

    struct Block: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block an account: its logins are refused and its tokens answered 403 at once.")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            let userID = try await servers.withAdmin { try await $0.setBlocked(email: email, true) }
            print("users: blocked \(userID)")
        }
    }

    struct Unblock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unblock an account.")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "The account's email.") var email: String

        func run() async throws {
            let userID = try await servers.withAdmin { try await $0.setBlocked(email: email, false) }
            print("users: unblocked \(userID)")
        }
    }

    struct SetScopes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scopes", abstract: "Set an account's scopes; tokens issued from its next login or refresh carry them.")
        @OptionGroup var servers: ServerOptions
        @Argument(help: "The account's email.") var email: String
        @Argument(help: "The scopes, e.g. generate subscription:read profile admin.") var scopes: [String]

        func run() async throws {
            let userID = try await servers.withAdmin { try await $0.setScopes(email: email, scopes: scopes) }
            print("users: \(userID) now has \(scopes.joined(separator: " "))")
        }
    }
}

/// PostgreSQL (see ``DatabaseOptions``) and Redis (`--redis-url` or `REDIS_URL`).
struct ServerOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(help: "Redis URL redis://host:port; default: $REDIS_URL.")
    var redisURL: String?

    func withAdmin<T>(_ body: (AccountAdmin) async throws -> T) async throws -> T {
        var logger = Logger(label: "skillctl")
        logger.logLevel = .warning
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
            let result = try await body(AccountAdmin(postgres: postgres, redis: redis))
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
