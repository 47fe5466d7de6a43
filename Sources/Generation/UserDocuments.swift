import Contracts
import Foundation
import SocketClient

/// docsd as aid sees it (Contracts/DocumentsAPI): what a user's profile says a generation uses when
/// the request names nothing, and a generation kept as a document.
protocol UserDocuments: Sendable {
    func generationDefaults(userID: String) async throws -> GenerationDefaults
    /// docsd's answer to the save, passed on to the client as it is: its status and JSON body.
    func save(_ request: SaveDocumentRequest) async throws -> (status: Int, body: [UInt8], location: String?)
}

/// docsd's instances, on their internal sockets, in turn.
struct DocsdUserDocuments: UserDocuments {
    let api: InternalAPIClient

    init(sockets: [String]) {
        api = InternalAPIClient(sockets: sockets, timeout: .seconds(2))
    }

    func generationDefaults(userID: String) async throws -> GenerationDefaults {
        let answer = try await api.get(DocumentsAPI.profileDefaultsPath(userID: userID))
        guard answer.status == 200 else { throw InternalAPIClient.Unavailable(description: "docsd answered \(answer.status) to a profile's defaults") }
        return try answer.decode(GenerationDefaults.self)
    }

    func save(_ request: SaveDocumentRequest) async throws -> (status: Int, body: [UInt8], location: String?) {
        let answer = try await api.call(.POST, DocumentsAPI.savePath, body: request)
        let location = answer.status == 201 ? (try? answer.decode(Saved.self)).map { "/api/documents/\($0.id)" } : nil
        return (answer.status, Array(answer.body.readableBytesView), location)
    }

    private struct Saved: Decodable {
        let id: String
    }
}
