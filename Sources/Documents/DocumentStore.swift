import Foundation
import ServiceKit

/// Where docsd keeps documents, their versions, links, shares and profiles: PostgreSQL in a running
/// docsd (``PostgresDocumentStore``), memory in the tests of its rules. Every method that names a
/// user answers only what that user may see: another user's document is as absent as none.
protocol DocumentStore: Sendable {
    /// Makes the document and its first version, unless its owner keeps `limit` documents already
    /// (the trash not counted): then nil. Decided under a lock on the owner, so that concurrent
    /// creations never pass the limit together. A document of the owner's with the same id
    /// already is answered as made (a save sent again).
    func create(_ document: NewDocument, limit: Int) async throws -> Document?
    /// The document and what `userID` may do with it: its owner sees it in the trash too; one it
    /// is shared with, only out of it.
    func document(id: String, userID: String) async throws -> (Document, DocumentAccess)?
    /// The owner's documents out of the trash, newest first, after `cursor`; those whose title or
    /// body match `query` (PostgreSQL's `websearch_to_tsquery` in Russian and English) when given.
    func documents(ownerID: String, limit: Int, after cursor: PageCursor?, query: String?) async throws -> [DocumentListing]
    /// The owner's trash, most recently deleted first, after `cursor` (a deletion time and id).
    func trash(ownerID: String, limit: Int, after cursor: PageCursor?) async throws -> [DocumentListing]
    /// Documents shared with `userID` (out of the trash), newest first after `cursor`, and the
    /// access of each.
    func sharedWith(userID: String, limit: Int, after cursor: PageCursor?) async throws -> [(DocumentListing, DocumentAccess)]
    /// Saves a new version by `userID` (the owner, or one it is shared with to edit) if the
    /// document is still at `expected`.
    func update(id: String, userID: String, expected: Int, title: String, body: String) async throws -> UpdateOutcome
    /// Moves the owner's document to the trash and ends its links; false when it is not theirs or
    /// is there already. The trash keeps at most `keep` documents: the longest there go for good.
    func delete(id: String, ownerID: String, keep: Int) async throws -> Bool
    /// Takes the owner's document out of the trash, unless they keep `limit` documents already.
    func restore(id: String, ownerID: String, limit: Int) async throws -> RestoreOutcome
    /// Every version of the owner's document, newest first; nil when it is not theirs.
    func versions(id: String, ownerID: String) async throws -> [VersionListing]?
    /// One version of the owner's document; nil when it is not theirs or has no such version.
    func version(_ number: Int, id: String, ownerID: String) async throws -> DocumentVersion?
    /// Deletes what went to the trash before `date`, with its versions, links and shares.
    func purge(deletedBefore date: Date) async throws -> Int

    /// A link to the owner's document (not in the trash) under `tokenHash`; nil when it is not theirs.
    func createLink(documentID: String, ownerID: String, tokenHash: [UInt8], expiresAt: Date?) async throws -> ShareLink?
    /// The links of the owner's document, newest first; nil when it is not theirs.
    func links(documentID: String, ownerID: String) async throws -> [ShareLink]?
    /// Revokes a link of the owner's document; false when there is none such (or it ended already).
    func revokeLink(id: String, documentID: String, ownerID: String) async throws -> Bool
    /// The document a live link opens: not revoked, not expired, its document not in the trash.
    func linkedDocument(tokenHash: [UInt8]) async throws -> Document?

    /// Shares the owner's document with another user (a second share replaces the first's access),
    /// telling them with a `document.shared` event in the same transaction; false when the
    /// document is not the owner's or is in the trash.
    func share(documentID: String, ownerID: String, with userID: String, access: DocumentAccess) async throws -> Bool
    /// Who the owner's document is shared with, and how; nil when it is not theirs.
    func shares(documentID: String, ownerID: String) async throws -> [(userID: String, access: DocumentAccess)]?
    /// Ends a share; false when there was none.
    func unshare(documentID: String, ownerID: String, userID: String) async throws -> Bool

    /// The user's saved profile; nil before the first save.
    func profile(userID: String) async throws -> Profile?
    /// Applies `change` to the user's profile (the defaults before the first save) and saves it,
    /// under a lock on the row: two changes at once each keep the other's members.
    func changeProfile(userID: String, _ change: @Sendable (inout Profile) throws -> Void) async throws -> Profile
}

/// What a save of a new version found.
enum UpdateOutcome: Sendable, Equatable {
    case updated(Document)
    /// Another save came first: the version the document is at now.
    case stale(current: Int)
    /// Shared with the user to read only.
    case readOnly
    /// In the trash: restore it first.
    case inTrash
    /// Not theirs, nor shared with them.
    case notFound
}

enum RestoreOutcome: Sendable, Equatable {
    case restored(Document)
    case limitReached
    case notFound
}
