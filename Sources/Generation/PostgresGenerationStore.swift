import Contracts
import Foundation
import PostgresClient
import ServiceKit

/// aid's tables in PostgreSQL (schema `ai`, sql/006).
struct PostgresGenerationStore: GenerationStore {
    let postgres: PostgresClient

    private static let columns: SQL = """
        g.id::text AS id, g.user_id::text AS user_id, g.function, g.topic, g.language, g.max_tokens, g.template_version, g.mode, g.status,
        g.reservation,
        g.engine, g.result, g.failure, g.cached, g.truncated, g.request_id, g.trace_id, (extract(epoch FROM g.created_at) * 1000000)::bigint AS created_micros,
        (extract(epoch FROM g.finished_at) * 1000000)::bigint AS finished_micros
        """

    private static func record(_ row: PostgresRow) throws -> GenerationRecord {
        let status: String = try row.decode("status")
        guard let known = GenerationRecord.Status(rawValue: status) else { throw unknownStatus(status) }
        return GenerationRecord(
            id: try row.decode("id"), userID: try row.decode("user_id"), function: try row.decode("function"), topic: try row.decode("topic"),
            language: try row.decode("language"), maxTokens: try row.decode("max_tokens"), templateVersion: try row.decode("template_version"),
            mode: try row.decode("mode"), reservation: try row.decode("reservation"), status: known, engine: try row.decode("engine"),
            result: try row.decode("result"),
            failure: try row.decode("failure"), cached: try row.decode("cached"), truncated: try row.decode("truncated"),
            requestID: try row.decode("request_id"), traceID: try row.decode("trace_id"), createdMicros: try row.decode("created_micros"),
            finishedMicros: try row.decode("finished_micros"))
    }

    private static func unknownStatus(_ status: String) -> PostgresError {
        PostgresError(code: .decoding, message: "ai.generations.status holds '\(status)', which this version of aid does not know")
    }

    func template(for function: String) async throws -> PromptTemplate? {
        let rows = try await postgres.query(
            "SELECT function, version, system, instruction FROM ai.prompt_templates WHERE function = $1 ORDER BY version DESC LIMIT 1", [.text(function)])
        return try rows.first.map(Self.template)
    }

    private static func template(_ row: PostgresRow) throws -> PromptTemplate {
        PromptTemplate(
            function: try row.decode("function"), version: try row.decode("version"), system: try row.decode("system"),
            instruction: try row.decode("instruction"))
    }

    /// One statement whatever the batch holds: the starts, the tasks (each with its outbox message)
    /// and the endings written by data-modifying parts of it, each from a JSON list, so that the
    /// batch costs one round trip and one commit. A batch never ends a row it starts or queues (an
    /// ending waits for that write's answer). Of two endings of one row, the first is written and
    /// the second finds it ended (one statement may not change a row twice).
    func write(_ writes: [GenerationWrite]) async throws -> [Bool] {
        var starts: [RowColumns] = []
        var tasks: [RowColumns] = []
        var endings: [RowColumns] = []
        var sent: [Bool] = []
        var endingIDs: Set<String> = []
        for write in writes {
            switch write {
            case .start(let record, let owner, let lease):
                starts.append(RowColumns(record, leaseOwner: owner, lease: lease.seconds))
                sent.append(true)
            case .task(let record, let idempotencyKey, let paid, let queue):
                tasks.append(RowColumns(record, idempotencyKey: idempotencyKey, paid: paid, queue: queue))
                sent.append(true)
            case .end(let record, let ending):
                let first = endingIDs.insert(record.id).inserted
                if first { endings.append(RowColumns(record, ending: ending)) }
                sent.append(first)
            }
        }
        let written = try await postgres.query(
            endings.isEmpty && tasks.isEmpty ? Self.startBatch : Self.batch,
            [try .json(starts), try .json(tasks), try .json(endings)])
        let writtenIDs = Set(try written.map { row -> String in try row.decode("id") })
        return zip(writes, sent).map { write, sent in
            switch write {
            case .start: true
            case .task(let record, _, _, _), .end(let record, _): sent && writtenIDs.contains(record.id)
            }
        }
    }

