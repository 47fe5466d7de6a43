import Foundation
import PostgresClient

/// botd's tables (schema `bots`, sql/015). Every statement is parameterized.
struct PostgresUpdateStore: UpdateStore {
    let postgres: PostgresClient

    func accept(updateID: Int64, chatID: Int64, body: String) async throws -> Bool {
        let rows = try await postgres.query(
            "INSERT INTO bots.updates (update_id, chat_id, body) VALUES ($1, $2, $3) ON CONFLICT (update_id) DO NOTHING RETURNING 1",
            [.int(Int(updateID)), .int(Int(chatID)), .text(body)])
        return !rows.isEmpty
    }

    /// The head of each chat's queue of unhandled updates, skipping heads another holder's live
    /// lease or row lock has: a chat's next update waits until the one before it is handled.
    func claim(holder: UUID, lease: Duration, limit: Int) async throws -> [StoredUpdate] {
        let rows = try await postgres.query(
            """
            UPDATE bots.updates SET lease_holder = $1::uuid, lease_until = now() + $2 * interval '1 second', attempts = attempts + 1
            WHERE update_id IN (
                SELECT u.update_id FROM bots.updates u
                WHERE u.handled_at IS NULL AND (u.lease_until IS NULL OR u.lease_until < now())
                  AND NOT EXISTS (SELECT 1 FROM bots.updates e WHERE e.chat_id = u.chat_id AND e.handled_at IS NULL AND e.update_id < u.update_id)
                ORDER BY u.update_id LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING update_id, chat_id, body, attempts
            """, [.text(holder.uuidString), .double(lease.seconds), .int(limit)])
        return try rows.map {
            StoredUpdate(
                updateID: Int64(try $0.decode(at: 0) as Int), chatID: Int64(try $0.decode(at: 1) as Int), body: try $0.decode(at: 2),
                attempts: try $0.decode(at: 3))
        }
        .sorted { $0.updateID < $1.updateID }
    }

    func finish(_ update: StoredUpdate, holder: UUID, replies: [OutgoingMessage], task: PendingTask?) async throws -> Bool {
        try await postgres.withTransaction { transaction in
            let held = try await transaction.query(
                "UPDATE bots.updates SET handled_at = now(), lease_holder = NULL, lease_until = NULL WHERE update_id = $1 AND lease_holder = $2::uuid AND handled_at IS NULL RETURNING 1",
                [.int(Int(update.updateID)), .text(holder.uuidString)])
            guard !held.isEmpty else { return false }
            try await Self.queue(replies, in: transaction)
            if let task {
                try await transaction.query(
                    """
                    INSERT INTO bots.tasks (task_id, chat_id, is_group, telegram_id, first_name, username, language_code, language)
                    VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (task_id) DO NOTHING
                    """,
                    [
                        .text(task.taskID), .int(Int(task.chat.id)), .bool(task.chat.isGroup), .int(Int(task.sender.id)), .text(task.sender.firstName),
                        .text(task.sender.username), .text(task.sender.languageCode), .text(task.language.rawValue),
                    ])
            }
            return true
        }
    }

    private static func queue(_ replies: [OutgoingMessage], in transaction: PostgresTransaction) async throws {
        for reply in replies {
            try await transaction.query(
                "INSERT INTO bots.outbox (chat_id, is_group, text) VALUES ($1, $2, $3)",
                [.int(Int(reply.chat.id)), .bool(reply.chat.isGroup), .text(reply.text)])
        }
    }

    func renew(_ update: StoredUpdate, holder: UUID, lease: Duration) async throws -> Bool {
        try await !postgres.query(
            "UPDATE bots.updates SET lease_until = now() + $3 * interval '1 second' WHERE update_id = $1 AND lease_holder = $2::uuid AND handled_at IS NULL RETURNING 1",
            [.int(Int(update.updateID)), .text(holder.uuidString), .double(lease.seconds)]
        ).isEmpty
    }

