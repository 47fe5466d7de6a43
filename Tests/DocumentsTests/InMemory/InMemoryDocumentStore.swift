import Foundation
import ServiceKit
import Synchronization
import TestSupport

@testable import Documents

/// ``DocumentStore`` in memory, with PostgresDocumentStore's answers for the same calls (the
/// contract suite runs both). Its search matches whole words, case aside, where PostgreSQL matches
/// stems: the suite asks only what both answer alike, and PostgreSQL's stems are tested on their own.
final class InMemoryDocumentStore: DocumentStore {
    private struct Link {
        var link: ShareLink
        let tokenHash: [UInt8]
    }

    private struct State {
        var documents: [String: Document] = [:]
        var versions: [String: [DocumentVersion]] = [:]
        var links: [Link] = []
        var shares: [String: [String: DocumentAccess]] = [:]
        var profiles: [String: Profile] = [:]
        /// The events a change told of, as `type user document`.
        var events: [String] = []
        var lastMicros = 0
    }

    let clock: TestClock
    private let state = Mutex(State())

    init(clock: TestClock = TestClock()) {
        self.clock = clock
    }

    var events: [String] { state.withLock { $0.events } }

    func create(_ new: NewDocument, limit: Int) async throws -> Document? {
        let now = clock.now
        return state.withLock { state in
            if let made = state.documents[new.id], made.ownerID == new.ownerID { return made }
            guard state.documents.values.count(where: { $0.ownerID == new.ownerID && $0.deletedAt == nil }) < limit else { return nil }
            // Distinct and rising, as PostgreSQL's now() is per transaction.
            let micros = max(Int((now.timeIntervalSince1970 * 1_000_000).rounded()), state.lastMicros + 1)
            state.lastMicros = micros
            let document = Document(
                id: new.id, ownerID: new.ownerID, title: new.title, body: new.body, kind: new.kind, sourceGenerationID: new.sourceGenerationID,
                version: 1, createdMicros: micros, updatedAt: now, deletedAt: nil)
            state.documents[new.id] = document
            state.versions[new.id] = [DocumentVersion(version: 1, title: new.title, body: new.body, savedBy: new.ownerID, savedAt: now)]
            return document
        }
    }

    private static func access(_ document: Document, _ userID: String, _ state: State) -> DocumentAccess? {
        if document.ownerID == userID { return .owner }
        guard document.deletedAt == nil else { return nil }
        return state.shares[document.id]?[userID]
    }

    func document(id: String, userID: String) async throws -> (Document, DocumentAccess)? {
        state.withLock { state in
            guard let document = state.documents[id], let access = Self.access(document, userID, state) else { return nil }
            return (document, access)
        }
    }

    private static func newestFirst(_ a: DocumentListing, _ b: DocumentListing) -> Bool {
        a.createdMicros != b.createdMicros ? a.createdMicros > b.createdMicros : a.id > b.id
    }

