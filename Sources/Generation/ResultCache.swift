import Cryptography
import Foundation
import Logging
import RedisClient

/// Finished answers in Redis (`ai:cache:<digest>`), so that the same request is answered again
/// without an engine call. A request is the same only when its function, template version,
/// language, token limit and topic all are, the topic compared after Unicode normalization (NFC)
/// and with each line's runs of spaces and tabs made one space, nothing looser: its line breaks
/// stay, since the prompt keeps them. Each answer is kept under the engine that wrote it, and only
/// a cacheable engine's (a model's, never the offline engine's stand-in): a lookup takes the first
/// engine's answer in `engine.order` that is there. Redis failing makes every lookup a miss: the
/// cache saves engine calls, it never decides an answer.
///
/// By default (`cache.scope` user) a user is answered only from their own earlier answers. Shared
/// by all users (`shared`), an answer marked cached tells its reader that someone asked the same
/// thing within `cache.ttl`.
struct ResultCache: Sendable {
    enum Scope: String, Sendable {
        case shared, user
    }

    /// An answer as cached: its text, the engine that wrote it, and whether `max_tokens` cut it
    /// (absent from entries cached before this was kept).
    struct Entry: Codable, Sendable, Equatable {
        let text: String
        let engine: String
        var truncated: Bool? = nil
    }

    /// Where answers are kept; nil when the cache is off (`cache.ttl` 0).
    let storage: (any CacheStorage)?
    /// How long an answer is kept, in seconds.
    let ttl: Int
    let scope: Scope
    let logger: Logger

    /// The Redis key of `engine`'s answer to `record`'s request; nil if it cannot be made (OpenSSL
    /// unusable), and then nothing is cached rather than every request sharing one key.
    static func key(for record: GenerationRecord, engine: String, scope: Scope = .user) -> String? {
        let topic = record.topic.precomposedStringWithCanonicalMapping.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { line in line.split(whereSeparator: \.isWhitespace).joined(separator: " ") }.joined(separator: "\n")
        // Encoded as a JSON array, so that no field's text can run into the next.
        var fields: [String] = [record.function, String(record.templateVersion), record.language, String(record.maxTokens), topic, engine]
        if scope == .user { fields.append(record.userID) }
        guard let bytes = try? JSONEncoder().encode(fields), let digest = try? SHA256.hash(bytes) else { return nil }
        return "ai:cache:" + Hex.encode(digest)
    }

    /// The answer to `record`'s request of the first of `engines` that has one cached; nil when
    /// none has, or the cache is off.
    func lookup(_ record: GenerationRecord, engines: [String]) async -> Entry? {
        guard let storage else { return nil }
        for engine in engines {
            guard let key = Self.key(for: record, engine: engine, scope: scope) else { return nil }
            do {
                if let stored = try await storage.value(of: key) { return try JSONDecoder().decode(Entry.self, from: Data(stored.utf8)) }
            } catch {
                logger.warning("result cache not read", metadata: ["generation": "\(record.id)", "reason": "\(error)"])
                return nil
            }
        }
        return nil
    }

    /// Keeps `entry` as its engine's answer to `record`'s request.
    func store(_ entry: Entry, of record: GenerationRecord) async {
        guard let storage, let key = Self.key(for: record, engine: entry.engine, scope: scope) else { return }
        do {
            let value = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
            try await storage.keep(value, as: key, for: ttl)
        } catch {
            logger.warning("result cache not written", metadata: ["generation": "\(record.id)", "reason": "\(error)"])
        }
    }
}

/// Where the result cache keeps its answers: Redis in a running aid, memory in the tests.
protocol CacheStorage: Sendable {
    func value(of key: String) async throws -> String?
    /// Keeps `value` under `key` for `seconds`.
    func keep(_ value: String, as key: String, for seconds: Int) async throws
}

extension RedisClient: CacheStorage {
    func value(of key: String) async throws -> String? {
        try await get(key)
    }

    func keep(_ value: String, as key: String, for seconds: Int) async throws {
        try await set(key, to: value, expiresInSeconds: seconds)
    }
}
