public import Contracts
import Hummingbird
public import ServiceKit

/// docsd's internal API for aid (Contracts/DocumentsAPI), on a listener of its own: a user's
/// generation defaults, and a generation saved as a document under the same rules as a new one.
struct InternalRoutes: Sendable {
    let documents: DocumentService

    func add(to router: Router<BasicRequestContext>) {
        router.get(RouterPath(DocumentsAPI.profileDefaultsPath + "{user}")) { _, context in
            let user = try context.parameters.require("user")
            guard Identifiers.isUUID(user) else { throw DocumentError.invalidField(field: "user", message: "user must be a user id") }
            let profile = try await documents.profile(userID: user)
            return try Response.json(GenerationDefaults(language: profile.saved ? profile.language : nil, max_tokens: profile.maxTokens))
        }
        router.post(RouterPath(DocumentsAPI.savePath)) { request, context in
            let save = try await request.decodeJSON(as: SaveDocumentRequest.self, context: context)
            guard Identifiers.isUUID(save.user) else { throw DocumentError.invalidField(field: "user", message: "user must be a user id") }
            guard Identifiers.isUUID(save.source_generation_id) else {
                throw DocumentError.invalidField(field: "source_generation_id", message: "source_generation_id must be a generation's id")
            }
            guard (1...200).contains(save.request_id.utf8.count) else {
                throw DocumentError.invalidField(field: "request_id", message: "request_id must be 1 to 200 bytes")
            }
            let made = try await documents.create(
                ownerID: save.user, tier: Tier.parse(save.tier), title: save.title, body: save.body, kind: save.kind,
                sourceGenerationID: save.source_generation_id, id: DocumentService.savedID(user: save.user, requestID: save.request_id))
            return try DocumentRoutes.created(made)
        }
    }
}

extension SaveDocumentRequest: JSONRequestBody {
    public enum Members: String, CodingKey, CaseIterable { case user, tier, title, body, kind, source_generation_id, request_id }
}
