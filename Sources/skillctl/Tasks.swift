import AMQPClient
import ArgumentParser
import Foundation
import Generation

/// Long generation tasks that ended in `generate.dead`: list them, and send them back to work.
struct Tasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the tasks in generate.dead, or send them back to work.", subcommands: [Dead.self, Replay.self])

    struct BrokerOptions: ParsableArguments {
        @Option(help: "RabbitMQ URL amqp://user:password@host:port/vhost; default: $AMQP_URL.")
        var amqpURL: String?

        func configuration() throws -> AMQPConfiguration {
            guard let url = amqpURL ?? ProcessInfo.processInfo.environment["AMQP_URL"] else {
                throw ValidationError("no RabbitMQ: pass --amqp-url amqp://user:password@host:port/ or set AMQP_URL")
            }
            return try AMQPConfiguration(url: url)
        }
    }

    struct Dead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tasks in generate.dead (they stay there).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var broker: BrokerOptions
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            let dead = try await database.withClient { postgres in
                try await TaskAdmin(postgres: postgres, amqp: try broker.configuration(), logger: ServerOptions.logger).dead(limit: limit)
            }
            if dead.isEmpty { print("generate.dead is empty") }
            for task in dead {
                print("\(task.taskID ?? "-")  \(task.failure ?? "-")  \(task.detail)")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead tasks back to work: queued again from their first attempt, counting nothing against the user's quota.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var broker: BrokerOptions
        @Argument(help: "The task ids (skillctl tasks dead).") var ids: [String] = []
        @Flag(help: "Every task in generate.dead.") var all = false
        @Option(help: "At most this many messages read.") var limit = 1000

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("name the task ids, or pass --all") }
        }

        func run() async throws {
            let outcomes = try await database.withClient { postgres in
                try await TaskAdmin(postgres: postgres, amqp: try broker.configuration(), logger: ServerOptions.logger)
                    .replay(ids: all ? nil : Set(ids), limit: limit)
            }
            for (taskID, outcome) in outcomes { print("\(taskID): \(outcome.rawValue)") }
            let missing = Set(ids).subtracting(outcomes.map(\.taskID))
            for id in missing.sorted() { print("\(id): not in generate.dead") }
            if outcomes.isEmpty && all { print("generate.dead holds no task") }
        }
    }
}