    private static func words(_ text: String) -> Set<String> {
        Set(text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
    }

    func documents(ownerID: String, limit: Int, after cursor: PageCursor?, query: String?) async throws -> [DocumentListing] {
        let asked = query.map(Self.words) ?? []
        return state.withLock { state in
            state.documents.values
                .filter { $0.ownerID == ownerID && $0.deletedAt == nil }
                .filter { document in
                    guard let cursor else { return true }
                    return document.createdMicros != cursor.micros ? document.createdMicros < cursor.micros : document.id < cursor.id
                }
                .filter { asked.isEmpty || asked.isSubset(of: Self.words($0.title + " " + $0.body)) }
                .map(DocumentListing.init).sorted(by: Self.newestFirst).prefix(limit).map { $0 }
        }
    }

    /// The owner's trash, longest there last.
    private static func trashed(_ state: State, ownerID: String) -> [DocumentListing] {
        state.documents.values.filter { $0.ownerID == ownerID && $0.deletedAt != nil }.map(DocumentListing.init)
            .sorted { ($0.deletedMicros!, $0.id) > ($1.deletedMicros!, $1.id) }
    }

    func trash(ownerID: String, limit: Int, after cursor: PageCursor?) async throws -> [DocumentListing] {
        state.withLock { state in
            Self.trashed(state, ownerID: ownerID).filter { listing in cursor.map { (listing.deletedMicros!, listing.id) < ($0.micros, $0.id) } ?? true }
                .prefix(limit).map { $0 }
        }
    }

    func sharedWith(userID: String, limit: Int, after cursor: PageCursor?) async throws -> [(DocumentListing, DocumentAccess)] {
        state.withLock { state in
            state.documents.values.filter { $0.deletedAt == nil && state.shares[$0.id]?[userID] != nil }.map(DocumentListing.init)
                .filter { listing in cursor.map { (listing.createdMicros, listing.id) < ($0.micros, $0.id) } ?? true }
                .sorted(by: Self.newestFirst).prefix(limit).map { ($0, state.shares[$0.id]![userID]!) }
        }
    }

    func update(id: String, userID: String, expected: Int, title: String, body: String) async throws -> UpdateOutcome {
        let now = clock.now
        return state.withLock { state in
            guard var document = state.documents[id] else { return .notFound }
            let access: DocumentAccess
            if document.ownerID == userID {
                access = .owner
            } else if let shared = state.shares[document.id]?[userID] {
                access = shared
            } else {
                return .notFound
            }
            if document.deletedAt != nil { return access == .owner ? .inTrash : .notFound }
            guard access != .read else { return .readOnly }
            guard document.version == expected else { return .stale(current: document.version) }
            document.title = title
            document.body = body
            document.version += 1
            document.updatedAt = now
            state.documents[document.id] = document
            state.versions[document.id, default: []].append(DocumentVersion(version: document.version, title: title, body: body, savedBy: userID, savedAt: now))
            if access == .edit { state.events.append("document.updated \(document.ownerID) \(document.id)") }
            return .updated(document)
        }
    }

    func delete(id: String, ownerID: String, keep: Int) async throws -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let document = state.documents[id], document.ownerID == ownerID, document.deletedAt == nil else { return false }
            state.documents[document.id]?.deletedAt = now
            for index in state.links.indices where state.links[index].link.documentID == document.id && state.links[index].link.revokedAt == nil {
                state.links[index].link.revokedAt = now
            }
            for gone in Self.trashed(state, ownerID: ownerID).dropFirst(keep) { Self.remove(gone.id, from: &state) }
            return true
        }
    }

    func restore(id: String, ownerID: String, limit: Int) async throws -> RestoreOutcome {
        state.withLock { state in
            guard let document = state.documents[id], document.ownerID == ownerID, document.deletedAt != nil else { return .notFound }
            guard state.documents.values.count(where: { $0.ownerID == ownerID && $0.deletedAt == nil }) < limit else { return .limitReached }
            state.documents[document.id]?.deletedAt = nil
            return .restored(state.documents[document.id]!)
        }
    }

    func versions(id: String, ownerID: String) async throws -> [VersionListing]? {
        state.withLock { state in
            guard let document = state.documents[id], document.ownerID == ownerID else { return nil }
            return state.versions[document.id]?.reversed().map {
                VersionListing(version: $0.version, title: $0.title, bytes: $0.body.utf8.count, savedBy: $0.savedBy, savedAt: $0.savedAt)
            }
        }
    }

    func version(_ number: Int, id: String, ownerID: String) async throws -> DocumentVersion? {
        state.withLock { state in
            guard let document = state.documents[id], document.ownerID == ownerID else { return nil }
            return state.versions[document.id]?.first { $0.version == number }
        }
    }

    private static func remove(_ id: String, from state: inout State) {
        state.documents[id] = nil
        state.versions[id] = nil
        state.shares[id] = nil
        state.links.removeAll { $0.link.documentID == id }
    }

    func purge(deletedBefore date: Date) async throws -> Int {
        state.withLock { state in
            let gone = state.documents.values.filter { $0.deletedAt.map { $0 < date } ?? false }.map(\.id)
            for id in gone { Self.remove(id, from: &state) }
            return gone.count
        }
    }

    func createLink(documentID: String, ownerID: String, tokenHash: [UInt8], expiresAt: Date?) async throws -> ShareLink? {
        let now = clock.now
        return state.withLock { state in
            guard let document = state.documents[documentID], document.ownerID == ownerID, document.deletedAt == nil else { return nil }
            let link = ShareLink(
                id: UUID().uuidString.lowercased(), documentID: document.id, access: "read", createdAt: now, expiresAt: expiresAt, revokedAt: nil)
            state.links.append(Link(link: link, tokenHash: tokenHash))
            return link
        }
    }

    func links(documentID: String, ownerID: String) async throws -> [ShareLink]? {
        state.withLock { state in
            guard let document = state.documents[documentID], document.ownerID == ownerID else { return nil }
            return state.links.filter { $0.link.documentID == document.id }.map(\.link).reversed()
        }
    }

    func revokeLink(id: String, documentID: String, ownerID: String) async throws -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let document = state.documents[documentID], document.ownerID == ownerID,
                let index = state.links.firstIndex(where: { $0.link.id == id && $0.link.documentID == document.id && $0.link.revokedAt == nil })
            else { return false }
            state.links[index].link.revokedAt = now
            return true
        }
    }

    func linkedDocument(tokenHash: [UInt8]) async throws -> Document? {
        let now = clock.now
        return state.withLock { state in
            guard let link = state.links.first(where: { $0.tokenHash == tokenHash })?.link, link.revokedAt == nil,
                link.expiresAt.map({ $0 > now }) ?? true, let document = state.documents[link.documentID], document.deletedAt == nil
            else { return nil }
            return document
        }
    }

    /// Moves every link's expiry to now (the contract suite's way to see one expire).
    func expireLinks() {
        let now = clock.now
        state.withLock { state in
            for index in state.links.indices where state.links[index].link.expiresAt != nil {
                let link = state.links[index].link
                state.links[index].link = ShareLink(
                    id: link.id, documentID: link.documentID, access: link.access, createdAt: link.createdAt, expiresAt: now, revokedAt: link.revokedAt)
            }
        }
    }

    /// Moves the deletion of `owner`'s trashed documents (everyone's when nil) `seconds` back.
    func backdateTrash(owner: String? = nil, by seconds: TimeInterval) {
        state.withLock { state in
            for (id, document) in state.documents where document.deletedAt != nil && (owner == nil || document.ownerID == owner) {
                state.documents[id]?.deletedAt! -= seconds
            }
        }
    }

    func share(documentID: String, ownerID: String, with userID: String, access: DocumentAccess) async throws -> Bool {
        state.withLock { state in
            guard let document = state.documents[documentID], document.ownerID == ownerID, document.deletedAt == nil else { return false }
            state.shares[document.id, default: [:]][userID] = access
            state.events.append("document.shared \(userID) \(document.id)")
            return true
        }
    }

    func shares(documentID: String, ownerID: String) async throws -> [(userID: String, access: DocumentAccess)]? {
        state.withLock { state in
            guard let document = state.documents[documentID], document.ownerID == ownerID else { return nil }
            return (state.shares[document.id] ?? [:]).sorted { $0.key < $1.key }.map { (userID: $0.key, access: $0.value) }
        }
    }

    func unshare(documentID: String, ownerID: String, userID: String) async throws -> Bool {
        state.withLock { state in
            guard let document = state.documents[documentID], document.ownerID == ownerID else { return false }
            return state.shares[document.id]?.removeValue(forKey: userID) != nil
        }
    }

    func profile(userID: String) async throws -> Profile? {
        state.withLock { $0.profiles[userID] }
    }

    func changeProfile(userID: String, _ change: @Sendable (inout Profile) throws -> Void) async throws -> Profile {
        try state.withLock { state in
            var profile = state.profiles[userID] ?? .defaults(userID: userID)
            profile.saved = true
            try change(&profile)
            state.profiles[userID] = profile
            return profile
        }
    }
}
