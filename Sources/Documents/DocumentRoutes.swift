import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// docsd's routes through nginx (scope `documents`): a user's documents, their trash, versions,
/// share links and shares. Another user's document is 404 on every route, as one that never was.
struct DocumentRoutes: Sendable {
    let documents: DocumentService
    let shares: UserShares
    let publicURL: String

    var reads: DocumentReads { DocumentReads(documents: documents) }

    func add(to router: Router<BasicRequestContext>) {
        // nginx sends these two reads to the read listener (DocumentReadServer); here they answer
        // the same for a request that comes this way.
        router.get("/api/documents") { request, _ in
            let user = try Self.identity(request).userID
            return Self.answer(try await reads.page(owner: user, try DocumentReads.ListQuery(request.uri.queryParameters)))
        }
        router.post("/api/documents") { request, context in
            let identity = try Self.identity(request)
            let body = try await request.decodeJSON(as: NewDocumentBody.self, context: context)
            if let source = body.source_generation_id, !Identifiers.isUUID(source) {
                throw DocumentError.invalidField(field: "source_generation_id", message: "source_generation_id must be a generation's id")
            }
            let made = try await documents.create(
                ownerID: identity.userID, tier: identity.tier, title: body.title, body: body.body, kind: body.kind,
                sourceGenerationID: body.source_generation_id)
            return try Self.created(made)
        }
        router.get("/api/documents/trash") { request, _ in
            let user = try Self.identity(request).userID
            let query = try DocumentReads.PageQuery(request.uri.queryParameters)
            let page = try await documents.trash(ownerID: user, limit: query.limit, after: query.after)
            // The trash goes on from the last one's deletion.
            let next = query.next(page) { last in last.deletedMicros.map { PageCursor(micros: $0, id: last.id) } }
            return try Response.json(DocumentList(documents: page.map { DocumentSummary($0, access: .owner) }, next: next))
        }
        router.get("/api/documents/shared") { request, _ in
            let user = try Self.identity(request).userID
            let query = try DocumentReads.PageQuery(request.uri.queryParameters)
            let page = try await documents.sharedWith(userID: user, limit: query.limit, after: query.after)
            let next = query.next(page) { PageCursor(micros: $0.0.createdMicros, id: $0.0.id) }
            return try Response.json(DocumentList(documents: page.map { DocumentSummary($0.0, access: $0.1) }, next: next))
        }
        router.get("/api/documents/{id}") { request, context in
            Self.answer(try await reads.document(id: try context.parameters.require("id"), user: try Self.identity(request).userID))
        }
        router.put("/api/documents/{id}") { request, context in
            let user = try Self.identity(request).userID
            let expected = try DocumentETag.version(ifMatch: request.headers[.ifMatch])
            let body = try await request.decodeJSON(as: ChangedDocumentBody.self, context: context)
            let saved = try await documents.update(
                id: try context.parameters.require("id"), userID: user, expected: expected, title: body.title, body: body.body)
            let access = saved.ownerID == user ? DocumentAccess.owner : .edit
            return try Self.answer(DocumentBody(saved, access: access), version: saved.version)
        }
        router.delete("/api/documents/{id}") { request, context in
            let identity = try Self.identity(request)
            try await documents.delete(id: try context.parameters.require("id"), ownerID: identity.userID, tier: identity.tier)
            return Response(status: .noContent)
        }
        router.post("/api/documents/{id}/restore") { request, context in
            let identity = try Self.identity(request)
            let restored = try await documents.restore(id: try context.parameters.require("id"), ownerID: identity.userID, tier: identity.tier)
            return try Self.answer(DocumentBody(restored, access: .owner), version: restored.version)
        }
        router.get("/api/documents/{id}/versions") { request, context in
            let versions = try await documents.versions(id: try context.parameters.require("id"), ownerID: try Self.identity(request).userID)
            return try Response.json(VersionList(versions: versions.map(VersionSummary.init)))
        }
        router.get("/api/documents/{id}/versions/{version}") { request, context in
            let version = try await documents.version(
                try Self.versionNumber(context), id: try context.parameters.require("id"), ownerID: try Self.identity(request).userID)
            return try Response.json(VersionBody(version))
        }
        router.post("/api/documents/{id}/versions/{version}/restore") { request, context in
            let user = try Self.identity(request).userID
            let expected = try DocumentETag.version(ifMatch: request.headers[.ifMatch])
            let saved = try await documents.restoreVersion(
                try Self.versionNumber(context), id: try context.parameters.require("id"), ownerID: user, expected: expected)
            return try Self.answer(DocumentBody(saved, access: .owner), version: saved.version)
        }
        router.post("/api/documents/{id}/share") { request, context in
            let user = try Self.identity(request).userID
            let body = try await request.decodeJSONIfPresent(as: NewLinkBody.self, context: context)
            if let access = body?.access, access != "read" {
                throw DocumentError.invalidField(
                    field: "access", message: "a link gives read access only (access: \"read\"); share with a user's email to let them edit")
            }
            let (link, token) = try await documents.createLink(documentID: try context.parameters.require("id"), ownerID: user, expiresIn: body?.expires_in)
            return try Response.json(LinkBody(link, url: "\(publicURL)/s/\(token)", token: token), status: .created)
        }
        router.get("/api/documents/{id}/links") { request, context in
            let links = try await documents.links(documentID: try context.parameters.require("id"), ownerID: try Self.identity(request).userID)
            return try Response.json(LinkList(links: links.map { LinkBody($0, url: nil, token: nil) }))
        }
        router.delete("/api/documents/{id}/links/{link}") { request, context in
            try await documents.revokeLink(
                id: try context.parameters.require("link"), documentID: try context.parameters.require("id"), ownerID: try Self.identity(request).userID)
            return Response(status: .noContent)
        }
        shares.add(to: router)
    }

