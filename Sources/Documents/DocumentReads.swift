import HummingbirdCore
import NIOCore
import ServiceKit

/// The reads users make most, a document and a page of their list, as the encoded JSON both of
/// docsd's listeners answer: from the read cache when it holds them, else from the store (then
/// kept). Only a list's first page without a search is kept: later pages and searches vary too
/// much to be worth it.
struct DocumentReads: Sendable {
    let documents: DocumentService

    /// A page of any of docsd's lists (documents, trash, shared): `limit` (1 to 100, 20 when left
    /// out) and `after` (the previous page's `next`).
    struct PageQuery: Sendable {
        let limit: Int
        let after: PageCursor?

        init(_ parameters: FlatDictionary<Substring, Substring>) throws {
            limit = try pageLimit(parameters.get("limit"), in: 1...100, default: 20)
            after = try pageCursor(parameters.get("after"))
        }

        /// The `after` of the page following `page`, from its last item's cursor; nil when `page`
        /// was not full (the last).
        func next<Item>(_ page: [Item], _ cursor: (Item) -> PageCursor?) -> String? {
            guard page.count == limit else { return nil }
            return page.last.flatMap(cursor)?.text
        }
    }

    /// The query of `GET /api/documents`: a page, and `q` (a search).
    struct ListQuery: Sendable {
        let page: PageQuery
        let search: String?

        init(_ parameters: FlatDictionary<Substring, Substring>) throws {
            page = try PageQuery(parameters)
            search = try DocumentInput.query(parameters.get("q"))
        }

        var isFirstPage: Bool { page.after == nil && search == nil }
    }

    /// `id` as `user` may read it, when kept.
    func keptDocument(id: String, user: String) -> DocumentReadCache.Answer? {
        documents.readCache?.answer(.document(id: id, user: user))
    }

    func document(id: String, user: String) async throws -> DocumentReadCache.Answer {
        let key = DocumentReadCache.Key.document(id: id, user: user)
        return try await answer(key) {
            let (document, access) = try await documents.document(id: id, userID: user)
            return DocumentReadCache.Answer(body: try JSONAnswer.buffer(DocumentBody(document, access: access)), version: document.version)
        }
    }

    /// The owner's first page of `query`, when kept.
    func keptPage(owner: String, _ query: ListQuery) -> DocumentReadCache.Answer? {
        guard query.isFirstPage else { return nil }
        return documents.readCache?.answer(.firstPage(owner: owner, limit: query.page.limit))
    }

    func page(owner: String, _ query: ListQuery) async throws -> DocumentReadCache.Answer {
        let fetch = {
            let page = try await documents.list(ownerID: owner, limit: query.page.limit, after: query.page.after, query: query.search)
            let next = query.page.next(page) { PageCursor(micros: $0.createdMicros, id: $0.id) }
            let list = DocumentList(documents: page.map { DocumentSummary($0, access: .owner) }, next: next)
            return DocumentReadCache.Answer(body: try JSONAnswer.buffer(list), version: nil)
        }
        guard query.isFirstPage else { return try await fetch() }
        return try await answer(.firstPage(owner: owner, limit: query.page.limit), fetch)
    }

    /// The kept answer for `key`, or `fetch`'s, kept unless a change was heard meanwhile.
    private func answer(
        _ key: DocumentReadCache.Key, _ fetch: () async throws -> DocumentReadCache.Answer
    ) async throws -> DocumentReadCache.Answer {
        guard let cache = documents.readCache else { return try await fetch() }
        if let kept = cache.answer(key) { return kept }
        let ticket = cache.ticket()
        let fetched = try await fetch()
        cache.keep(fetched, for: key, ticket: ticket)
        return fetched
    }
}
