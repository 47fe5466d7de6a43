public import Hummingbird
import Logging
import NIOCore

/// Turns every error a route or middleware throws into the JSON error body (with the request id
/// that ``RequestIdMiddleware`` gave the request), so no client ever sees a framework's HTML or
/// an empty 500. A body over the upload limit is 413 `payload_too_large`. An error that is neither an
/// ``APIErrorConvertible`` (an ``APIError``, or a domain error that knows its answer) nor the
/// framework's `HTTPError` is logged
/// and answered as `internal_error`, without its text.
public struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = context.requestID
        do {
            return try await next(request, context)
        } catch let error as any APIErrorConvertible {
            return error.apiError.response(requestId: id)
        } catch let error as NIOTooManyBytesError {
            // A body over the route's upload limit, as `request.body.collect(upTo:)` reports it.
            let limit = error.maxBytes.map { " of \($0) bytes" } ?? ""
            return APIError(.contentTooLarge, code: Self.code(for: .contentTooLarge), message: "the request body is over the limit\(limit)").response(
                requestId: id)
        } catch let error as HTTPError {
            return APIError(error.status, code: Self.code(for: error.status), message: error.body ?? error.status.reasonPhrase).response(requestId: id)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": .string(String(describing: error))])
            return APIError.internalError.response(requestId: id)
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        default: status.code >= 500 ? "internal_error" : "bad_request"
        }
    }
}
