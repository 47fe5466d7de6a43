import Contracts
import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import Generation

/// What a test sets up in aid's storage and reads back from it, whichever store that is: the
/// contract tests run one body over both. Times are relative to the store's own "now".
protocol GenerationFixtures: Sendable {
    var store: any GenerationStore { get }
    /// A generation as a stopped daemon leaves it: running, `age` seconds old, after `attempts`
    /// engine calls, leased to `owner` (another daemon's, by default) for `leaseLeft` more seconds
    /// (negative: run out) when given, unleased otherwise; its id.
    func strand(
        id: String, userID: String, function: String, mode: String, maxTokens: Int, age: TimeInterval, attempts: Int, leaseLeft: TimeInterval?,
        owner: String?
    ) async throws
    /// The engine calls the generation has begun.
    func attempts(_ id: String) async throws -> Int
    /// The messages in the outbox for `taskIDs`, oldest first: `task-id queue`.
    func outbox(of taskIDs: Set<String>) async throws -> [String]
    /// The user events written for the generation `id`, oldest first (sql/013's triggers).
    func userEvents(of id: String) async throws -> [UserEvent.Kind]
}

extension GenerationFixtures {
    /// ``strand(id:userID:function:mode:maxTokens:age:attempts:leaseLeft:owner:)`` with a new id; the id.
    func strand(
        userID: String = UUID().uuidString.lowercased(), function: String = "summary", mode: String = "streamed", maxTokens: Int = 100,
        age: TimeInterval = 0, attempts: Int = 0, leaseLeft: TimeInterval? = nil, owner: String? = nil
    ) async throws -> String {
        let id = UUID().uuidString.lowercased()
        try await strand(
            id: id, userID: userID, function: function, mode: mode, maxTokens: maxTokens, age: age, attempts: attempts, leaseLeft: leaseLeft,
            owner: owner)
        return id
    }
}

extension StoreKind {
    /// Runs `body` over a store of this kind: a new in-memory one, or the suite's own PostgreSQL
    /// (``PrivatePostgresTrait``), where no other test's aid sweeps or relays anything.
    func with<T>(_ body: (any GenerationFixtures) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(InMemoryGenerationStore())
        case .postgres:
            return try await LocalServer.withSuitePostgres(logger: InMemoryAid.logger) { try await body(PostgresGenerationFixtures(postgres: $0)) }
        }
    }
}

/// The fixtures over PostgreSQL, in SQL against sql/006-010's tables.
struct PostgresGenerationFixtures: GenerationFixtures {
    let postgres: PostgresClient

    var store: any GenerationStore { PostgresGenerationStore(postgres: postgres) }

    func strand(
        id: String, userID: String, function: String, mode: String, maxTokens: Int, age: TimeInterval, attempts: Int, leaseLeft: TimeInterval?,
        owner: String?
    ) async throws {
        try await postgres.query(
            """
            INSERT INTO ai.generations (id, user_id, function, topic, language, max_tokens, template_version, mode, status, reservation, attempts,
                                        created_at, lease_owner, lease_until)
            VALUES ($1::uuid, $2::uuid, $3, 'Tides', 'en', $4::integer, 1, $5, 'running', 'generation:' || $1, $6::integer,
                    now() - $7 * interval '1 second', CASE WHEN $8::float8 IS NULL THEN NULL ELSE coalesce($9::uuid, gen_random_uuid()) END,
                    now() + $8::float8 * interval '1 second')
            """,
            [
                .text(id), .text(userID), .text(function), .int(maxTokens), .text(mode), .int(attempts), .double(age),
                leaseLeft.map(PostgresValue.double) ?? .null, owner.map(PostgresValue.text) ?? .null,
            ])
    }

    func attempts(_ id: String) async throws -> Int {
        try await postgres.query("SELECT attempts FROM ai.generations WHERE id = $1::uuid", [.text(id)])[0].decode("attempts")
    }

    func userEvents(of id: String) async throws -> [UserEvent.Kind] {
        try await postgres.query("SELECT body::json->>'type' AS type FROM ai.event_outbox WHERE body::json->'data'->>'task_id' = $1 ORDER BY id", [.text(id)])
            .map { row in
                let type: String = try row.decode("type")
                return try #require(UserEvent.Kind(rawValue: type), "an unknown event type \(type)")
            }
    }

    func outbox(of taskIDs: Set<String>) async throws -> [String] {
        try await postgres.query(
            "SELECT generation_id::text || ' ' || routing_key FROM ai.outbox WHERE generation_id = ANY (string_to_array($1, ',')::uuid[]) ORDER BY id",
            [.text(taskIDs.joined(separator: ","))]
        ).map { try $0.decode(at: 0, as: String.self) }
    }
}

extension InMemoryGenerationStore: GenerationFixtures {
    var store: any GenerationStore { self }

    func strand(
        id: String, userID: String, function: String, mode: String, maxTokens: Int, age: TimeInterval, attempts: Int, leaseLeft: TimeInterval?,
        owner: String?
    ) async throws {
        let now = clock.now
        let created = now - age
        state.withLock { state in
            state.rows[id] = Row(
                record: GenerationRecord(
                    id: id, userID: userID, function: function, topic: "Tides", language: "en", maxTokens: maxTokens, templateVersion: 1, mode: mode,
                    reservation: "generation:\(id)", status: .running, engine: nil, result: nil, failure: nil,
                    createdMicros: Int(created.timeIntervalSince1970 * 1_000_000), finishedMicros: nil),
                attempts: attempts, leaseOwner: leaseLeft == nil ? nil : owner ?? UUID().uuidString.lowercased(),
                leaseUntil: leaseLeft.map { now + $0 }, createdAt: created)
        }
    }

    func attempts(_ id: String) async throws -> Int {
        state.withLock { $0.rows[id]?.attempts ?? 0 }
    }

    func outbox(of taskIDs: Set<String>) async throws -> [String] {
        state.withLock { $0.outbox.filter { taskIDs.contains($0.taskID) }.map { "\($0.taskID) \($0.queue)" } }
    }
}

extension InMemoryAid {
    /// A generation as a stopped aid leaves it, with its unit reserved at the in-memory subscribed.
    func strand(user: String, function: String, mode: String, age: TimeInterval, leaseLeft: TimeInterval? = nil) async throws -> String {
        let id = UUID().uuidString.lowercased()
        _ = try await entitlements.reserve(userID: user, feature: "generate.short", units: 1, requestID: "generation:\(id)", maxTokens: nil)
        try await store.strand(
            id: id, userID: user, function: function, mode: mode, maxTokens: 100, age: age, attempts: 0, leaseLeft: leaseLeft, owner: nil)
        return id
    }
}

extension AidInstance {
    /// A generation as a stopped daemon leaves it, with its unit reserved at the in-memory subscribed.
    func strand(user: String, function: String, feature: String, mode: String, maxTokens: Int, attempts: Int = 0) async throws -> String {
        let id = UUID().uuidString.lowercased()
        _ = try await entitlements.reserve(userID: user, feature: feature, units: 1, requestID: "generation:\(id)", maxTokens: nil)
        try await PostgresGenerationFixtures(postgres: postgres).strand(
            id: id, userID: user, function: function, mode: mode, maxTokens: maxTokens, age: 0, attempts: attempts, leaseLeft: nil, owner: nil)
        return id
    }
}
