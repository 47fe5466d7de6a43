import Cryptography
import Foundation
import Logging
import ServiceKit

/// docsd's rules: who may do what with a document, the plan's limit on how many a user keeps, the
/// If-Match rule on every change, the trash, share links, shares and profiles. Storage is a
/// protocol: the same rules run over PostgreSQL and over the tests' memory.
struct DocumentService: Sendable {
    let store: any DocumentStore
    let limits: any PlanLimits
    let directory: any AccountDirectory
    let logger: Logger
    /// The reads this instance keeps: a change made here drops them at once, before its answer,
    /// so that its writer reads it back; every other instance hears of it from PostgreSQL.
    var readCache: DocumentReadCache? = nil

    /// A share link's token: 32 random bytes (256 bits), base64url.
    static let tokenBytes = 32

    /// A new document; with `id` (a save, which may come again), the one it names if its owner
    /// made it already, answered without asking for the plan's limit.
    func create(
        ownerID: String, tier: String, title: String, body: String, kind: String?, sourceGenerationID: String?, id: String? = nil
    ) async throws -> Document {
        if let id, let (made, access) = try await storage({ try await store.document(id: id, userID: ownerID) }), access == .owner { return made }
        let new = NewDocument(
            id: id ?? UUID().uuidString.lowercased(), ownerID: ownerID, title: try DocumentInput.title(title), body: try DocumentInput.body(body),
            kind: try DocumentInput.kind(kind), sourceGenerationID: sourceGenerationID)
        let limit = try await planLimit(tier)
        guard let made = try await storage({ try await store.create(new, limit: limit) }) else { throw DocumentError.limitReached(limit: limit) }
        readCache?.changed(owner: ownerID, document: made.id)
        return made
    }

    /// The document as `userID` may see it.
    func document(id: String, userID: String) async throws -> (Document, DocumentAccess) {
        guard Identifiers.isUUID(id), let found = try await storage({ try await store.document(id: id, userID: userID) }) else {
            throw DocumentError.notFound(Self.noDocument)
        }
        return found
    }

    func list(ownerID: String, limit: Int, after cursor: PageCursor?, query: String?) async throws -> [DocumentListing] {
        try await storage { try await store.documents(ownerID: ownerID, limit: limit, after: cursor, query: query) }
    }

    func trash(ownerID: String, limit: Int, after cursor: PageCursor?) async throws -> [DocumentListing] {
        try await storage { try await store.trash(ownerID: ownerID, limit: limit, after: cursor) }
    }

    func sharedWith(userID: String, limit: Int, after cursor: PageCursor?) async throws -> [(DocumentListing, DocumentAccess)] {
        try await storage { try await store.sharedWith(userID: userID, limit: limit, after: cursor) }
    }

    /// Saves `title` and `body` as the next version if the document is still at `expected`.
    func update(id: String, userID: String, expected: Int, title: String, body: String) async throws -> Document {
        let title = try DocumentInput.title(title)
        let body = try DocumentInput.body(body)
        guard Identifiers.isUUID(id) else { throw DocumentError.notFound(Self.noDocument) }
        switch try await storage({ try await store.update(id: id, userID: userID, expected: expected, title: title, body: body) }) {
        case .updated(let document):
            readCache?.changed(owner: document.ownerID, document: id)
            return document
        case .stale(let current): throw DocumentError.stale(current: current)
        case .readOnly: throw DocumentError.readOnly
        case .inTrash: throw DocumentError.inTrash
        case .notFound: throw DocumentError.notFound(Self.noDocument)
        }
    }

    /// Moves the document to the trash, which keeps as many as the plan keeps documents (one at
    /// least): beyond that, the longest there go for good, so that deleting never stores more than
    /// the plan allows. A deletion never waits for subscribed: without the plans' limits, the trash
    /// keeps everything until its purge.
    func delete(id: String, ownerID: String, tier: String) async throws {
        guard Identifiers.isUUID(id) else { throw DocumentError.notFound(Self.noLiveDocument) }
        let keep = max((try? await limits.documentsMax(plan: tier)) ?? Int.max, 1)
        guard try await storage({ try await store.delete(id: id, ownerID: ownerID, keep: keep) }) else {
            throw DocumentError.notFound(Self.noLiveDocument)
        }
        readCache?.changed(owner: ownerID, document: id)
    }