    func release(_ update: StoredUpdate, holder: UUID) async throws {
        try await postgres.query(
            "UPDATE bots.updates SET lease_holder = NULL, lease_until = NULL WHERE update_id = $1 AND lease_holder = $2::uuid",
            [.int(Int(update.updateID)), .text(holder.uuidString)])
    }

    func releaseAll(holder: UUID) async throws {
        try await postgres.query(
            "UPDATE bots.updates SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = $1::uuid AND handled_at IS NULL", [.text(holder.uuidString)])
    }

    func prune(handledBefore before: Date) async throws -> Int {
        try await postgres.query("DELETE FROM bots.tasks WHERE created_at < to_timestamp($1)", [.double(before.timeIntervalSince1970)])
        return try await postgres.query(
            "WITH gone AS (DELETE FROM bots.updates WHERE handled_at < to_timestamp($1) RETURNING 1) SELECT count(*)::int8 FROM gone",
            [.double(before.timeIntervalSince1970)])[0].decode(at: 0)
    }

    func holdSenderLease(holder: UUID, lease: Duration) async throws -> Bool {
        let rows = try await postgres.query(
            """
            INSERT INTO bots.sender_lease AS lease (id, holder, until) VALUES (1, $1::uuid, now() + $2 * interval '1 second')
            ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
            WHERE lease.holder = EXCLUDED.holder OR lease.until < now()
            RETURNING 1
            """, [.text(holder.uuidString), .double(lease.seconds)])
        return !rows.isEmpty
    }

    func releaseSenderLease(holder: UUID) async throws {
        try await postgres.query("DELETE FROM bots.sender_lease WHERE holder = $1::uuid", [.text(holder.uuidString)])
    }

    func waitingMessages(limit: Int) async throws -> [QueuedMessage] {
        try await postgres.query(
            "SELECT * FROM (SELECT DISTINCT ON (chat_id) id, chat_id, is_group, text FROM bots.outbox ORDER BY chat_id, id) heads ORDER BY id LIMIT $1",
            [.int(limit)]
        ).map {
            QueuedMessage(
                id: Int64(try $0.decode(at: 0) as Int), chat: TelegramUpdate.Chat(id: Int64(try $0.decode(at: 1) as Int), isGroup: try $0.decode(at: 2)),
                text: try $0.decode(at: 3))
        }
    }

    func remove(messageID: Int64) async throws {
        try await postgres.query("DELETE FROM bots.outbox WHERE id = $1", [.int(Int(messageID))])
    }

    func pendingTask(_ taskID: String) async throws -> PendingTask? {
        guard UUID(uuidString: taskID) != nil else { return nil }
        return try await postgres.query(
            "SELECT chat_id, is_group, telegram_id, first_name, username, language_code, language FROM bots.tasks WHERE task_id = $1::uuid", [.text(taskID)]
        ).first.map { row in
            PendingTask(
                taskID: taskID.lowercased(), chat: TelegramUpdate.Chat(id: Int64(try row.decode(at: 0) as Int), isGroup: try row.decode(at: 1)),
                sender: TelegramUpdate.Sender(
                    id: Int64(try row.decode(at: 2) as Int), firstName: try row.decode(at: 3), username: try row.decode(at: 4),
                    languageCode: try row.decode(at: 5),
                    isBot: false),
                language: BotLanguage(rawValue: try row.decode(at: 6)) ?? .english)
        }
    }

    func endTask(_ taskID: String, replies: [OutgoingMessage]) async throws -> Bool {
        guard UUID(uuidString: taskID) != nil else { return false }
        return try await postgres.withTransaction { transaction in
            guard try await !transaction.query("DELETE FROM bots.tasks WHERE task_id = $1::uuid RETURNING 1", [.text(taskID)]).isEmpty else { return false }
            try await Self.queue(replies, in: transaction)
            return true
        }
    }
}

extension Duration {
    /// The duration in seconds, as SQL intervals take it.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
