import Foundation
import Testing

@testable import Generation

/// `"stream": true`: server-sent events, and what a failure part way does to the quota.
@Suite(.timeLimit(.minutes(2))) struct StreamTests {
    @Test func aStreamSendsStartTextPiecesAndDone() async throws {
        try await InMemoryAid.with(aidArguments: ["--engine-offline-words", "3"]) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Magnetism","function":"explain","stream":true}"#)
            }
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType] == "text/event-stream")
            let events = answer.events
            #expect(events.first?.name == "start")
            #expect(events.last?.name == "done")
            let pieces = events.filter { $0.name == "text" }.compactMap { $0.data["text"] as? String }
            #expect(pieces.count > 5)
            let id = try #require(events.first?.data["id"] as? String)
            let stored = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }
            #expect(stored.json["text"] as? String == pieces.joined())
            #expect(stored.json["mode"] as? String == "streamed")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1, released: 0))
        }
    }

    @Test func aStreamCutPartWayEndsWithAnErrorEventAndCounts() async throws {
        try await InMemoryAid.with(aidArguments: ["--engine-offline-fail", "after:2"]) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Magnetism","function":"explain","stream":true}"#)
            }
            #expect(answer.events.map(\.name) == ["start", "text", "text", "error"])
            #expect(answer.events.last?.data["error"] as? String == "engine_failed")
            // Text reached the user: the unit stays counted.
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1, released: 0))
        }
    }

    @Test func aStreamThatFailsBeforeAnyTextGivesTheUnitBack() async throws {
        try await InMemoryAid.with(aidArguments: ["--engine-offline-fail", "always"]) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Magnetism","function":"explain","stream":true}"#)
            }
            #expect(answer.events.map(\.name) == ["start", "error"])
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 0, released: 1))
        }
    }
}
