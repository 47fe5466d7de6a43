public import AMQPClient
import Foundation
public import PostgresClient
public import RedisClient
public import ServiceKit

/// How to reach the servers behind a daemon, read from its configuration.
///
/// Keys: `redis.url` (`redis://[:password@]host:port[/db]`, `unix://[:password@]/path/redis.sock` or
/// `redis+sentinel://...`), `postgres.url`, `amqp.url`; a password in a secret file
/// (`redis.password`, `redis.sentinel-password`, `postgres.password`, `amqp.password`, e.g. from
/// systemd `LoadCredential=`) replaces the one in the URL, so URLs in unit files can stay password-free.
public enum Backends {
    public static func redisConfiguration(_ configuration: DaemonConfiguration) throws -> RedisConfiguration {
        var settings: RedisConfiguration
        do {
            settings = try RedisConfiguration(url: configuration.requiredString("redis.url", isSecret: true))
        } catch let error as RedisError {
            throw ConfigurationError(key: "redis.url", message: error.message)
        }
        if let password = configuration.reader.string(forKey: "redis.password", isSecret: true) { settings.password = password }
        if let password = configuration.reader.string(forKey: "redis.sentinel-password", isSecret: true) { settings.sentinel?.password = password }
        return settings
    }

    public static func postgresConfiguration(_ configuration: DaemonConfiguration) throws -> PostgresConfiguration {
        var settings = try PostgresConfiguration(url: configuration.requiredString("postgres.url", isSecret: true))
        if let password = configuration.reader.string(forKey: "postgres.password", isSecret: true) { settings.password = password }
        settings.applicationName = configuration.daemon
        return settings
    }

    public static func amqpConfiguration(_ configuration: DaemonConfiguration) throws -> AMQPConfiguration {
        var settings = try AMQPConfiguration(url: configuration.requiredString("amqp.url", isSecret: true))
        if let password = configuration.reader.string(forKey: "amqp.password", isSecret: true) { settings.password = password }
        return settings
    }
}

extension Readiness.Check {
    public static func redis(_ client: RedisClient) -> Self {
        Self("redis") { _ = try await client.send("PING") }
    }

    public static func postgres(_ client: PostgresClient) -> Self {
        Self("postgres") { try await client.query("SELECT 1") }
    }

    /// Declaring the daemon's topology is idempotent and proves the broker answers on a channel.
    public static func amqp(_ publisher: AMQPPublisher, topology: AMQPTopology) -> Self {
        Self("rabbitmq") { try await publisher.declare(topology) }
    }
}
