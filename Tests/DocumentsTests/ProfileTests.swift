import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Documents

/// The profile a user keeps, and what aid reads of it and asks docsd to save.
@Suite("Documents: profile, and the internal API for aid")
struct ProfileTests {
    struct ProfileJSON: Decodable {
        struct Generation: Decodable { let max_tokens: Int? }
        let display_name: String?
        let language: String
        let time_zone: String
        let generation: Generation
        let saved: Bool
    }

    @Test func aProfileIsTheDefaultsUntilSavedAndAPutChangesWhatItNames() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let fresh = try await client.call(.get, "/api/profile", as: ada).decoded(ProfileJSON.self)
                #expect(fresh.language == "ru" && fresh.time_zone == "UTC" && !fresh.saved && fresh.display_name == nil)
                let saved = try await client.call(
                    .put, "/api/profile", as: ada,
                    json: #"{"display_name":"  Ada  ","language":"en","time_zone":"Europe/Moscow","generation":{"max_tokens":300}}"#)
                #expect(saved.status == .ok)
                let profile = try saved.decoded(ProfileJSON.self)
                #expect(profile.display_name == "Ada" && profile.language == "en" && profile.time_zone == "Europe/Moscow")
                #expect(profile.generation.max_tokens == 300 && profile.saved)
                // Only what a PUT names changes; null clears.
                // The IANA names browsers send, which Foundation's own list of zones leaves out.
                for zone in ["Asia/Kolkata", "Etc/UTC", "UTC"] {
                    let saved = try await client.call(.put, "/api/profile", as: ada, json: #"{"time_zone":"\#(zone)"}"#)
                    #expect(try saved.decoded(ProfileJSON.self).time_zone == zone)
                }
                _ = try await client.call(.put, "/api/profile", as: ada, json: #"{"time_zone":"Europe/Moscow"}"#)
                let cleared = try await client.call(.put, "/api/profile", as: ada, json: #"{"display_name":null,"generation":{"max_tokens":null}}"#)
                let after = try cleared.decoded(ProfileJSON.self)
                #expect(after.display_name == nil && after.generation.max_tokens == nil && after.language == "en")
                for (body, field) in [
                    (#"{"language":"de"}"#, "language"), (#"{"time_zone":"Mars/Olympus"}"#, "time_zone"), (#"{"time_zone":"GMT+3"}"#, "time_zone"),
                    (#"{"generation":{"max_tokens":5}}"#, "generation.max_tokens"), (#"{"display_name":""}"#, "display_name"),
                    (#"{"generation":{"temperature":1}}"#, "generation.temperature"),
                ] {
                    let refused = try await client.call(.put, "/api/profile", as: ada, json: body)
                    #expect(refused.status == .badRequest, "\(body)")
                    #expect(try refused.decoded(ErrorJSON.self).field == field, "\(body)")
                }
            }
        }
    }

    @Test func aidReadsTheSavedLanguageAndLengthAndNothingBeforeASave() async throws {
        try await InMemoryDocs.with { docs in
            let ada = TestUser()
            try await docs.withInternalClient { client in
                let none = try await client.call(.get, DocumentsAPI.profileDefaultsPath(userID: ada.id), as: nil)
                #expect(try none.decoded(GenerationDefaults.self) == GenerationDefaults(language: nil, max_tokens: nil))
            }
            try await docs.withClient { client in
                _ = try await client.call(.put, "/api/profile", as: ada, json: #"{"language":"en","generation":{"max_tokens":200}}"#)
            }
            try await docs.withInternalClient { client in
                let saved = try await client.call(.get, DocumentsAPI.profileDefaultsPath(userID: ada.id), as: nil)
                #expect(try saved.decoded(GenerationDefaults.self) == GenerationDefaults(language: "en", max_tokens: 200))
                #expect(try await client.call(.get, DocumentsAPI.profileDefaultsPath(userID: "nobody"), as: nil).status == .badRequest)
            }
        }
    }

    @Test func aSavedGenerationKeepsItsTextAndSourceWithinThePlansLimit() async throws {
        try await InMemoryDocs.with { docs in
            let ada = TestUser(tier: "free")
            let generation = UUID().uuidString.lowercased()
            try await docs.withInternalClient { client in
                func save(_ requestID: String) throws -> String {
                    let request = SaveDocumentRequest(
                        user: ada.id, tier: "free", title: "Rivers", body: "Rivers flow.\n<b>Act one</b>", kind: "lesson_plan",
                        source_generation_id: generation,
                        request_id: requestID)
                    return String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
                }
                let saved = try await client.call(.post, DocumentsAPI.savePath, as: nil, json: try save("r1"))
                #expect(saved.status == .created)
                let document = try saved.decoded(DocumentJSON.self)
                #expect(document.body == "Rivers flow.\n<b>Act one</b>" && document.kind == "lesson_plan" && document.source_generation_id == generation)
                #expect(saved.headers[.location] == "/api/documents/\(document.id)")
                // The same save sent again (to the other instance, after a timeout) is the same document.
                let again = try await client.call(.post, DocumentsAPI.savePath, as: nil, json: try save("r1"))
                #expect(try again.status == .created && again.decoded(DocumentJSON.self).id == document.id)
                for requestID in ["r2", "r3"] {
                    #expect(try await client.call(.post, DocumentsAPI.savePath, as: nil, json: try save(requestID)).status == .created)
                }
                let refused = try await client.call(.post, DocumentsAPI.savePath, as: nil, json: try save("r4"))
                #expect(try refused.status == .forbidden && refused.decoded(ErrorJSON.self).error == "document_limit_reached")
            }
            try await docs.withClient { client in
                let list = try await client.call(.get, "/api/documents", as: ada).text
                #expect(list.components(separatedBy: "lesson_plan").count == 4)
            }
        }
    }
}
