public import Contracts
import Hummingbird
public import ServiceKit

/// docsd's internal API for aid (Contracts/DocumentsAPI), on a listener of its own: a user's
/// generation defaults, and a generation saved as a document under the same rules as a new one.
struct InternalRoutes: Sendable {
    let documents: DocumentService
    let profiles: ProfileRoutes

    func add(to router: Router<BasicRequestContext>) {
        router.get(RouterPath(DocumentsAPI.profileDefaultsPath + "{user}")) { _, context in
            let user = try context.parameters.require("user")
            guard Identifiers.isUUID(user) else { throw DocumentError.invalidField(field: "user", message: "user must be a user id") }
            let profile = try await profiles.profile(user)
            return try Response.json(GenerationDefaults(language: profile.saved ? profile.language : nil, max_tokens: profile.maxTokens))
        }
        router.post(RouterPath(DocumentsAPI.savePath)) { request, context in
            let save = try await request.decodeJSON(as: SaveDocumentRequest.self, context: context)
            guard Identifiers.isUUID(save.user), Identifiers.isUUID(save.source_generation_id) else {
                throw DocumentError.invalidField(field: "user", message: "user and source_generation_id must be ids")
            }
            let made = try await documents.create(
                ownerID: save.user, tier: Tier.parse(save.tier), title: save.title, body: save.body, kind: save.kind,
                sourceGenerationID: save.source_generation_id.lowercased())
            return try DocumentRoutes.created(made)
        }
    }
}

extension SaveDocumentRequest: JSONRequestBody {
    public enum Members: String, CodingKey, CaseIterable { case user, tier, title, body, kind, source_generation_id }
}
