import Foundation
public import HTTPTypes
public import Hummingbird

/// An error answered to a client as the project's JSON body:
/// `{"error": "stable_code", "message": "human text", "request_id": "..."}`.
///
/// `code` is a contract clients can switch on; `message` is for people and may change.
public struct APIError: HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func notFound(_ message: String = "no such resource") -> APIError {
        APIError(.notFound, code: "not_found", message: message)
    }

    public static func badRequest(code: String = "bad_request", _ message: String) -> APIError {
        APIError(.badRequest, code: code, message: message)
    }

    public static func unavailable(code: String = "unavailable", _ message: String, retryAfterSeconds: Int = 1) -> APIError {
        APIError(.serviceUnavailable, code: code, message: message, headers: [.retryAfter: String(retryAfterSeconds)])
    }

    public static let internalError = APIError(.internalServerError, code: "internal_error", message: "the server failed to answer; the request id is in its log")

    struct Body: Encodable {
        let error: String
        let message: String
        let request_id: String?
    }

    /// The response with the request id that `RequestIdMiddleware` put on the request.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(requestId: request.headers[.requestId])
    }

    public func response(requestId: String?) -> Response {
        let body = (try? JSONEncoder().encode(Body(error: code, message: message, request_id: requestId))) ?? Data()
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPField.Name {
    /// The id nginx gives each request (`$request_id`), carried to every upstream and log line.
    public static var requestId: Self { .init("X-Request-Id")! }
}
