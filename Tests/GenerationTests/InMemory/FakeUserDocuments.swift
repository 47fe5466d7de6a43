import Contracts
import Foundation
import Synchronization

@testable import Generation

/// docsd as aid sees it, in memory: the profiles' defaults a test sets, and the saves aid asked for.
final class FakeUserDocuments: UserDocuments {
    private let state = Mutex<(defaults: [String: GenerationDefaults], saves: [SaveDocumentRequest])>(([:], []))

    func setDefaults(_ defaults: GenerationDefaults, userID: String) {
        state.withLock { $0.defaults[userID] = defaults }
    }

    var saves: [SaveDocumentRequest] { state.withLock { $0.saves } }

    func generationDefaults(userID: String) async throws -> GenerationDefaults {
        state.withLock { $0.defaults[userID] } ?? GenerationDefaults(language: nil, max_tokens: nil)
    }

    func save(_ request: SaveDocumentRequest) async throws -> SavedAnswer {
        let id = UUID().uuidString.lowercased()
        state.withLock { $0.saves.append(request) }
        return SavedAnswer(status: 201, body: Array(#"{"id":"\#(id)","version":1}"#.utf8), location: "/api/documents/\(id)", etag: "\"1\"")
    }
}