    func restore(id: String, ownerID: String, tier: String) async throws -> Document {
        guard Identifiers.isUUID(id) else { throw DocumentError.notFound(Self.noTrashed) }
        let limit = try await planLimit(tier)
        switch try await storage({ try await store.restore(id: id, ownerID: ownerID, limit: limit) }) {
        case .restored(let document):
            readCache?.changed(owner: ownerID, document: id)
            return document
        case .limitReached: throw DocumentError.limitReached(limit: limit)
        case .notFound: throw DocumentError.notFound(Self.noTrashed)
        }
    }

    /// Every version of the owner's document, newest first.
    func versions(id: String, ownerID: String) async throws -> [VersionListing] {
        try await ofOwnedDocument(id) { try await store.versions(id: id, ownerID: ownerID) }
    }

    /// One version of the owner's document, with its body.
    func version(_ number: Int, id: String, ownerID: String) async throws -> DocumentVersion {
        guard Identifiers.isUUID(id), let version = try await storage({ try await store.version(number, id: id, ownerID: ownerID) }) else {
            throw DocumentError.notFound("no document of yours has this id and a version \(number)")
        }
        return version
    }

    /// Saves an earlier version's title and body as the next version, under the same If-Match rule.
    func restoreVersion(_ number: Int, id: String, ownerID: String, expected: Int) async throws -> Document {
        let old = try await version(number, id: id, ownerID: ownerID)
        return try await update(id: id, userID: ownerID, expected: expected, title: old.title, body: old.body)
    }

    /// A new read-only link to the owner's document, and its token (shown this once).
    func createLink(documentID: String, ownerID: String, expiresIn: Int?) async throws -> (ShareLink, token: String) {
        if let expiresIn, !(1...31_536_000).contains(expiresIn) {
            throw DocumentError.invalidField(field: "expires_in", message: "expires_in must be from 1 second to a year (31536000 seconds)")
        }
        let (document, access) = try await document(id: documentID, userID: ownerID)
        guard access == .owner else { throw DocumentError.notFound(Self.noDocument) }
        guard document.deletedAt == nil else { throw DocumentError.inTrash }
        let token = Base64URL.encode(try SecureRandom.bytes(count: Self.tokenBytes))
        let expiresAt = expiresIn.map { Date().addingTimeInterval(TimeInterval($0)) }
        guard
            let link = try await storage({
                try await store.createLink(documentID: documentID, ownerID: ownerID, tokenHash: try Self.hash(token: token), expiresAt: expiresAt)
            })
        else { throw DocumentError.notFound(Self.noDocument) }
        return (link, token)
    }

    func links(documentID: String, ownerID: String) async throws -> [ShareLink] {
        try await ofOwnedDocument(documentID) { try await store.links(documentID: documentID, ownerID: ownerID) }
    }

    func revokeLink(id: String, documentID: String, ownerID: String) async throws {
        guard Identifiers.isUUID(id), Identifiers.isUUID(documentID),
            try await storage({ try await store.revokeLink(id: id, documentID: documentID, ownerID: ownerID) })
        else { throw DocumentError.notFound("no live link of this document of yours has this id") }
    }

    /// The document a link's token opens; nil for a revoked, expired or unknown link alike.
    func linkedDocument(token: String) async throws -> Document? {
        // A token docsd made is 43 characters of base64url; anything else opens nothing, unhashed.
        guard token.utf8.count == 43, let bytes = try? Base64URL.decode(token), bytes.count == Self.tokenBytes else { return nil }
        return try await storage { try await store.linkedDocument(tokenHash: try Self.hash(token: token)) }
    }

