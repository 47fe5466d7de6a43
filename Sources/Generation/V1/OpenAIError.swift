import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A `/v1` refusal in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, which
/// OpenAI's client libraries read. Those libraries send a 408, 409, 429 or 5xx again by themselves:
/// a refusal that a retry soon cannot cure (every 4xx here, a spent balance or day included) says
/// `x-should-retry: false`; one that resets carries `Retry-After` too.
struct OpenAIError: Error, Sendable {
    let status: HTTPResponse.Status
    let type: String
    let code: String?
    let param: String?
    let message: String
    var retryAfter: Int? = nil

    /// A request the client must change.
    static func invalid(_ message: String, param: String?, code: String = "invalid_value") -> OpenAIError {
        OpenAIError(status: .badRequest, type: "invalid_request_error", code: code, param: param, message: message)
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if (400...499).contains(status.code) { headers[HTTPField.Name("x-should-retry")!] = "false" }
        let error: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        let data = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
