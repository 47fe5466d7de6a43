/// A page's `limit` query parameter, for every route that pages: `default` when left out, 400
/// `invalid_field` naming the range when it is not a whole number in `range`.
public func pageLimit(_ text: String?, in range: ClosedRange<Int>, default defaultLimit: Int) throws -> Int {
    guard let text else { return defaultLimit }
    guard let limit = Int(text), range.contains(limit) else {
        throw APIError.badRequest(code: "invalid_field", "limit must be from \(range.lowerBound) to \(range.upperBound)", field: "limit")
    }
    return limit
}
