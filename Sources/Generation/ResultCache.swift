import Cryptography
import Foundation
import Logging
import RedisClient

/// Finished answers in Redis (`ai:cache:<digest>`), so that the same request is answered again
/// without an engine call. A request is the same only when its function, template version,
/// language, token limit and topic all are, the topic compared after Unicode normalization (NFC)
/// and with each line's runs of spaces and tabs made one space, nothing looser: its line breaks
/// stay, since the prompt keeps them. Redis failing makes every lookup a
/// miss: the cache saves engine calls, it never decides an answer.
///
/// Shared by all users (`cache.scope` shared), an answer marked cached tells its reader that someone
/// asked the same thing within `cache.ttl`; scope `user` keeps each user's answers to that user.
struct ResultCache: Sendable {
    enum Scope: String, Sendable {
        case shared, user
    }

    /// An answer as cached: its text and the engine that wrote it.
    struct Entry: Codable, Sendable, Equatable {
        let text: String
        let engine: String
    }

    /// Where answers are kept; nil when the cache is off (`cache.ttl` 0).
    let redis: RedisClient?
    /// How long an answer is kept, in seconds.
    let ttl: Int
    let scope: Scope
    let logger: Logger

    /// The Redis key of `record`'s request; nil if it cannot be made (OpenSSL unusable), and then
    /// nothing is cached rather than every request sharing one key.
    static func key(for record: GenerationRecord, scope: Scope = .shared) -> String? {
        let topic = record.topic.precomposedStringWithCanonicalMapping.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { line in line.split(whereSeparator: \.isWhitespace).joined(separator: " ") }.joined(separator: "\n")
        // Encoded as a JSON array, so that no field's text can run into the next.
        var fields: [String] = [record.function, String(record.templateVersion), record.language, String(record.maxTokens), topic]
        if scope == .user { fields.append(record.userID) }
        guard let bytes = try? JSONEncoder().encode(fields), let digest = try? SHA256.hash(bytes) else { return nil }
        return "ai:cache:" + Hex.encode(digest)
    }

    /// The key `record`'s answer is looked up and stored under; nil when the cache is off.
    func key(for record: GenerationRecord) -> String? {
        redis == nil ? nil : Self.key(for: record, scope: scope)
    }

    func lookup(_ key: String?, of record: GenerationRecord) async -> Entry? {
        guard let redis, let key else { return nil }
        do {
            guard let stored = try await redis.get(key) else { return nil }
            return try JSONDecoder().decode(Entry.self, from: Data(stored.utf8))
        } catch {
            logger.warning("result cache not read", metadata: ["generation": "\(record.id)", "reason": "\(error)"])
            return nil
        }
    }

    func store(_ entry: Entry, under key: String?, of record: GenerationRecord) async {
        guard let redis, let key else { return }
        do {
            let value = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
            try await redis.set(key, to: value, expiresInSeconds: ttl)
        } catch {
            logger.warning("result cache not written", metadata: ["generation": "\(record.id)", "reason": "\(error)"])
        }
    }
}
