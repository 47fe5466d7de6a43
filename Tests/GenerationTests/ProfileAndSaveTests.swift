import Contracts
import Foundation
import HTTPTypes
import Testing

@testable import Generation

/// What aid takes from docsd: a profile's language and length for a generation that names none,
/// and a generation saved as a document.
@Suite(.timeLimit(.minutes(2))) struct ProfileAndSaveTests {
    @Test func aGenerationThatNamesNoLanguageIsWrittenInTheProfilesOne() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller()
            aid.documents.setDefaults(GenerationDefaults(language: "en", max_tokens: 120), userID: caller.userID)
            let named = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Rivers","function":"summary","options":{"language":"ru"}}"#)
            }
            let unnamed = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"Rivers","function":"summary"}"#) }
            #expect(named.status == .ok && unnamed.status == .ok)
            let unnamedID = try #require(unnamed.json["id"] as? String)
            let stored = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(unnamedID)") }
            #expect(stored.json["language"] as? String == "en")
            #expect((unnamed.json["text"] as? String)?.contains("Write in English.") == true)
            #expect((named.json["text"] as? String)?.contains("Write in English.") == false)
            let record = try #require(try await aid.store.generation(id: unnamedID, userID: caller.userID))
            #expect(record.maxTokens == 120)
            // Someone without a saved profile gets the function's defaults.
            let other = Caller()
            let plain = try await aid.withClient { client in try await other.generate(client, #"{"topic":"Rivers","function":"summary"}"#) }
            let plainID = try #require(plain.json["id"] as? String)
            let otherRecord = try #require(try await aid.store.generation(id: plainID, userID: other.userID))
            #expect(otherRecord.language == "ru" && otherRecord.maxTokens == 400)
        }
    }

    @Test func aSucceededGenerationIsSavedWithItsTextKindAndSource() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"  Volcanoes\n\tand their ash","function":"quiz"}"#)
            }
            let id = try #require(answer.json["id"] as? String)
            let saved = try await aid.withClient { client in try await caller.send(client, "/api/generate/\(id)/save", method: .post) }
            #expect(saved.status == .created)
            #expect(saved.headers[.location]?.hasPrefix("/api/documents/") == true && saved.headers[.eTag] == "\"1\"")
            let request = try #require(aid.documents.saves.first)
            #expect(request.user == caller.userID && request.source_generation_id == id && request.kind == "quiz" && request.title == "Volcanoes")
            #expect(request.body == answer.json["text"] as? String)
            let titled = try await aid.withClient { client in
                try await caller.send(client, "/api/generate/\(id)/save", method: .post, body: #"{"title":"My quiz"}"#)
            }
            #expect(titled.status == .created && aid.documents.saves.last?.title == "My quiz")
            // Another user's generation is as absent as none; nothing is saved for them.
            let stranger = try await aid.withClient { client in try await Caller().send(client, "/api/generate/\(id)/save", method: .post) }
            #expect(stranger.status == .notFound)
            #expect(aid.documents.saves.count == 2)
        }
    }

    @Test func aGenerationWithoutTextYetIsNotSaved() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller(userID: aid.entitlements.subscribe(.init(features: ["generate.short", "generate.long"])))
            let queued = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"A school play","function":"scenario"}"#) }
            let id = try #require(queued.json["task_id"] as? String)
            let refused = try await aid.withClient { client in try await caller.send(client, "/api/generate/\(id)/save", method: .post) }
            #expect(refused.status == .conflict && refused.json["error"] as? String == "generation_not_succeeded")
            #expect(aid.documents.saves.isEmpty)
        }
    }
}
