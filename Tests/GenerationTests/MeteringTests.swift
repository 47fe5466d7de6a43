import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Generation

/// What a generation counts: a unit is given back only when the user got nothing from the engine,
/// and then nothing of the engine's is kept either; anything shown or kept counts; no engine writes
/// more than the user's plan allows.
@Suite(.timeLimit(.minutes(3))) struct MeteringTests {
    /// The user's history, newest first.
    func history(_ aid: some TestAid, _ caller: Caller) async throws -> [[String: Any]] {
        try await aid.withClient { client in try await caller.get(client, "/api/generations") }.json["generations"] as? [[String: Any]] ?? []
    }

    @Test func anAnswerCutByTheBudgetGivesTheUnitBackAndKeepsNoText() async throws {
        // About 20 pieces over 4 s: the 1 s budget ends the run after a few of them.
        try await InMemoryAid.with(aidArguments: ["--engine-offline-latency", "4", "--engine-budget", "1", "--engine-retries", "0"]) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Tides","function":"summary","options":{"language":"en"}}"#)
            }
            #expect(answer.status == .badGateway)
            #expect(answer.json["error"] as? String == "engine_failed")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 0, released: 1))
            let stored = try #require(try await history(aid, caller).first)
            #expect(stored["status"] as? String == "failed")
            #expect(stored["text"] == nil, "the partial text of an answer that was given back can be read")
            let id = try #require(stored["id"] as? String)
            let one = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }
            #expect(one.json["text"] == nil)
        }
    }

    @Test func aLengthAboveThePlansBoundIsRefusedNamingTheFieldAndTheBound() async throws {
        try await InMemoryAid.with { aid in
            // No subscription: the free plan, 512 tokens an answer.
            let free = Caller()
            let above = try await aid.withClient { client in
                try await free.generate(client, #"{"topic":"Tides","function":"summary","options":{"max_tokens":513}}"#)
            }
            #expect(above.status == .badRequest)
            #expect(above.json["error"] as? String == "max_tokens_exceeded")
            #expect(above.json["field"] as? String == "options.max_tokens")
            let message = above.json["message"] as? String ?? ""
            #expect(message.contains("at most 512") && message.contains("pro, team"), "\(message)")
            let within = try await aid.withClient { client in
                try await free.generate(client, #"{"topic":"Tides","function":"summary","options":{"max_tokens":512}}"#)
            }
            #expect(within.status == .ok)
            #expect(aid.entitlements.ledger(free.userID) == .init(reserved: 1, settled: 1, released: 0))

            let pro = Caller(
                userID: aid.entitlements.subscribe(.init(features: ["generate.short", "generate.long"], perDay: 200, perPeriod: 2000, maxOutputTokens: 2048)))
            for (body, status) in [
                (#"{"topic":"Tides","function":"summary","options":{"max_tokens":2049}}"#, HTTPResponse.Status.badRequest),
                (#"{"topic":"Tides","function":"lesson_plan","options":{"max_tokens":2049}}"#, .badRequest),
                (#"{"topic":"Tides","function":"summary","options":{"max_tokens":2048}}"#, .ok),
            ] {
                let answer = try await aid.withClient { client in try await pro.generate(client, body) }
                #expect(answer.status == status, "\(body): \(answer.text)")
            }
            let refused = try await aid.withClient { client in
                try await pro.generate(client, #"{"topic":"Tides","function":"lesson_plan","options":{"max_tokens":2049}}"#)
            }
            #expect((refused.json["message"] as? String)?.contains("at most 2048") == true)
            #expect(aid.entitlements.ledger(pro.userID) == .init(reserved: 1, settled: 1, released: 0))
        }
    }

    @Test func anAnswerCutByItsMaxTokensSaysSoInTheAnswerTheStreamAndTheHistory() async throws {
        try await InMemoryAid.with(aidArguments: ["--engine-offline-words", "3"]) { aid in
            let caller = Caller()
            let cut = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Tides","function":"summary","options":{"language":"en","max_tokens":16}}"#)
            }
            #expect(cut.json["truncated"] as? Bool == true)
            #expect((cut.json["text"] as? String)?.split(separator: " ").count == 16)
            let id = try #require(cut.json["id"] as? String)
            #expect(try await aid.withClient { client in try await caller.get(client, "/api/generations/\(id)") }.json["truncated"] as? Bool == true)
            let whole = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Tides","function":"summary","options":{"language":"en"}}"#)
            }
            #expect(whole.json["truncated"] as? Bool == false)
            let streamed = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Tides","function":"explain","stream":true,"options":{"max_tokens":16}}"#)
            }
            #expect(streamed.events.last?.name == "done")
            #expect(streamed.events.last?.data["truncated"] as? Bool == true)
        }
    }

    @Test func aDefaultLengthIsKeptWithinThePlansBoundForAnswersAndTasks() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller(userID: aid.entitlements.subscribe(.init(features: ["generate.short", "generate.long"], perDay: 100, maxOutputTokens: 20)))
            // summary's default is 300 tokens; the offline engine writes one word a token.
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Tides","function":"summary","options":{"language":"en"}}"#)
            }
            #expect(answer.status == .ok)
            let words = (answer.json["text"] as? String ?? "").split(separator: " ").count
            #expect(words > 0 && words <= 20, "the engine wrote \(words) words")
            let task = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"Tides","function":"lesson_plan"}"#) }
            #expect(task.status == .accepted)
            #expect(try await aid.store.history(userID: caller.userID, limit: 10, before: nil).map(\.maxTokens) == [20, 20])
            // The same task again, with the same key, is the same task although its row says 20.
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "metering-\(UUID().uuidString)"]
            let body = #"{"topic":"Tides","function":"lesson_plan"}"#
            let first = try await aid.withClient { client in try await caller.send(client, "/api/generate", method: .post, headers: key, body: body) }
            let again = try await aid.withClient { client in try await caller.send(client, "/api/generate", method: .post, headers: key, body: body) }
            #expect(again.status == .accepted && again.json["task_id"] as? String == first.json["task_id"] as? String)
        }
    }

    @Test func aStreamThatOutlivesTheLeaseIsNotSweptAndIsSettled() async throws {
        // The lease is 2 s and the sweep looks every 0.2 s, while the stream takes 4 s: an aid that
        // is alive keeps its row, however slowly its client reads.
        try await InMemoryAid.with(
            aidArguments: ["--sweep-after", "2", "--sweep-interval", "0.2", "--engine-offline-latency", "4", "--engine-offline-words", "2"]
        ) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Magnetism","function":"explain","stream":true}"#)
            }
            #expect(answer.events.last?.name == "done")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1, released: 0))
            let stored = try #require(try await history(aid, caller).first)
            #expect(stored["status"] as? String == "succeeded")
        }
    }

    @Test func aStreamPastItsLimitEndsWithAnErrorAndCountsWhatWasSent() async throws {
        try await InMemoryAid.with(aidArguments: ["--stream-limit", "1", "--engine-offline-latency", "4", "--engine-offline-words", "2"]) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Magnetism","function":"explain","stream":true}"#)
            }
            let names = answer.events.map(\.name)
            #expect(names.first == "start" && names.contains("text"))
            #expect(answer.events.last?.name == "error")
            #expect(answer.events.last?.data["error"] as? String == "stream_too_long")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1, released: 0))
            let sent = answer.events.filter { $0.name == "text" }.compactMap { $0.data["text"] as? String }.joined()
            #expect(try await history(aid, caller).first?["text"] as? String == sent)
        }
    }

    /// Cancels a running task `after` it began to run, and returns it once it ended, having checked
    /// that its unit was settled.
    func cancelRunning(_ aid: some TestAid, _ caller: Caller, _ id: String, after: Duration) async throws -> [String: Any] {
        try await TaskTests().waitUntilRunning(aid, caller, id)
        try await Task.sleep(for: after)
        let canceled = try await aid.withClient { client in try await caller.send(client, "/api/generate/\(id)", method: .delete) }
        #expect(canceled.status == .ok)
        #expect(
            try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, settled: 1, released: 0))
                == .init(reserved: 1, settled: 1, released: 0))
        let task = try await TaskTests().finished(aid, caller, id)
        #expect(task["status"] as? String == "canceled")
        return task
    }

    @Test func aTaskCanceledAfterItsEngineWroteIsSettledAndKeepsTheText() async throws {
        try await CacheTests.withModel("slow") { model in
            try await InMemoryAid.with(aidArguments: model, workerArguments: model + ["--worker-cancel-check", "0.1"]) { aid in
                let caller = Caller(userID: aid.entitlements.subscribe())
                let id = try #require(try await TaskTests().accept(aid, caller).json["task_id"] as? String)
                // About four of the slow model's ten pieces, 0.3 s apart.
                let task = try await cancelRunning(aid, caller, id, after: .milliseconds(1300))
                let text = task["text"] as? String ?? ""
                #expect(text.hasPrefix("Part 1.") && !text.contains("Part 10."), "\(text)")
            }
        }
    }

    @Test func aTaskCanceledAsItsEngineFinishedIsSettledAndItsAnswerIsNotCached() async throws {
        // genworker looks for a cancellation every 8 s, after the slow model has finished (3 s): the
        // cancel lands between the engine's last piece and the task's recording.
        try await CacheTests.withModel("slow") { model in
            try await InMemoryAid.with(
                aidArguments: model, workerArguments: model + ["--worker-cancel-check", "8", "--worker-lease", "40"]
            ) { aid in
                let caller = Caller(userID: aid.entitlements.subscribe())
                let body = #"{"topic":"\#(CacheTests.freshTopic())","function":"lesson_plan","options":{"max_tokens":40}}"#
                let id = try #require(try await TaskTests().accept(aid, caller, body: body).json["task_id"] as? String)
                let task = try await cancelRunning(aid, caller, id, after: .zero)
                #expect((task["text"] as? String)?.contains("Part 10.") == true)
                // The same task again is not answered from the cache: the canceled one's answer was not kept there.
                let again = try #require(try await TaskTests().accept(aid, caller, body: body).json["task_id"] as? String)
                let second = try await TaskTests().finished(aid, caller, again)
                #expect(second["status"] as? String == "succeeded")
                #expect(second["cached"] as? Bool == false)
            }
        }
    }
}
