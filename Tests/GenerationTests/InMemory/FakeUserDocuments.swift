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

    func save(_ request: SaveDocumentRequest) async throws -> (status: Int, body: [UInt8], location: String?) {
        let id = UUID().uuidString.lowercased()
        state.withLock { $0.saves.append(request) }
        return (201, Array(#"{"id":"\#(id)"}"#.utf8), "/api/documents/\(id)")
    }
}
