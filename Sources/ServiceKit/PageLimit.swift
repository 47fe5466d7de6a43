/// A page's `limit` query parameter, for every route that pages: `default` when left out, 400
/// `invalid_field` naming the range when it is not a whole number in `range`, written in digits alone.
public func pageLimit(_ text: String?, in range: ClosedRange<Int>, default defaultLimit: Int) throws -> Int {
    guard let text else { return defaultLimit }
    guard let limit = Identifiers.decimal(text, as: Int.self), range.contains(limit) else {
        throw APIError.badRequest(code: "invalid_field", "limit must be from \(range.lowerBound) to \(range.upperBound)", field: "limit")
    }
    return limit
}

/// Where a page that lists newest first goes on from: the last item's time that the page is
/// ordered by (its creation, or its deletion for a trash; microseconds since 1970, as PostgreSQL
/// keeps it, so that it compares exactly) and its id, written `<micros>.<id>` as the page's `next`.
public struct PageCursor: Sendable, Equatable {
    public let micros: Int
    public let id: String

    public init(micros: Int, id: String) {
        self.micros = micros
        self.id = id
    }

    /// `<micros>.<id>`; nil for anything else (microseconds since 1970 in 1 to 17 digits, up to the
    /// year 5138, with no sign; an id a UUID).
    public init?(_ text: String) {
        let parts = text.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, (1...17).contains(parts[0].utf8.count), let micros = Identifiers.decimal(parts[0], as: Int.self),
            Identifiers.isUUID(String(parts[1]))
        else { return nil }
        self.micros = micros
        id = String(parts[1])
    }

    public var text: String { "\(micros).\(id)" }
}

/// A page's `after` query parameter: nil when left out, 400 `invalid_field` when it is not the
/// `next` of an earlier page.
public func pageCursor(_ text: String?) throws -> PageCursor? {
    guard let text else { return nil }
    guard let cursor = PageCursor(text) else {
        throw APIError.badRequest(code: "invalid_field", "after must be the next value of an earlier page", field: "after")
    }
    return cursor
}