    /// ``write(_:)``'s statement for a batch with tasks or endings, committed as every write is.
    private static let batch = batchStatement(commit: "")
    /// The same for a batch of starts only, committed without waiting for the WAL flush: a start
    /// lost in a crash of PostgreSQL is written whole by its ending, and the reservation it follows
    /// is durable at subscribed.
    private static let startBatch = batchStatement(commit: ", \(SQL.asynchronousCommit)")

    private static func batchStatement(commit: SQL) -> SQL {
        """
        WITH started AS (
            INSERT INTO ai.generations (id, user_id, function, topic, language, max_tokens, template_version, mode, status, reservation,
                                        lease_owner, lease_until, request_id, trace_id)
            SELECT s.id, s.user_id, s.function, s.topic, s.language, s.max_tokens, s.template_version, s.mode, s.status, s.reservation,
                   s.lease_owner, clock_timestamp() + s.lease_seconds * interval '1 second', s.request_id, s.trace_id
            FROM json_to_recordset($1::json) AS s(\(recordColumns), lease_owner uuid, lease_seconds float8)\(commit)
        ),
        tasks AS (
            SELECT * FROM json_to_recordset($2::json) AS t(\(recordColumns), idempotency_key text, paid boolean, queue text)
        ),
        queued AS (
            INSERT INTO ai.generations (id, user_id, function, topic, language, max_tokens, template_version, mode, status, reservation,
                                        request_id, trace_id, idempotency_key, paid, queued_at)
            SELECT t.id, t.user_id, t.function, t.topic, t.language, t.max_tokens, t.template_version, t.mode, t.status, t.reservation,
                   t.request_id, t.trace_id, t.idempotency_key, t.paid, clock_timestamp()
            FROM tasks t
            ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id
        ),
        messages AS (
            INSERT INTO ai.outbox (generation_id, routing_key) SELECT t.id, t.queue FROM tasks t JOIN queued q ON q.id = t.id
        ),
        ended AS (
            INSERT INTO ai.generations AS g (id, user_id, function, topic, language, max_tokens, template_version, mode, reservation, request_id,
                                             trace_id, status, engine, result, failure, cached, truncated, finished_at)
            SELECT e.id, e.user_id, e.function, e.topic, e.language, e.max_tokens, e.template_version, e.mode, e.reservation, e.request_id,
                   e.trace_id,
                   e.status, e.engine, e.result, e.failure, e.cached, e.truncated, clock_timestamp()
            FROM json_to_recordset($3::json) AS e(\(recordColumns), engine text, result text, failure text, cached boolean, truncated boolean)
            ON CONFLICT (id) DO UPDATE
            SET status = excluded.status, engine = excluded.engine, result = excluded.result, failure = excluded.failure, cached = excluded.cached,
                truncated = excluded.truncated, finished_at = excluded.finished_at
            WHERE g.status IN ('queued', 'running')
            RETURNING g.id
        )
        SELECT id::text AS id FROM queued UNION ALL SELECT id::text FROM ended
        """
    }

    /// The columns of a generation's record in the batch statement's JSON lists.
    private static let recordColumns: SQL = """
        id uuid, user_id uuid, function text, topic text, language text, max_tokens integer, template_version integer, mode text, status text,
        reservation text, request_id text, trace_id text
        """

    /// A start, a task or an ending as the batch statement reads it: the record's columns, with its
    /// lease (a start), its key and queue (a task) or how it ended (an ending).
    private struct RowColumns: Encodable {
        let id, user_id, function, topic, language: String
        let max_tokens, template_version: Int
        let mode, status: String
        let reservation, request_id, trace_id: String?
        var lease_owner: String?
        var lease_seconds: Double?
        var engine, result, failure: String?
        var cached, truncated: Bool?
        var idempotency_key: String?
        var paid: Bool?
        var queue: String?

