public import AMQPClient
import Contracts
import Foundation
public import Logging
import Messaging
public import PostgresClient
public import ServiceKit
public import ServiceLifecycle

/// Publishes the user events that a service's triggers wrote to its schema's `event_outbox`
/// (sql/013_user_event_outboxes.sql) on RabbitMQ's `events` exchange, oldest first, and deletes
/// each once RabbitMQ confirmed it. What is not confirmed (the broker away) stays and goes at the
/// next pass, after everything before it; a row confirmed and not yet deleted when the daemon dies
/// goes again with the same event id, which notifyd keeps once.
///
/// One relay per schema works at a time, the holder of the schema's `event_relay` lease (renewed
/// at each pass; another instance takes it over 5 s after its holder stopped renewing): two relays
/// publishing the same rows side by side could deliver them out of order. Nothing here holds a
/// transaction while it waits for the broker, so a RabbitMQ outage never slows the service's own
/// statements (authd's sign-ins).
public struct EventOutboxRelay: Service {
    let postgres: PostgresClient
    let publisher: AMQPPublisher
    let schema: String
    let interval: Duration
    let logger: Logger
    /// This relay's name in the lease.
    let holder = UUID().uuidString.lowercased()

    /// Events per pass.
    static let batch = 200

    /// The relay of `schema`'s outbox, every `interval` (`events.relay-interval`, 0.25 s).
    public init(postgres: PostgresClient, publisher: AMQPPublisher, schema: String, interval: Duration, logger: Logger) {
        self.postgres = postgres
        self.publisher = publisher
        self.schema = schema
        self.interval = interval
        self.logger = logger
    }

    /// `events.relay-interval` in seconds (0.25 by default).
    public static func interval(_ configuration: DaemonConfiguration) throws -> Duration {
        let seconds = configuration.reader.double(forKey: "events.relay-interval", default: 0.25)
        guard seconds >= 0.01, seconds <= 60 else { throw ConfigurationError(key: "events.relay-interval", message: "must be from 0.01 to 60 seconds") }
        return .milliseconds(Int64(seconds * 1000))
    }

    public func run() async {
        await cancelWhenGracefulShutdown {
            var declared = false
            while !Task.isCancelled {
                // The exchange may not exist yet on a new broker: declaring it is harmless.
                if !declared { declared = (try? await publisher.declare(.skillup)) != nil }
                if declared {
                    while await relayOnce() == Self.batch, !Task.isCancelled {}
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One pass, when this relay holds the lease: publishes up to a batch of the oldest events and
    /// deletes those confirmed, up to the first that was not (so that none overtakes another).
    /// Answers how many were confirmed.
    @discardableResult
    public func relayOnce() async -> Int {
        do {
            // Neither the lease's renewal nor the delete below waits for the WAL flush: a crash of
            // PostgreSQL that loses a renewal only ends the lease sooner, and one that loses a delete
            // publishes those events again under their ids, which notifyd keeps once.
            let leased = try await postgres.query(
                """
                INSERT INTO \(identifier: schema).event_relay AS lease (id, holder, until)
                SELECT 1, $1::uuid, now() + interval '5 seconds' FROM \(SQL.asynchronousCommit)
                ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, until = excluded.until
                WHERE lease.holder = excluded.holder OR lease.until < now()
                RETURNING holder
                """, [.text(holder)])
            guard !leased.isEmpty else { return 0 }
            let rows = try await postgres.query(
                "SELECT id, body FROM \(identifier: schema).event_outbox ORDER BY id LIMIT $1::integer", [.int(Self.batch)])
            var done: [Int] = []
            var pending: [(id: Int, message: AMQPMessage)] = []
            for row in rows {
                let id: Int = try row.decode("id")
                let body: String = try row.decode("body")
                do {
                    pending.append((id, try .userEvent(try UserEvent.decode(Array(body.utf8)))))
                } catch {
                    // A trigger wrote something that is no event: it could never be published.
                    logger.error("an outbox row is not a user event; dropped", metadata: ["schema": "\(schema)", "id": "\(id)", "reason": "\(error)"])
                    done.append(id)
                }
            }
            let outcomes = await publisher.publish(pending.map(\.message))
            let confirmed = zip(pending, outcomes).prefix { if case .success = $0.1 { true } else { false } }.count
            done += pending.prefix(confirmed).map(\.id)
            if confirmed < pending.count, case .failure(let error) = outcomes[confirmed] {
                logger.warning(
                    "user events not confirmed; they stay in the outbox",
                    metadata: ["schema": "\(schema)", "events": "\(pending.count - confirmed)", "reason": "\(error)"])
            }
            if !done.isEmpty {
                _ = try await postgres.query(
                    "DELETE FROM \(identifier: schema).event_outbox USING \(SQL.asynchronousCommit) WHERE id = ANY (string_to_array($1, ',')::bigint[])",
                    [.text(done.map(String.init).joined(separator: ","))])
            }
            return confirmed
        } catch {
            logger.warning("user events not relayed; trying again", metadata: ["schema": "\(schema)", "reason": "\(error)"])
            return 0
        }
    }
}

extension DaemonSetup {
    /// The relay of `schema`'s user-event outbox, with what it needs to run: on the daemon's own
    /// publisher when it declares RabbitMQ; otherwise (authd, subscribed) on a publisher of its own
    /// from `amqp.url`, which is then no part of the daemon's readiness, since a broker away only
    /// delays the events and must never stop a sign-in. With no `amqp.url`, the events wait in
    /// the outbox, and the log says so.
    public func eventOutboxRelay(schema: String) throws -> [any Service] {
        let interval = try EventOutboxRelay.interval(configuration)
        if backends.declares(.rabbitmq) {
            return [
                EventOutboxRelay(postgres: try backends.postgres(), publisher: try backends.publisher(), schema: schema, interval: interval, logger: logger)
            ]
        }
        guard configuration.reader.string(forKey: "amqp.url", isSecret: true) != nil else {
            logger.warning("amqp.url is not set: the user events of this daemon wait in its outbox", metadata: ["schema": "\(schema)"])
            return []
        }
        let publisher = AMQPPublisher(configuration: try Backends.amqpConfiguration(configuration), logger: logger)
        return [publisher, EventOutboxRelay(postgres: try backends.postgres(), publisher: publisher, schema: schema, interval: interval, logger: logger)]
    }
}