    /// The id of the document a save makes: the same for the same user's save sent again, so that
    /// it is made once. The SHA-256 of the two, as a version-8 UUID (RFC 9562).
    static func savedID(user: String, requestID: String) throws -> String {
        var bytes = Array(try SHA256.hash(Array("docsd save \(user) \(requestID)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    /// Shares the owner's document with the account that has `email`; that account's user id.
    func share(documentID: String, ownerID: String, email: String, access: DocumentAccess) async throws -> String {
        let (document, found) = try await document(id: documentID, userID: ownerID)
        guard found == .owner else { throw DocumentError.notFound(Self.noDocument) }
        guard document.deletedAt == nil else { throw DocumentError.inTrash }
        let user: String?
        do {
            user = try await directory.userID(email: email)
        } catch {
            logger.error("authd's accounts cannot be asked", metadata: ["reason": "\(error)"])
            throw DocumentError.unavailable("the accounts directory")
        }
        guard let user else { throw DocumentError.notFound("no account has this email") }
        guard user != ownerID else { throw DocumentError.invalidField(field: "email", message: "this is your own email: the document is yours already") }
        guard try await storage({ try await store.share(documentID: documentID, ownerID: ownerID, with: user, access: access) }) else {
            throw DocumentError.notFound(Self.noDocument)
        }
        readCache?.changed(owner: ownerID, document: documentID)
        return user
    }

    func shares(documentID: String, ownerID: String) async throws -> [(userID: String, access: DocumentAccess)] {
        try await ofOwnedDocument(documentID) { try await store.shares(documentID: documentID, ownerID: ownerID) }
    }

    func unshare(documentID: String, ownerID: String, userID: String) async throws {
        guard Identifiers.isUUID(documentID), Identifiers.isUUID(userID),
            try await storage({ try await store.unshare(documentID: documentID, ownerID: ownerID, userID: userID) })
        else { throw DocumentError.notFound("this document of yours is not shared with this user") }
        readCache?.changed(owner: ownerID, document: documentID)
    }

    /// The user's profile: the defaults until they save one.
    func profile(userID: String) async throws -> Profile {
        try await storage { try await store.profile(userID: userID) } ?? .defaults(userID: userID)
    }

    /// Applies `change` to the user's profile under its row's lock; a change that refuses
    /// (a member at fault) saves nothing.
    func changeProfile(userID: String, _ change: @Sendable (inout Profile) throws -> Void) async throws -> Profile {
        try await storage { try await store.changeProfile(userID: userID, change) }
    }

    static func hash(token: String) throws -> [UInt8] {
        try SHA256.hash(Array(token.utf8))
    }

    /// The plan's limit; 503 when subscribed cannot say it (a creation is refused, never let past it).
    private func planLimit(_ tier: String) async throws -> Int {
        do {
            return try await limits.documentsMax(plan: tier)
        } catch {
            logger.error("the plans' limits cannot be read from subscribed", metadata: ["reason": "\(error)"])
            throw DocumentError.unavailable("the plans' limits")
        }
    }

    /// What `find` finds of the owner's document `id`: the same 404 as for no document when `id`
    /// is no document's id, or not the owner's (`find` answers nil).
    private func ofOwnedDocument<T>(_ id: String, _ find: () async throws -> T?) async throws -> T {
        guard Identifiers.isUUID(id), let found = try await storage(find) else { throw DocumentError.notFound(Self.noDocument) }
        return found
    }

    /// Runs a store call: a refusal passes through; any other failure is PostgreSQL out of reach.
    func storage<T>(_ call: () async throws -> T) async throws -> T {
        try await passingRefusals(call) { error in
            logger.error("the document store failed", metadata: ["reason": "\(error)"])
            return DocumentError.unavailable("the document store")
        }
    }

    static let noDocument = "no document of yours, or shared with you, has this id"
    static let noTrashed = "no document of yours in the trash has this id"
    static let noLiveDocument = "no document of yours outside the trash has this id"
}
