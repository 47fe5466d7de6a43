import Configuration
import Foundation
import NIOCore
import ServiceKit

/// aid's own settings, read (and checked) before anything connects.
struct GenerationSettings: Sendable {
    /// subscribed's entitlement sockets (`entitlements.sockets`, paths, comma-separated): every
    /// generation is reserved there first, so aid does not start without one.
    var entitlementSockets: [String]
    /// How long one entitlement call to one instance may take (`entitlements.timeout`, seconds).
    var entitlementTimeout: TimeAmount
    /// docsd's internal sockets (`documents.sockets`, comma-separated): a profile's defaults for a
    /// generation that names no language or length, and generations saved as documents. Without
    /// them neither is asked, and a save answers 503.
    var documentSockets: [String]
    /// Users whose profile defaults aid keeps (`documents.defaults-entries`; 0: docsd is asked each
    /// time), current by PostgreSQL's notifications of each profile change.
    var profileDefaultsEntries: Int
    /// The offline engine (`engine.offline.latency` seconds per answer, `engine.offline.words` per
    /// piece, `engine.offline.fail`: never, always, after:N pieces, or first:N calls).
    var offline: OfflineEngine
    /// The engines asked, in order (`engine.order`, names, comma-separated): `offline`, or a model
    /// behind an OpenAI-compatible API set by `engine.<name>.url` and the rest of ``OpenAISettings``.
    /// By default `openai` when `engine.openai.url` is set, `offline` otherwise.
    var order: [String]
    var openAI: [String: OpenAISettings]
    /// An engine's further calls after a retryable failure (`engine.retries`, 1), the wait before
    /// the first (`engine.backoff`, 0.5 seconds, doubling), and the longest a whole run over every
    /// engine may take (`engine.budget`, 50 seconds: aid's answer must reach nginx within its
    /// proxy_read_timeout of 60; genworker's tasks, which no client waits on, may take longer).
    var retries: Int
    var backoff: Duration
    var budget: Duration
    /// Each engine's circuit opens after `engine.breaker.failures` (5) retryable failures in a row,
    /// for `engine.breaker.cooldown` (30 seconds) before one probe call.
    var breakerFailures: Int
    var breakerCooldown: Duration
    /// How long a finished answer stays in the result cache (`cache.ttl`, seconds, a day); 0 turns
    /// the cache off. Whose answers a request may be answered with (`cache.scope`): `user`, only the
    /// asker's own (the default: a shared hit would tell a user that someone else asked the same),
    /// or `shared`, any user's.
    var cacheTTL: Int
    var cacheScope: ResultCache.Scope
    /// How long a generation answered in the request stays its aid's without a renewal
    /// (`sweep.after`, seconds; 30): aid renews the rows it serves three times as often, and a
    /// running row whose lease ran out (its aid stopped mid-way) is failed as interrupted and its
    /// unit released, looked for every `sweep.interval` seconds (10).
    var sweepAfter: Duration
    var sweepInterval: Duration
    /// The longest a streamed answer may take, delivery to a slow reader included (`stream.limit`,
    /// seconds; 300, longer than `engine.budget` so that it cuts only slow readers): then it ends
    /// with an error event, and counts if text reached the client.
    var streamLimit: Duration
    /// How often aid's outbox relay looks for task messages not yet published
    /// (`relay.interval`, seconds); a new task is relayed at once.
    var relayInterval: Duration
    /// The models `/v1` sells and their providers (`v1.catalogue`, a JSON file, ``ModelCatalog``);
    /// without it `/v1/models` lists none.
    var catalogue: ModelCatalog

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        catalogue = try reader.string(forKey: "v1.catalogue").map(ModelCatalog.load(path:)) ?? .empty
        entitlementSockets = reader.stringArray(forKey: "entitlements.sockets", default: []).filter { !$0.isEmpty }
        documentSockets = reader.stringArray(forKey: "documents.sockets", default: []).filter { !$0.isEmpty }
        guard documentSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "documents.sockets", message: "must be absolute paths of docsd's internal sockets")
        }
        profileDefaultsEntries = reader.int(forKey: "documents.defaults-entries", default: 10_000)
        guard profileDefaultsEntries >= 0 else { throw ConfigurationError(key: "documents.defaults-entries", message: "must be 0 (none kept) or more") }
        guard !entitlementSockets.isEmpty, entitlementSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "entitlements.sockets", message: "must name subscribed's entitlement sockets, as absolute paths")
        }
        let timeout = reader.double(forKey: "entitlements.timeout", default: 2)
        guard timeout > 0 else { throw ConfigurationError(key: "entitlements.timeout", message: "must be positive seconds") }
        entitlementTimeout = .milliseconds(Int64(timeout * 1000))
        let latency = reader.double(forKey: "engine.offline.latency", default: 0)
        guard latency >= 0 else { throw ConfigurationError(key: "engine.offline.latency", message: "must be zero or positive seconds") }
        let words = reader.int(forKey: "engine.offline.words", default: 4)
        guard words > 0 else { throw ConfigurationError(key: "engine.offline.words", message: "must be a positive number of words") }
        let failureText = reader.string(forKey: "engine.offline.fail", default: "never")
        let failure: OfflineEngine.Failure
        switch failureText {
        case "never": failure = .never
        case "always": failure = .always
        case let text where text.hasPrefix("after:"):
            guard let pieces = Int(text.dropFirst("after:".count)), pieces >= 0 else { fallthrough }
            failure = .afterPieces(pieces)
        case let text where text.hasPrefix("first:"):
            guard let calls = Int(text.dropFirst("first:".count)), calls >= 0 else { fallthrough }
            failure = .firstCalls(calls)
        default:
            throw ConfigurationError(
                key: "engine.offline.fail", message: "must be never, always, after:N (pieces) or first:N (calls), not '\(failureText)'")
        }
        sweepAfter = try Self.seconds(reader.double(forKey: "sweep.after", default: 30), of: "sweep.after")
        sweepInterval = try Self.seconds(reader.double(forKey: "sweep.interval", default: 10), of: "sweep.interval")
        streamLimit = try Self.seconds(reader.double(forKey: "stream.limit", default: 300), of: "stream.limit")
        let relay = reader.double(forKey: "relay.interval", default: 1)
        guard relay > 0 else { throw ConfigurationError(key: "relay.interval", message: "must be positive seconds") }
        relayInterval = .milliseconds(Int64(relay * 1000))
        order = reader.stringArray(forKey: "engine.order", default: [reader.string(forKey: "engine.openai.url") == nil ? "offline" : "openai"])
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !order.isEmpty, Set(order).count == order.count, order.allSatisfy({ $0.range(of: "^[a-z][a-z0-9]*$", options: .regularExpression) != nil })
        else {
            throw ConfigurationError(key: "engine.order", message: "must name each engine once, in lower-case letters and digits, such as local,offline")
        }
        openAI = try Dictionary(uniqueKeysWithValues: order.filter { $0 != "offline" }.map { ($0, try OpenAISettings(configuration, engine: $0)) })
        retries = reader.int(forKey: "engine.retries", default: 1)
        guard (0...10).contains(retries) else { throw ConfigurationError(key: "engine.retries", message: "must be from 0 to 10") }
        backoff = try Self.seconds(reader.double(forKey: "engine.backoff", default: 0.5), of: "engine.backoff")
        budget = try Self.seconds(reader.double(forKey: "engine.budget", default: 50), of: "engine.budget")
        breakerFailures = reader.int(forKey: "engine.breaker.failures", default: 5)
        guard breakerFailures > 0 else { throw ConfigurationError(key: "engine.breaker.failures", message: "must be a positive number of failures") }
        breakerCooldown = try Self.seconds(reader.double(forKey: "engine.breaker.cooldown", default: 30), of: "engine.breaker.cooldown")
        cacheTTL = reader.int(forKey: "cache.ttl", default: 86400)
        guard cacheTTL >= 0 else { throw ConfigurationError(key: "cache.ttl", message: "must be zero (no cache) or positive seconds") }
        let scope = reader.string(forKey: "cache.scope", default: "user")
        guard let cacheScope = ResultCache.Scope(rawValue: scope) else {
            throw ConfigurationError(key: "cache.scope", message: "must be shared or user, not '\(scope)'")
        }
        self.cacheScope = cacheScope
        offline = OfflineEngine(latency: .milliseconds(Int64(latency * 1000)), wordsPerPiece: words, failure: failure)
    }

    static func seconds(_ value: Double, of key: String) throws -> Duration {
        guard value > 0 else { throw ConfigurationError(key: key, message: "must be positive seconds") }
        return .milliseconds(Int64(value * 1000))
    }
}

