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

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/documents/{id}/shares") { request, context in
            let owner = try DocumentRoutes.identity(request).userID
            let body = try await request.decodeJSON(as: NewShareBody.self, context: context)
            guard let access = DocumentAccess(rawValue: body.access ?? "read"), access != .owner else {
                throw DocumentError.invalidField(field: "access", message: "access must be read or edit")
            }
            let email = body.email.trimmingCharacters(in: .whitespaces)
            guard (3...254).contains(email.count), email.contains("@") else {
                throw DocumentError.invalidField(field: "email", message: "email must be the address of the account to share with")
            }
            let user = try await documents.share(documentID: try context.parameters.require("id"), ownerID: owner, email: email, access: access)
            return try Response.json(ShareBody(user_id: user, access: access.rawValue), status: .created)
        }
        router.get("/api/documents/{id}/shares") { request, context in
            let found = try await documents.shares(documentID: try context.parameters.require("id"), ownerID: try DocumentRoutes.identity(request).userID)
            return try Response.json(ShareList(shares: found.map { ShareBody(user_id: $0.userID, access: $0.access.rawValue) }))
        }
        router.delete("/api/documents/{id}/shares/{user}") { request, context in
            try await documents.unshare(
                documentID: try context.parameters.require("id"), ownerID: try DocumentRoutes.identity(request).userID,
                userID: try context.parameters.require("user"))
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
