import Foundation

/// A document as the store keeps it: its latest version, and where it stands.
struct Document: Sendable, Equatable {
    let id: String
    let ownerID: String
    var title: String
    var body: String
    let kind: String
    let sourceGenerationID: String?
    /// Counts from 1, one more with every saved change: what `ETag` and `If-Match` name.
    var version: Int
    /// Microseconds since 1970, as PostgreSQL keeps it: the page cursor compares it exactly.
    let createdMicros: Int
    var updatedAt: Date
    /// When it went to the trash; nil while it is not there.
    var deletedAt: Date?

    var createdAt: Date { Date(timeIntervalSince1970: Double(createdMicros) / 1_000_000) }
}

/// A document in a list: all but its body, and the body's size in bytes.
struct DocumentListing: Sendable, Equatable {
    let id: String
    let ownerID: String
    let title: String
    let kind: String
    let version: Int
    let createdMicros: Int
    let updatedAt: Date
    /// When it went to the trash, in microseconds since 1970 (the trash's page cursor); nil
    /// while it is not there.
    let deletedMicros: Int?
    let bytes: Int

    var createdAt: Date { Date(timeIntervalSince1970: Double(createdMicros) / 1_000_000) }
    var deletedAt: Date? { deletedMicros.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) } }
}

extension DocumentListing {
    init(_ document: Document) {
        self.init(
            id: document.id, ownerID: document.ownerID, title: document.title, kind: document.kind, version: document.version,
            createdMicros: document.createdMicros, updatedAt: document.updatedAt,
            deletedMicros: document.deletedAt.map { Int(($0.timeIntervalSince1970 * 1_000_000).rounded()) }, bytes: document.body.utf8.count)
    }
}

/// What a caller may do with a document.
enum DocumentAccess: String, Sendable, Equatable {
    case owner, edit, read
}

/// A new document, checked (``DocumentInput``).
struct NewDocument: Sendable, Equatable {
    let id: String
    let ownerID: String
    let title: String
    let body: String
    let kind: String
    let sourceGenerationID: String?
}

/// One saved version: the first, and each change after it.
struct DocumentVersion: Sendable, Equatable {
    let version: Int
    let title: String
    let body: String
    let savedBy: String
    let savedAt: Date
}

/// A version in the list of a document's versions: all but its body, and the body's size.
struct VersionListing: Sendable, Equatable {
    let version: Int
    let title: String
    let bytes: Int
    let savedBy: String
    let savedAt: Date
}

/// A share link: its token is shown once, at its making; only the token's SHA-256 is kept.
struct ShareLink: Sendable, Equatable {
    let id: String
    let documentID: String
    let access: String
    let createdAt: Date
    let expiresAt: Date?
    var revokedAt: Date?
}

/// A user's profile; ``Profile/defaults(userID:)`` until they save one.
struct Profile: Sendable, Equatable {
    let userID: String
    var displayName: String?
    var language: String
    var timeZone: String
    /// The answer length a generation asks for when the request names none.
    var maxTokens: Int?
    /// Whether the user saved it; the defaults say nothing for aid to use.
    var saved: Bool

    static func defaults(userID: String) -> Profile {
        Profile(userID: userID, displayName: nil, language: "ru", timeZone: "UTC", maxTokens: nil, saved: false)
    }
}
