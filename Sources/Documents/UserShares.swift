import Foundation
import Hummingbird
import ServiceKit

/// Who has an account, by email: authd's, asked on its internal accounts socket in a running docsd.
protocol AccountDirectory: Sendable {
    /// The user id of the account with this email; nil when none has it.
    func userID(email: String) async throws -> String?
}

/// Sharing a document with another user by email, to read or to edit (an edit under the same
/// If-Match rule as the owner's): the owner lists and ends shares; the user is told by a
/// `document.shared` event, and finds it in `GET /api/documents/shared`.
struct UserShares: Sendable {
    let documents: DocumentService
    let directory: any AccountDirectory

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/documents/{id}/shares") { request, context in
            let owner = try DocumentRoutes.identity(request).userID
            let id = try context.parameters.require("id")
            let body = try await request.decodeJSON(as: NewShareBody.self, context: context)
            guard let access = DocumentAccess(rawValue: body.access ?? "read"), access != .owner else {
                throw DocumentError.invalidField(field: "access", message: "access must be read or edit")
            }
            let email = body.email.trimmingCharacters(in: .whitespaces)
            guard (3...254).contains(email.count), email.contains("@") else {
                throw DocumentError.invalidField(field: "email", message: "email must be the address of the account to share with")
            }
            let (document, found) = try await documents.document(id: id, userID: owner)
            guard found == .owner else { throw DocumentError.notFound(DocumentService.noDocument) }
            guard document.deletedAt == nil else { throw DocumentError.inTrash }
            let user: String?
            do {
                user = try await directory.userID(email: email)
            } catch {
                documents.logger.error("authd's accounts cannot be asked", metadata: ["reason": "\(error)"])
                throw DocumentError.unavailable("the accounts directory")
            }
            guard let user else { throw DocumentError.notFound("no account has this email") }
            guard user != owner else { throw DocumentError.invalidField(field: "email", message: "this is your own email: the document is yours already") }
            guard try await documents.storage({ try await documents.store.share(documentID: id, ownerID: owner, with: user, access: access) }) else {
                throw DocumentError.notFound(DocumentService.noDocument)
            }
            return try Response.json(ShareBody(user_id: user, access: access.rawValue), status: .created)
        }
        router.get("/api/documents/{id}/shares") { request, context in
            let owner = try DocumentRoutes.identity(request).userID
            let id = try context.parameters.require("id")
            guard Identifiers.isUUID(id), let found = try await documents.storage({ try await documents.store.shares(documentID: id, ownerID: owner) })
            else { throw DocumentError.notFound(DocumentService.noDocument) }
            return try Response.json(ShareList(shares: found.map { ShareBody(user_id: $0.userID, access: $0.access.rawValue) }))
        }
        router.delete("/api/documents/{id}/shares/{user}") { request, context in
            let owner = try DocumentRoutes.identity(request).userID
            let id = try context.parameters.require("id")
            let user = try context.parameters.require("user")
            guard Identifiers.isUUID(id), Identifiers.isUUID(user),
                try await documents.storage({ try await documents.store.unshare(documentID: id, ownerID: owner, userID: user) })
            else { throw DocumentError.notFound("this document of yours is not shared with this user") }
            return Response(status: .noContent)
        }
    }
}

struct NewShareBody: JSONRequestBody {
    let email: String
    let access: String?

    enum Members: String, CodingKey, CaseIterable { case email, access }
    typealias CodingKeys = Members
}

struct ShareBody: Encodable {
    let user_id: String
    let access: String
}

struct ShareList: Encodable {
    let shares: [ShareBody]
}
