public import Hummingbird
public import HummingbirdCore

/// Refuses an address whose path or query carries an encoded NUL (`%00`): 400 `invalid_text`, as
/// ``JSONBody`` refuses one in a body, before a route hands the text to a store that cannot keep it.
public struct NULRefusalMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.hasEncodedNUL { throw JSONBody.nulRefusal }
        return try await next(request, context)
    }
}

extension URI {
    /// Whether the path or query has `%00`, which decodes to a NUL; for listeners without the middleware.
    public var hasEncodedNUL: Bool {
        var percent = 0
        for byte in description.utf8 {
            switch (percent, byte) {
            case (_, UInt8(ascii: "%")): percent = 1
            case (1, UInt8(ascii: "0")): percent = 2
            case (2, UInt8(ascii: "0")): return true
            default: percent = 0
            }
        }
        return false
    }
}
