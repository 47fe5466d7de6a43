import Foundation
import Logging
import PostgresClient
import TestSupport
import Testing

@testable import Bots

/// The update store's contract, one body run over PostgreSQL (sql/015) and over the in-memory store
/// the rule tests use: if the two ever answer differently, these fail.
@Suite("The update store's contract, over PostgreSQL and in memory", .privatePostgres, .serialized)
struct UpdateStoreContractTests {
    /// A store, and a way to make every lease run out now.
    struct Fixtures {
        let store: any UpdateStore
        let expireLeases: @Sendable () async throws -> Void
    }

    static func with(_ kind: StoreKind, _ body: (Fixtures) async throws -> Void) async throws {
        switch kind {
        case .memory:
            let store = InMemoryUpdateStore()
            try await body(Fixtures(store: store, expireLeases: { store.advance(by: 3600) }))
        case .postgres:
            try await LocalServer.withSuitePostgres(logger: InMemoryBots.logger) { postgres in
                try await body(
                    Fixtures(
                        store: PostgresUpdateStore(postgres: postgres),
                        expireLeases: {
                            try await postgres.query("UPDATE bots.updates SET lease_until = now() - interval '1 second' WHERE lease_until IS NOT NULL")
                            try await postgres.query("UPDATE bots.sender_lease SET until = now() - interval '1 second'")
                        }))
            }
        }
    }

    /// Chats of each test's own (claims take every chat's updates, so the tests run one at a time).
    let chatA = TelegramUpdate.Chat(id: Int64.random(in: 1...1_000_000_000_000), isGroup: false)
    let chatB = TelegramUpdate.Chat(id: -Int64.random(in: 1...1_000_000_000_000), isGroup: true)

    static func newID() -> Int64 { Int64.random(in: 1...Int64(Int32.max)) * 1000 }

    /// Whether a claimed update is of this test's chats (a claim takes any chat's).
    func mine(_ update: StoredUpdate) -> Bool { update.chatID == chatA.id || update.chatID == chatB.id }