/// An OpenAI-compatible engine's settings, for the engine named `openai` in `engine.order` (and the
/// same with its own name for any other): `engine.openai.url` (up to `/v1`), `engine.openai.model`,
/// `engine.openai.key` (a credential file `engine-openai-key` under systemd), `engine.openai.name`
/// (what answers say served them; the model unless set), and its timeouts in seconds:
/// `engine.openai.connect-timeout` (2), `engine.openai.first-byte-timeout` (15), `engine.openai.timeout` (120).
/// `engine.openai.concurrency` limits the calls this daemon makes to it at once (0, the default: no
/// limit), and `engine.openai.queue-wait` is how long a generation waits for one of them before the
/// next engine is asked (seconds; by default as long as `engine.budget` lasts). `engine.openai.temperature`
/// (0 to 2) is sent with every request when set: a small model keeps to the subject only when it is low.
/// `engine.openai.cache` (true) says whether its answers go into the result cache (the offline engine's never do).
struct OpenAISettings: Sendable {
    var url: String
    var model: String
    var key: String?
    var name: String
    var connectTimeout: Duration
    var firstByteTimeout: Duration
    var totalTimeout: Duration
    var concurrency: Int
    var queueWait: Duration?
    var temperature: Double?
    var cacheable: Bool

    init(_ configuration: DaemonConfiguration, engine: String) throws {
        let reader = configuration.reader
        let prefix = "engine.\(engine)."
        url = try configuration.requiredString(prefix + "url")
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ConfigurationError(key: prefix + "url", message: "must be an http:// or https:// URL such as https://api.openai.com/v1")
        }
        model = try configuration.requiredString(prefix + "model")
        // An empty credential file is a deployment's way of saying the engine takes no key.
        key = reader.string(forKey: ConfigKey(prefix + "key"), isSecret: true).flatMap { key in
            let trimmed = key.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
        name = reader.string(forKey: ConfigKey(prefix + "name"), default: model)
        func seconds(_ name: String, default value: Double) throws -> Duration {
            try GenerationSettings.seconds(reader.double(forKey: ConfigKey(prefix + name), default: value), of: prefix + name)
        }
        connectTimeout = try seconds("connect-timeout", default: 2)
        firstByteTimeout = try seconds("first-byte-timeout", default: 15)
        totalTimeout = try seconds("timeout", default: 120)
        guard totalTimeout > firstByteTimeout else {
            throw ConfigurationError(key: prefix + "timeout", message: "must be longer than \(prefix)first-byte-timeout")
        }
        concurrency = reader.int(forKey: ConfigKey(prefix + "concurrency"), default: 0)
        guard concurrency >= 0 else {
            throw ConfigurationError(key: prefix + "concurrency", message: "must be a number of calls at once, or 0 for no limit")
        }
        let wait = reader.double(forKey: ConfigKey(prefix + "queue-wait"))
        guard wait.map({ $0 >= 0 }) ?? true else { throw ConfigurationError(key: prefix + "queue-wait", message: "must be zero or positive seconds") }
        queueWait = wait.map { .milliseconds(Int64($0 * 1000)) }
        cacheable = reader.bool(forKey: ConfigKey(prefix + "cache"), default: true)
        temperature = reader.double(forKey: ConfigKey(prefix + "temperature"))
        guard temperature.map({ (0...2).contains($0) }) ?? true else {
            throw ConfigurationError(key: prefix + "temperature", message: "must be from 0 to 2")
        }
    }
}