        private init(_ record: GenerationRecord, status: GenerationRecord.Status) {
            (id, user_id, function, topic, language) = (record.id, record.userID, record.function, record.topic, record.language)
            (max_tokens, template_version, mode, self.status) = (record.maxTokens, record.templateVersion, record.mode, status.rawValue)
            (reservation, request_id, trace_id) = (record.reservation, record.requestID, record.traceID)
        }

        init(_ record: GenerationRecord, leaseOwner: String, lease: Double) {
            self.init(record, status: record.status)
            (lease_owner, lease_seconds) = (leaseOwner, lease)
        }

        init(_ record: GenerationRecord, idempotencyKey: String?, paid: Bool, queue: String) {
            self.init(record, status: record.status)
            (idempotency_key, self.paid, self.queue) = (idempotencyKey, paid, queue)
        }

        init(_ record: GenerationRecord, ending: GenerationEnding) {
            self.init(record, status: ending.status)
            (engine, result, failure, cached, truncated) = (ending.engine, ending.result, ending.failure, ending.cached, ending.truncated)
        }
    }

    func renewLeases(ids: [String], owner: String, lease: Duration, longest: Duration) async throws {
        guard !ids.isEmpty else { return }
        _ = try await postgres.query(
            """
            UPDATE ai.generations SET lease_until = clock_timestamp() + $3 * interval '1 second'
            WHERE id = ANY (string_to_array($1, ',')::uuid[]) AND lease_owner = $2::uuid AND status = 'running'
              AND created_at > clock_timestamp() - $4 * interval '1 second'
            """, [.text(ids.joined(separator: ",")), .text(owner), .double(lease.seconds), .double(longest.seconds)])
    }

    func generation(id: String, userID: String) async throws -> GenerationRecord? {
        try await postgres.query(
            "SELECT \(Self.columns) FROM ai.generations g WHERE g.id = $1::uuid AND g.user_id = $2::uuid", [.text(id), .text(userID)]
        ).first.map(Self.record)
    }

    /// The first page and the pages after a cursor are statements of their own: each prepared
    /// statement keeps a plan that bounds its index scan (a generic plan cannot drop a
    /// `$n IS NULL OR ...` branch).
    func history(userID: String, limit: Int, before: PageCursor?) async throws -> [GenerationRecord] {
        guard let before else {
            return try await postgres.query(
                "SELECT \(Self.columns) FROM ai.generations g WHERE g.user_id = $1::uuid ORDER BY g.created_at DESC, g.id DESC LIMIT $2::integer",
                [.text(userID), .int(limit)]
            ).map(Self.record)
        }
        // In whole microseconds, PostgreSQL's own precision, so that the cursor compares exactly.
        return try await postgres.query(
            """
            SELECT \(Self.columns) FROM ai.generations g
            WHERE g.user_id = $1::uuid AND (g.created_at, g.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)
            ORDER BY g.created_at DESC, g.id DESC LIMIT $2::integer
            """,
            [.text(userID), .int(limit), .int(before.micros), .text(before.id)]
        ).map(Self.record)
    }

    // MARK: Tasks

    private static let byIdempotencyKey: SQL = "SELECT \(Self.columns) FROM ai.generations g WHERE g.user_id = $1::uuid AND g.idempotency_key = $2"

    func task(userID: String, idempotencyKey: String) async throws -> GenerationRecord? {
        try await postgres.query(Self.byIdempotencyKey, [.text(userID), .text(idempotencyKey)]).first.map(Self.record)
    }

