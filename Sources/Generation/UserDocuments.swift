import Contracts
import Foundation
import SocketClient

/// docsd as aid sees it (Contracts/DocumentsAPI): what a user's profile says a generation uses when
/// the request names nothing, and a generation kept as a document.
protocol UserDocuments: Sendable {
    func generationDefaults(userID: String) async throws -> GenerationDefaults
    /// docsd's answer to the save, passed on to the client as it is.
    func save(_ request: SaveDocumentRequest) async throws -> SavedAnswer
}

/// docsd's answer to a save: its status, JSON body, and the document's `Location` and `ETag`.
struct SavedAnswer: Sendable {
    let status: Int
    let body: [UInt8]
    let location: String?
    let etag: String?
}

/// docsd's instances, on their internal sockets, in turn.
struct DocsdUserDocuments: UserDocuments {
    /// A profile's defaults are asked on every generation that leaves them out: a docsd that does
    /// not answer within this costs a generation at most twice this (both instances).
    let defaults: InternalAPIClient
    let api: InternalAPIClient
    /// The answers to `defaults` kept, if kept at all.
    let profiles: ProfileDefaultsCache?

    init(sockets: [String], profiles: ProfileDefaultsCache?) {
        defaults = InternalAPIClient(sockets: sockets, timeout: .milliseconds(250))
        api = InternalAPIClient(sockets: sockets, timeout: .seconds(2))
        self.profiles = profiles
    }

    func generationDefaults(userID: String) async throws -> GenerationDefaults {
        if let kept = profiles?.defaults(userID: userID) { return kept }
        let ticket = profiles?.ticket()
        let answer = try await defaults.get(DocumentsAPI.profileDefaultsPath(userID: userID))
        guard answer.status == 200 else { throw InternalAPIClient.Unavailable(description: "docsd answered \(answer.status) to a profile's defaults") }
        let found = try answer.decode(GenerationDefaults.self)
        if let ticket { profiles?.keep(found, userID: userID, ticket: ticket) }
        return found
    }

    /// Sent again to the other instance after a timeout: docsd makes the document once, by the
    /// save's `request_id`.
    func save(_ request: SaveDocumentRequest) async throws -> SavedAnswer {
        let answer = try await api.call(.POST, DocumentsAPI.savePath, body: request)
        return SavedAnswer(
            status: answer.status, body: Array(answer.body.readableBytesView), location: answer.headers.first(name: "Location"),
            etag: answer.headers.first(name: "ETag"))
    }
}