    /// The caller; GatewayIdentityMiddleware has refused a request without the gateway's identity.
    static func identity(_ request: Request) throws -> GatewayIdentity {
        guard let identity = GatewayIdentity(headers: request.headers) else { throw DocumentError.notFound(DocumentService.noDocument) }
        return identity
    }

    static func versionNumber(_ context: BasicRequestContext) throws -> Int {
        guard let number = Int(try context.parameters.require("version")), number >= 1 else {
            throw DocumentError.notFound("versions are numbered from 1")
        }
        return number
    }

    /// 201 with the document, where it is, and its version.
    static func created(_ document: Document) throws -> Response {
        var response = try answer(DocumentBody(document, access: .owner), version: document.version, status: .created)
        response.headers[.location] = "/api/documents/\(document.id)"
        return response
    }

    static func answer(_ read: DocumentReadCache.Answer) -> Response {
        var response = Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: read.body))
        if let version = read.version { response.headers[.eTag] = DocumentETag.text(version) }
        return response
    }

    static func answer(_ body: DocumentBody, version: Int, status: HTTPResponse.Status = .ok) throws -> Response {
        var response = try Response.json(body, status: status)
        response.headers[.eTag] = DocumentETag.text(version)
        return response
    }
}

struct NewDocumentBody: JSONRequestBody {
    let title: String
    let body: String
    let kind: String?
    let source_generation_id: String?

    enum Members: String, CodingKey, CaseIterable { case title, body, kind, source_generation_id }
    typealias CodingKeys = Members
}

struct ChangedDocumentBody: JSONRequestBody {
    let title: String
    let body: String

    enum Members: String, CodingKey, CaseIterable { case title, body }
    typealias CodingKeys = Members
}

struct NewLinkBody: JSONRequestBody {
    let access: String?
    let expires_in: Int?

    enum Members: String, CodingKey, CaseIterable { case access, expires_in }
    typealias CodingKeys = Members
}

/// A document as its reader gets it, with what they may do (`owner`, `edit`, `read`).
struct DocumentBody: Encodable {
    let id: String
    let title: String
    let body: String
    let kind: String
    let source_generation_id: String?
    let version: Int
    let access: String
    let created_at: Date
    let updated_at: Date
    let deleted_at: Date?

    init(_ document: Document, access: DocumentAccess) {
        id = document.id
        title = document.title
        body = document.body
        kind = document.kind
        source_generation_id = document.sourceGenerationID
        version = document.version
        self.access = access.rawValue
        created_at = document.createdAt
        updated_at = document.updatedAt
        deleted_at = document.deletedAt
    }
}

/// A document in a list: no body, its size instead.
struct DocumentSummary: Encodable {
    let id: String
    let title: String
    let kind: String
    let version: Int
    let access: String
    let bytes: Int
    let created_at: Date
    let updated_at: Date
    let deleted_at: Date?

    init(_ document: DocumentListing, access: DocumentAccess) {
        id = document.id
        title = document.title
        kind = document.kind
        version = document.version
        self.access = access.rawValue
        bytes = document.bytes
        created_at = document.createdAt
        updated_at = document.updatedAt
        deleted_at = document.deletedAt
    }
}

struct DocumentList: Encodable {
    let documents: [DocumentSummary]
    /// The `after` of the next page; null on the last.
    let next: String?
}

struct VersionSummary: Encodable {
    let version: Int
    let title: String
    let bytes: Int
    let saved_by: String
    let saved_at: Date

    init(_ version: VersionListing) {
        self.version = version.version
        title = version.title
        bytes = version.bytes
        saved_by = version.savedBy
        saved_at = version.savedAt
    }
}

struct VersionList: Encodable {
    let versions: [VersionSummary]
}

struct VersionBody: Encodable {
    let version: Int
    let title: String
    let body: String
    let saved_by: String
    let saved_at: Date

    init(_ version: DocumentVersion) {
        self.version = version.version
        title = version.title
        body = version.body
        saved_by = version.savedBy
        saved_at = version.savedAt
    }
}

/// A link: its `url` and `token` only in the answer that made it.
struct LinkBody: Encodable {
    let id: String
    let access: String
    let url: String?
    let token: String?
    let state: String
    let created_at: Date
    let expires_at: Date?
    let revoked_at: Date?

    init(_ link: ShareLink, url: String?, token: String?, now: Date = Date()) {
        id = link.id
        access = link.access
        self.url = url
        self.token = token
        state = link.revokedAt != nil ? "revoked" : (link.expiresAt.map { $0 <= now } ?? false) ? "expired" : "live"
        created_at = link.createdAt
        expires_at = link.expiresAt
        revoked_at = link.revokedAt
    }
}

struct LinkList: Encodable {
    let links: [LinkBody]
}