    func cancel(id: String, userID: String) async throws -> CancelResult {
        // The row is locked first, so the status answered is the one the update changed.
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query(
                "SELECT status, reservation FROM ai.generations WHERE id = $1::uuid AND user_id = $2::uuid AND mode = 'queued' FOR UPDATE",
                [.text(id), .text(userID)])
            guard let row = rows.first else { return .notFound }
            let status: String = try row.decode("status")
            guard let known = GenerationRecord.Status(rawValue: status) else { throw Self.unknownStatus(status) }
            guard known == .queued || known == .running else { return .ended(known) }
            _ = try await transaction.query(
                "UPDATE ai.generations SET status = 'canceled', failure = 'canceled', finished_at = clock_timestamp() WHERE id = $1::uuid",
                [.text(id)])
            return .canceled(reservation: try row.decode("reservation"), wasRunning: known == .running)
        }
    }

    func relayOutbox(limit: Int, publish: ([OutboxMessage]) async -> [Bool]) async throws -> Int {
        try await postgres.withTransaction { transaction in
            let rows = try await transaction.query(
                """
                SELECT o.id, o.generation_id::text AS task_id, o.routing_key, g.trace_id FROM ai.outbox o LEFT JOIN ai.generations g ON g.id = o.generation_id
                ORDER BY o.id LIMIT $1::integer FOR UPDATE OF o SKIP LOCKED
                """, [.int(limit)])
            let messages = try rows.map { row in
                OutboxMessage(
                    id: try row.decode("id"), taskID: try row.decode("task_id"), queue: try row.decode("routing_key"), traceID: try row.decode("trace_id"))
            }
            guard !messages.isEmpty else { return 0 }
            let confirmed = zip(messages, await publish(messages)).filter(\.1).map { String($0.0.id) }
            // A delete lost in a crash of PostgreSQL publishes its messages again, which a genworker
            // takes as any redelivery: the task's claim lets one engine call run.
            if !confirmed.isEmpty {
                _ = try await transaction.query(
                    "DELETE FROM ai.outbox USING \(SQL.asynchronousCommit) WHERE id = ANY (string_to_array($1, ',')::bigint[])",
                    [.text(confirmed.joined(separator: ","))])
            }
            return confirmed.count
        }
    }

    // MARK: genworker

    func template(for function: String, version: Int) async throws -> PromptTemplate? {
        try await postgres.query(
            "SELECT function, version, system, instruction FROM ai.prompt_templates WHERE function = $1 AND version = $2::integer",
            [.text(function), .int(version)]
        ).first.map(Self.template)
    }

    func task(id: String) async throws -> GenerationRecord? {
        try await postgres.query("SELECT \(Self.columns) FROM ai.generations g WHERE g.id = $1::uuid", [.text(id)]).first.map(Self.record)
    }

    func claim(id: String, owner: String, lease: Duration) async throws -> TaskClaim {
        // The row as it was (locked first): a task's wait counts only if it was in a queue.
        let claimed = try await postgres.query(
            """
            WITH was AS (SELECT id, status, coalesce(queued_at, created_at) AS since FROM ai.generations WHERE id = $1::uuid FOR UPDATE)
            UPDATE ai.generations g
            SET status = 'running', attempts = attempts + 1, failure = NULL, lease_owner = $2::uuid,
                lease_until = clock_timestamp() + $3 * interval '1 second'
            FROM was
            WHERE g.id = was.id
              AND (g.status = 'queued' OR (g.status = 'running' AND (g.lease_until IS NULL OR g.lease_until < clock_timestamp() OR g.lease_owner = $2::uuid)))
            RETURNING g.attempts, CASE WHEN was.status = 'queued' THEN extract(epoch FROM clock_timestamp() - was.since)::float8 END AS waited_seconds
            """, [.text(id), .text(owner), .double(lease.seconds)])
        if let row = claimed.first {
            let waited: Double? = try row.decode("waited_seconds")
            return .claimed(attempt: try row.decode("attempts"), waited: waited.map { .seconds(max($0, 0)) })
        }
        let held = try await postgres.query(
            """
            SELECT extract(epoch FROM lease_until - clock_timestamp())::float8 AS left_seconds FROM ai.generations
            WHERE id = $1::uuid AND status = 'running'
            """, [.text(id)])
        guard let row = held.first else { return .ended }
        let left: Double = try row.decode("left_seconds")
        return .held(for: .seconds(max(left, 0)))
    }

    func oldestQueuedTaskAge() async throws -> Duration? {
        let rows = try await postgres.query(
            "SELECT extract(epoch FROM clock_timestamp() - min(coalesce(queued_at, created_at)))::float8 AS age_seconds FROM ai.generations WHERE status = 'queued'"
        )
        let age: Double? = try rows.first?.decode("age_seconds")
        return age.map { .seconds(max($0, 0)) }
    }

    func renew(id: String, owner: String, lease: Duration) async throws -> (status: GenerationRecord.Status, held: Bool)? {
        // Most checks find the lease long enough and write nothing. The read sees the row as the
        // statement began: a lease long enough then cannot have been claimed since (a claim takes
        // only a lease run out), and a short one is held only if the renewal, which sees the newest
        // row, renewed it.
        let rows = try await postgres.query(
            """
            WITH checked AS (SELECT clock_timestamp() AS at),
            renewed AS (
                UPDATE ai.generations g SET lease_until = checked.at + $3 * interval '1 second' FROM checked
                WHERE g.id = $1::uuid AND g.status = 'running' AND g.lease_owner = $2::uuid
                  AND g.lease_until < checked.at + $3 * $4 * interval '1 second'
                RETURNING g.id
            )
            SELECT g.status,
                   coalesce(g.lease_owner = $2::uuid
                            AND (EXISTS (SELECT FROM renewed) OR g.lease_until >= checked.at + $3 * $4 * interval '1 second'), false) AS held
            FROM ai.generations g, checked WHERE g.id = $1::uuid
            """, [.text(id), .text(owner), .double(lease.seconds), .double(renewalThreshold)])
        guard let row = rows.first else { return nil }
        let status: String = try row.decode("status")
        guard let known = GenerationRecord.Status(rawValue: status) else { throw Self.unknownStatus(status) }
        return (known, try row.decode("held"))
    }

    func keepCanceledText(id: String, text: String, engine: String, cached: Bool) async throws -> Bool {
        try await !postgres.query(
            """
            UPDATE ai.generations SET result = $2, engine = $3, cached = $4 WHERE id = $1::uuid AND status = 'canceled' AND result IS NULL
            RETURNING id
            """,
            [.text(id), .text(text), .text(engine), .bool(cached)]
        ).isEmpty
    }

    func requeue(id: String, failure: String) async throws {
        _ = try await postgres.query(
            """
            UPDATE ai.generations SET status = 'queued', failure = $2, lease_owner = NULL, lease_until = NULL, queued_at = clock_timestamp()
            WHERE id = $1::uuid AND status = 'running'
            """,
            [.text(id), .text(failure)])
    }

    // MARK: skillctl

    func replay(id: String) async throws -> Bool {
        try await postgres.withTransaction { transaction in
            let reset = try await transaction.query(
                """
                UPDATE ai.generations
                SET status = 'queued', attempts = 0, failure = NULL, engine = NULL, result = NULL, finished_at = NULL, lease_owner = NULL,
                    queued_at = clock_timestamp(),
                    lease_until = NULL,
                    reservation = CASE WHEN status = 'failed' THEN NULL ELSE reservation END
                WHERE id = $1::uuid AND status IN ('failed', 'queued', 'running') AND mode = 'queued'
                  AND NOT (status = 'running' AND coalesce(lease_until > clock_timestamp(), false)) RETURNING paid
                """, [.text(id)])
            guard let row = reset.first else { return false }
            let paid: Bool = try row.decode("paid")
            _ = try await transaction.query(
                "INSERT INTO ai.outbox (generation_id, routing_key) VALUES ($1::uuid, $2)", [.text(id), .text(GenerationTaskMessage.workQueue(paid: paid))])
            return true
        }
    }

    // MARK: aid's sweep

    func failAbandoned(owner: String, serving: [String]) async throws -> [String?] {
        try await postgres.query(
            """
            UPDATE ai.generations SET status = 'failed', failure = 'interrupted', finished_at = clock_timestamp()
            WHERE mode IN ('immediate', 'streamed') AND status = 'running'
              AND coalesce(lease_until, created_at + $1 * interval '1 second') < clock_timestamp()
              AND NOT (lease_owner IS NOT DISTINCT FROM $2::uuid AND id = ANY (string_to_array($3, ',')::uuid[]))
            RETURNING reservation
            """, [.double(GenerationLeases.unleased.seconds), .text(owner), .text(serving.joined(separator: ","))]
        ).map { try $0.decode("reservation") }
    }
}