    @Test("an update is stored once, and each chat's oldest is handled first by one holder", arguments: StoreKind.allCases)
    func updates(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let base = Self.newID()
            #expect(try await store.accept(updateID: base + 1, chatID: chatA.id, body: "a1"))
            #expect(try await store.accept(updateID: base + 1, chatID: chatA.id, body: "a1") == false)
            #expect(try await store.accept(updateID: base + 2, chatID: chatA.id, body: "a2"))
            #expect(try await store.accept(updateID: base + 3, chatID: chatB.id, body: "b1"))

            let me = UUID()
            let other = UUID()
            let claimed = try await store.claim(holder: me, lease: .seconds(60), limit: 1000).filter(mine)
            #expect(claimed.map(\.updateID) == [base + 1, base + 3])
            // Held, and a chat's second waits for its first: nothing for another holder.
            #expect(try await store.claim(holder: other, lease: .seconds(60), limit: 1000).filter(mine).isEmpty)

            let reply = OutgoingMessage(chat: chatA, text: "reply to a1")
            #expect(try await store.finish(claimed[0], holder: me, replies: [reply], task: nil))
            #expect(try await store.finish(claimed[0], holder: me, replies: [reply], task: nil) == false, "handled once")
            #expect(try await store.waitingMessages(limit: 1000).filter { $0.chat == chatA }.map(\.text) == ["reply to a1"])
            #expect(try await store.claim(holder: other, lease: .seconds(60), limit: 1000).filter(mine).map(\.updateID) == [base + 2])

            // A holder whose lease ran out has lost the update: its end writes nothing.
            try await fixtures.expireLeases()
            let taken = try await store.claim(holder: UUID(), lease: .seconds(60), limit: 1000).filter(mine)
            #expect(taken.map(\.updateID) == [base + 2, base + 3])
            #expect(try await store.finish(claimed[1], holder: me, replies: [OutgoingMessage(chat: chatB, text: "late")], task: nil) == false)
            #expect(try await store.waitingMessages(limit: 1000).filter { $0.chat == chatB }.isEmpty)
            // Handed back: any holder takes it at once.
            try await store.release(taken[1], holder: UUID())
            #expect(
                try await store.claim(holder: UUID(), lease: .seconds(60), limit: 1000).filter(mine).isEmpty, "only its holder hands it back")
        }
    }

    @Test("replies go in order and leave when sent; one sender at a time; old handled updates are forgotten", arguments: StoreKind.allCases)
    func outboxAndLeases(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let base = Self.newID()
            _ = try await store.accept(updateID: base, chatID: chatB.id, body: "b")
            let update = try #require(try await store.claim(holder: UUID(), lease: .seconds(60), limit: 1000).first(where: mine))
            let holder = UUID()
            try await fixtures.expireLeases()
            _ = try await store.claim(holder: holder, lease: .seconds(60), limit: 1000)
            let replies = ["one", "two", "three"].map { OutgoingMessage(chat: chatB, text: $0) } + [OutgoingMessage(chat: chatA, text: "other")]
            #expect(try await store.finish(update, holder: holder, replies: replies, task: nil))
            // Each chat's oldest: a chat's later replies never hide another chat's.
            let waiting = try await store.waitingMessages(limit: 1000).filter { $0.chat == chatB || $0.chat == chatA }
            #expect(waiting.map(\.text) == ["one", "other"])
            #expect(waiting.first?.chat.isGroup == true)
            for expected in ["two", "three"] {
                let head = try #require(try await store.waitingMessages(limit: 1000).first { $0.chat == chatB })
                try await store.remove(messageID: head.id)
                #expect(try await store.waitingMessages(limit: 1000).first { $0.chat == chatB }?.text == expected)
            }

            let sender = UUID()
            try await fixtures.expireLeases()
            #expect(try await store.holdSenderLease(holder: sender, lease: .seconds(60)))
            #expect(try await store.holdSenderLease(holder: sender, lease: .seconds(60)), "renewed")
            #expect(try await store.holdSenderLease(holder: UUID(), lease: .seconds(60)) == false)
            try await fixtures.expireLeases()
            let next = UUID()
            #expect(try await store.holdSenderLease(holder: next, lease: .seconds(60)), "taken over once it ran out")
            try await store.releaseSenderLease(holder: sender)
            #expect(try await store.holdSenderLease(holder: UUID(), lease: .seconds(60)) == false, "only its holder gives it up")
            try await store.releaseSenderLease(holder: next)
            #expect(try await store.holdSenderLease(holder: UUID(), lease: .seconds(60)), "given up: taken at once")

            #expect(try await store.prune(handledBefore: Date().addingTimeInterval(-3600)) >= 0)
            #expect(try await store.accept(updateID: base, chatID: chatB.id, body: "b") == false, "kept against redeliveries")
            _ = try await store.prune(handledBefore: Date().addingTimeInterval(7200))
            #expect(try await store.accept(updateID: base, chatID: chatB.id, body: "b"), "forgotten after keep")
        }
    }

    @Test("a restarted holder hands back what it held, at once", arguments: StoreKind.allCases)
    func restart(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let base = Self.newID()
            _ = try await store.accept(updateID: base, chatID: chatA.id, body: "a")
            let instance = UUID()
            #expect(try await store.claim(holder: instance, lease: .seconds(600), limit: 1000).contains(where: mine))
            #expect(try await store.claim(holder: UUID(), lease: .seconds(600), limit: 1000).contains(where: mine) == false)
            try await store.releaseAll(holder: instance)
            let again = try #require(try await store.claim(holder: instance, lease: .seconds(600), limit: 1000).first(where: mine))
            #expect(again.attempts == 2, "each handling counts")
            #expect(try await store.renew(again, holder: instance, lease: .seconds(600)))
            #expect(try await store.renew(again, holder: UUID(), lease: .seconds(600)) == false)
        }
    }

    @Test("a task's end queues its replies once", arguments: StoreKind.allCases)
    func tasks(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let base = Self.newID()
            _ = try await store.accept(updateID: base, chatID: chatA.id, body: "a")
            let holder = UUID()
            try await fixtures.expireLeases()
            let update = try #require(try await store.claim(holder: holder, lease: .seconds(60), limit: 1000).first(where: mine))
            let taskID = UUID().uuidString.lowercased()
            let task = PendingTask(
                taskID: taskID, chat: chatA, sender: .init(id: 5, firstName: "Ada", username: nil, languageCode: "ru", isBot: false), language: .russian)
            #expect(try await store.finish(update, holder: holder, replies: [], task: task))
            #expect(try await store.pendingTask(taskID) == task)
            #expect(try await store.pendingTask(UUID().uuidString) == nil)
            #expect(try await store.endTask(taskID, replies: [OutgoingMessage(chat: chatA, text: "done")]))
            #expect(try await store.endTask(taskID, replies: [OutgoingMessage(chat: chatA, text: "done")]) == false)
            #expect(try await store.waitingMessages(limit: 1000).filter { $0.chat == chatA && $0.text == "done" }.count == 1)
            #expect(try await store.pendingTask(taskID) == nil)
        }
    }
}
