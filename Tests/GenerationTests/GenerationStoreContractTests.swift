import Contracts
import Foundation
import ServiceKit
import TestSupport
import Testing

@testable import Generation

/// The store's contract, one body run over PostgreSQL (sql/006-010) and over the in-memory store
/// the rule tests use: if the two ever answer differently, these fail.
@Suite("The generation store's contract, over PostgreSQL and in memory", .privatePostgres)
struct GenerationStoreContractTests {
    static func record(
        user: String = UUID().uuidString.lowercased(), function: String = "summary", mode: String = "immediate", topic: String = "Tides",
        templateVersion: Int = 1
    ) throws -> GenerationRecord {
        let input = try GenerationInput(GenerateBody(topic: topic, function: function, options: nil, stream: mode == "streamed"))
        return GenerationRecord.new(id: GenerationRecord.newID(), input, userID: user, templateVersion: templateVersion, mode: mode, maxTokens: 100)
    }

    @Test("a generation is stored running, ended once, read back by its user only, and paged newest first", arguments: StoreKind.allCases)
    func generations(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            #expect(try await store.template(for: "summary")?.version == 1)
            #expect(try await store.template(for: "poem") == nil)
            let user = UUID().uuidString.lowercased()
            var records: [GenerationRecord] = []
            for topic in ["First", "Second", "Third"] {
                let record = try Self.record(user: user, topic: topic)
                #expect(try await store.write([.start(record, leasedTo: UUID().uuidString.lowercased(), for: .seconds(30))]) == [true])
                records.append(record)
            }
            let ids = records.map(\.id)
            let ending = GenerationEnding(status: .succeeded, engine: "offline", result: "Tides rise.", truncated: true)
            #expect(try await store.write([.end(records[0], ending)]) == [true])
            #expect(try await store.write([.end(records[0], GenerationEnding(status: .failed, engine: "offline", failure: "late"))]) == [false], "ended once")
            let stored = try #require(try await store.generation(id: ids[0], userID: user))
            #expect(stored.status == .succeeded && stored.result == "Tides rise." && stored.truncated && stored.finishedMicros != nil)
            #expect(try await store.generation(id: ids[0], userID: UUID().uuidString.lowercased()) == nil)
            let page = try await store.history(userID: user, limit: 2, before: nil)
            #expect(page.map(\.topic) == ["Third", "Second"])
            let last = try #require(page.last)
            let rest = try await store.history(userID: user, limit: 2, before: PageCursor(micros: last.createdMicros, id: last.id))
            #expect(rest.map(\.topic) == ["First"])
        }
    }

    @Test(
        "a batch writes its starts and endings at once: each ending answers whether it ended its row, a row ended before keeps its ending, and one whose start was lost is written whole",
        arguments: StoreKind.allCases)
    func batches(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            let running = try #require(try await store.task(id: try await fixtures.strand(userID: user)))
            let ended = try #require(try await store.task(id: try await fixtures.strand(userID: user)))
            let late = GenerationEnding(status: .failed, engine: "offline", failure: "late")
            #expect(try await store.write([.end(ended, GenerationEnding(status: .canceled, engine: "offline", failure: "client_gone"))]) == [true])
            let lost = try Self.record(user: user, mode: "streamed", topic: "Lost")
            let (first, second) = (try Self.record(user: user, topic: "First"), try Self.record(user: user, mode: "streamed", topic: "Second"))
            let owner = UUID().uuidString.lowercased()
            let answers = try await store.write([
                .start(first, leasedTo: owner, for: .seconds(30)),
                .end(running, GenerationEnding(status: .succeeded, engine: "offline", result: "Tides rise.")),
                .end(ended, late),
                .start(second, leasedTo: owner, for: .seconds(30)),
                .end(lost, GenerationEnding(status: .succeeded, engine: "offline", result: "Kept.", truncated: true)),
            ])
            #expect(answers == [true, true, false, true, true])
            #expect(try await store.generation(id: running.id, userID: user)?.result == "Tides rise.")
            let kept = try #require(try await store.generation(id: ended.id, userID: user))
            #expect(kept.status == .canceled && kept.failure == "client_gone")
            let rewritten = try #require(try await store.generation(id: lost.id, userID: user))
            #expect(rewritten.status == .succeeded && rewritten.result == "Kept." && rewritten.truncated && rewritten.topic == "Lost")
            #expect(rewritten.mode == "streamed" && rewritten.reservation == lost.reservation && rewritten.finishedMicros != nil)
            // Each ending told the user once, whether it updated its row or wrote it whole.
            #expect(try await fixtures.userEvents(of: running.id) == [.generationSucceeded])
            #expect(try await fixtures.userEvents(of: ended.id) == [.generationCanceled])
            #expect(try await fixtures.userEvents(of: lost.id) == [.generationSucceeded])
            // A start, a task and an ending in one batch.
            let (mixedStart, mixedTask) = (try Self.record(user: user, topic: "Mixed"), try Self.record(user: user, function: "lesson_plan", mode: "queued"))
            let mixedEnd = try #require(try await store.task(id: try await fixtures.strand(userID: user)))
            let mixed = try await store.write([
                .start(mixedStart, leasedTo: owner, for: .seconds(30)), .task(mixedTask, idempotencyKey: nil, paid: false, queue: "generate.long"),
                .end(mixedEnd, GenerationEnding(status: .failed, engine: "offline", failure: "engine_failed")),
            ])
            #expect(mixed == [true, true, true])
            #expect(try await store.task(id: mixedStart.id)?.status == .running)
            #expect(try await store.task(id: mixedTask.id)?.status == .queued)
            #expect(try await fixtures.outbox(of: [mixedTask.id]) == ["\(mixedTask.id) generate.long"])
            #expect(try await store.task(id: mixedEnd.id)?.failure == "engine_failed")
            // Two endings of one row in a batch: the first is written, the second finds it ended.
            let twice = try #require(try await store.task(id: try await fixtures.strand(userID: user)))
            #expect(try await store.write([.end(twice, late), .end(twice, GenerationEnding(status: .succeeded, engine: "offline"))]) == [true, false])
            #expect(try await store.task(id: twice.id)?.failure == "late")
            for started in [first, second] {
                let stored = try #require(try await store.generation(id: started.id, userID: user))
                #expect(stored.status == .running && stored.mode == started.mode && stored.topic == started.topic && stored.finishedMicros == nil)
            }
        }
    }

    @Test("a batch PostgreSQL refuses is written again one write at a time: only the write at fault fails")
    func refusedBatch() async throws {
        try await StoreKind.postgres.with { fixtures in
            let user = UUID().uuidString.lowercased()
            let (good, other) = (try Self.record(user: user, topic: "Good"), try Self.record(user: user, topic: "Other"))
            let noTemplate = try Self.record(user: user, topic: "Bad", templateVersion: 99)
            let owner = UUID().uuidString.lowercased()
            let outcomes = await GenerationRows.write(
                [
                    .start(good, leasedTo: owner, for: .seconds(30)), .start(noTemplate, leasedTo: owner, for: .seconds(30)),
                    .start(other, leasedTo: owner, for: .seconds(30)),
                ],
                to: fixtures.store)
            #expect(outcomes.map { (try? $0.get()) != nil } == [true, false, true])
            for record in [good, other] { #expect(try await fixtures.store.generation(id: record.id, userID: user)?.status == .running) }
            #expect(try await fixtures.store.generation(id: noTemplate.id, userID: user) == nil)
        }
    }

    @Test("the sweep fails rows whose lease ran out, never one its own aid serves, and counts an unleased row from its start", arguments: StoreKind.allCases)
    func sweep(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let me = UUID().uuidString.lowercased()
            let mine = try await fixtures.strand(age: 3600, leaseLeft: -5, owner: me)
            let leasedAway = try await fixtures.strand(age: 3600, leaseLeft: 60)
            let abandoned = try await fixtures.strand(age: 3600, leaseLeft: -1)
            let unleasedOld = try await fixtures.strand(age: 601)
            let unleasedYoung = try await fixtures.strand(age: 30)
            let task = try await fixtures.strand(mode: "queued", age: 3600, leaseLeft: -1)
            // A renewal came late (PostgreSQL was away): the aid that serves the row keeps it.
            let swept = try await store.failAbandoned(owner: me, serving: [mine])
            #expect(Set(swept.compactMap { $0 }).isSuperset(of: ["generation:\(abandoned)", "generation:\(unleasedOld)"]))
            for id in [mine, leasedAway, unleasedYoung, task] {
                #expect(try await store.task(id: id)?.status == .running, "\(id)")
            }
            #expect(try await store.task(id: abandoned)?.failure == "interrupted")
            // Once it no longer serves it (its ending could not be written), its own sweep takes it.
            #expect(try await store.failAbandoned(owner: me, serving: []).contains("generation:\(mine)"))
            // A renewal extends only the owner's running rows.
            let renewed = try await fixtures.strand(age: 10, leaseLeft: 1, owner: me)
            try await store.renewLeases(ids: [renewed], owner: me, lease: .seconds(60), longest: .seconds(300))
            let held = try #require(try await store.renew(id: renewed, owner: me, lease: .seconds(60)))
            #expect(held.status == .running && held.held)
            let other = try #require(try await store.renew(id: renewed, owner: UUID().uuidString.lowercased(), lease: .seconds(60)))
            #expect(other.status == .running && !other.held)
            // A task's lease is extended only once less than five sixths of it is left.
            let (short, long) = (
                try await fixtures.strand(mode: "queued", leaseLeft: 20, owner: me), try await fixtures.strand(mode: "queued", leaseLeft: 28, owner: me)
            )
            for id in [short, long] { #expect(try await store.renew(id: id, owner: me, lease: .seconds(30)).map { $0.held } == true) }
            let someoneElse = UUID().uuidString.lowercased()
            guard case .held(let extended) = try await store.claim(id: short, owner: someoneElse, lease: .seconds(30)),
                case .held(let kept) = try await store.claim(id: long, owner: someoneElse, lease: .seconds(30))
            else {
                Issue.record("a live lease was taken over")
                return
            }
            #expect(extended > .seconds(29) && kept > .seconds(26) && kept < .seconds(28.5), "extended \(extended), kept \(kept)")
        }
    }

    @Test(
        "a task and its outbox message are written together, once per idempotency key, also within one batch; the relay deletes only what was confirmed",
        arguments: StoreKind.allCases)
    func tasksAndOutbox(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            var first = try Self.record(user: user, function: "lesson_plan", mode: "queued")
            first.traceID = TraceContext.newTraceID()
            #expect(try await store.write([.task(first, idempotencyKey: "k1", paid: true, queue: "generate.long.paid")]) == [true])
            let second = try Self.record(user: user, function: "lesson_plan", mode: "queued")
            #expect(try await store.write([.task(second, idempotencyKey: "k1", paid: true, queue: "generate.long.paid")]) == [false])
            let existing = try #require(try await store.task(userID: user, idempotencyKey: "k1"))
            #expect(existing.id == first.id && existing.status == .queued && existing.mode == "queued")
            #expect(try await store.task(id: second.id) == nil)
            // In one batch: the first with a key is written, the second with it is not.
            let (unkeyed, keyed, sameKey) = (
                try Self.record(user: user, function: "scenario", mode: "queued"), try Self.record(user: user, function: "lesson_plan", mode: "queued"),
                try Self.record(user: user, function: "lesson_plan", mode: "queued")
            )
            let answers = try await store.write([
                .task(unkeyed, idempotencyKey: nil, paid: false, queue: "generate.long"),
                .task(keyed, idempotencyKey: "k2", paid: false, queue: "generate.long"),
                .task(sameKey, idempotencyKey: "k2", paid: false, queue: "generate.long"),
            ])
            #expect(answers == [true, true, false])
            #expect(try await store.task(userID: user, idempotencyKey: "k2")?.id == keyed.id)
            #expect(try await fixtures.outbox(of: [keyed.id, sameKey.id]) == ["\(keyed.id) generate.long"])
            let mine: Set = [first.id, unkeyed.id]
            #expect(try await fixtures.outbox(of: mine) == ["\(first.id) generate.long.paid", "\(unkeyed.id) generate.long"])
            // The first is confirmed, the second not: it stays for the next pass. (Other tests'
            // messages in the suite's database are never confirmed here.) Another test's pass may
            // hold these rows for its moment (the relay skips locked rows): pass until one is confirmed.
            var relayed = 0
            var firstTraceID: String?
            try await waitUntil {
                relayed = try await store.relayOutbox(limit: 1000) { messages in
                    if let message = messages.first(where: { $0.taskID == first.id }) { firstTraceID = message.traceID }
                    return messages.map { $0.taskID == first.id }
                }
                return relayed > 0
            }
            #expect(relayed == 1)
            #expect(firstTraceID == first.traceID, "its message's traceparent carries the trace of the request that made it")
            #expect(try await fixtures.outbox(of: mine) == ["\(unkeyed.id) generate.long"])
        }
    }

    @Test(
        "a claim takes a queued task or an abandoned lease, waits for a live one, and a cancel or requeue moves it as its status allows",
        arguments: StoreKind.allCases)
    func claims(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            var task = try Self.record(user: user, function: "lesson_plan", mode: "queued")
            task.traceID = TraceContext.newTraceID()
            _ = try await store.write([.task(task, idempotencyKey: nil, paid: false, queue: "generate.long")])
            #expect(try await store.task(id: task.id)?.traceID == task.traceID, "genworker carries on the trace of the request that made it")
            // The queue-age probe's read: at least this task waits.
            let oldest = try #require(try await store.oldestQueuedTaskAge())
            #expect(oldest >= .zero)
            let (one, two) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
            guard case .claimed(1, let waited?) = try await store.claim(id: task.id, owner: one, lease: .seconds(30)) else {
                Issue.record("a queued task was not claimed as its first attempt, with its wait")
                return
            }
            #expect(waited >= .zero && waited < .seconds(10), "the wait since the task was accepted")
            guard case .held(let left) = try await store.claim(id: task.id, owner: two, lease: .seconds(30)) else {
                Issue.record("a live lease was taken over")
                return
            }
            #expect(left > .seconds(25) && left <= .seconds(30))
            #expect((try await store.claim(id: task.id, owner: one, lease: .seconds(30))).attempt == 2, "its own holder again")
            try await store.requeue(id: task.id, failure: "engine_failed")
            #expect(try await store.task(id: task.id)?.status == .queued)
            #expect((try await store.claim(id: task.id, owner: two, lease: .seconds(30))).attempt == 3)
            let lost = try #require(try await store.renew(id: task.id, owner: one, lease: .seconds(30)))
            #expect(lost.status == .running && !lost.held, "the lease is two's now")
            #expect(try await store.cancel(id: task.id, userID: UUID().uuidString.lowercased()) == .notFound)
            #expect(try await store.cancel(id: task.id, userID: user) == .canceled(reservation: task.reservation, wasRunning: true))
            #expect(try await store.cancel(id: task.id, userID: user) == .ended(.canceled))
            #expect(try await store.claim(id: task.id, owner: two, lease: .seconds(30)) == .ended)
            #expect(try await store.keepCanceledText(id: task.id, text: "Part 1.", engine: "offline", cached: false))
            #expect(try await store.keepCanceledText(id: task.id, text: "Part 1. Part 2.", engine: "offline", cached: false) == false, "kept once")
            #expect(try await store.task(id: task.id)?.result == "Part 1.")
            // An abandoned lease (its genworker died) is taken over.
            let stranded = try await fixtures.strand(mode: "queued", attempts: 1, leaseLeft: -1)
            guard case .claimed(2, let takenOver) = try await store.claim(id: stranded, owner: one, lease: .seconds(30)) else {
                Issue.record("an abandoned lease was not taken over")
                return
            }
            #expect(takenOver == nil, "a lease taken over was in no queue: no wait is counted")
            // A task an hour old, put back after a failed attempt, has waited since then only.
            let retried = try await fixtures.strand(mode: "queued", age: 3600, attempts: 1, leaseLeft: 30, owner: two)
            try await store.requeue(id: retried, failure: "engine_failed")
            #expect(try await store.oldestQueuedTaskAge() ?? .zero < .seconds(3600), "the oldest wait is not counted from the task's acceptance")
            guard case .claimed(2, let waited?) = try await store.claim(id: retried, owner: one, lease: .seconds(30)) else {
                Issue.record("a requeued task was not claimed with its wait")
                return
            }
            #expect(waited < .seconds(10), "the wait since it was put back, not since it was accepted")
            let answeredInRequest = try await fixtures.strand(mode: "immediate")
            #expect(try await store.cancel(id: answeredInRequest, userID: user) == .notFound, "only a task can be canceled")
        }
    }

    @Test(
        "a replay queues a failed task again counting nothing, keeps a stranded one's reservation, and refuses a live or finished one",
        arguments: StoreKind.allCases)
    func replays(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let failed = try Self.record(function: "lesson_plan", mode: "queued")
            _ = try await store.write([.task(failed, idempotencyKey: nil, paid: true, queue: "generate.long.paid")])
            _ = try await store.relayOutbox(limit: 1000) { $0.map { $0.taskID == failed.id } }
            _ = try await store.claim(id: failed.id, owner: UUID().uuidString.lowercased(), lease: .seconds(30))
            #expect(try await store.write([.end(failed, GenerationEnding(status: .failed, engine: "offline", failure: "engine_failed"))]) == [true])
            #expect(try await store.replay(id: failed.id))
            let replayed = try #require(try await store.task(id: failed.id))
            #expect(replayed.status == .queued && replayed.reservation == nil && replayed.failure == nil)
            #expect(try await fixtures.attempts(failed.id) == 0)
            #expect(try await fixtures.outbox(of: [failed.id]) == ["\(failed.id) generate.long.paid"])
            let stranded = try await fixtures.strand(mode: "queued", attempts: 5, leaseLeft: -1)
            #expect(try await store.replay(id: stranded))
            #expect(try await store.task(id: stranded)?.reservation == "generation:\(stranded)")
            let live = try await fixtures.strand(mode: "queued", leaseLeft: 30)
            #expect(try await store.replay(id: live) == false, "a genworker runs it now")
            #expect(
                try await store.write([
                    .end(try #require(try await store.task(id: live)), GenerationEnding(status: .succeeded, engine: "offline", result: "done"))
                ]) == [true])
            #expect(try await store.replay(id: live) == false)
        }
    }
}

extension TaskClaim {
    /// The attempt a claim started, nil when it started none.
    var attempt: Int? {
        guard case .claimed(let attempt, _) = self else { return nil }
        return attempt
    }
}
