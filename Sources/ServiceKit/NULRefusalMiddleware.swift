public import Hummingbird
public import HummingbirdCore

/// Refuses an address whose path or query carries an encoded NUL (`%00`): 400 `invalid_text`, as
/// ``JSONBody`` refuses one in a body, before a route hands the text to a store that cannot keep it.
public struct NULRefusalMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.hasEncodedNUL { throw APIError.nulInText }
        return try await next(request, context)
    }
}

extension URI {
    /// Whether the path or query has `%00`, which decodes to a NUL (`%2500` decodes to the text
    /// `%00`, which no route decodes again); for listeners without the middleware.
    public var hasEncodedNUL: Bool { description.contains("%00") }
}

extension APIError {
    /// No store of the product keeps a NUL character (PostgreSQL's text cannot), so text holding one
    /// is refused as the client's mistake, before it could fail later as the store's.
    public static let nulInText = APIError.badRequest(code: JSONBody.Code.invalidText, "text cannot contain the NUL character (\\u0000 or %00)")
}
