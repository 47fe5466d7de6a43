public import Hummingbird
import Logging

/// Puts the request id on every log line of the request and on the response, and turns every
/// error into the JSON error body, so no client ever sees a framework's HTML or empty 500.
///
/// The id is the one nginx sent in `X-Request-Id` when it is well formed, else a new one: a
/// client-chosen id must not be able to forge log lines.
public struct RequestIdMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers[.requestId].flatMap(Self.acceptable) ?? Self.newId()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response(requestId: id)
        } catch let error as HTTPError {
            response = APIError(error.status, code: Self.code(for: error.status), message: error.body ?? error.status.reasonPhrase).response(requestId: id)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": .string(String(describing: error))])
            response = APIError.internalError.response(requestId: id)
        }
        response.headers[.requestId] = id
        return response
    }

    static func acceptable(_ id: String) -> String? {
        guard (1...64).contains(id.utf8.count),
              id.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
        else { return nil }
        return id
    }

    static func newId() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 16) + String(generator.next() as UInt64, radix: 16)
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

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
