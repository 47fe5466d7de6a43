import HTTPTypes
import ServiceKit

/// Each document refusal's HTTP answer: status, stable code, message, field.
extension DocumentError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .invalidField(let field, let message):
            return .badRequest(code: "invalid_field", message, field: field)
        case .notFound(let message):
            return .notFound(message)
        case .stale(let current):
            var error = APIError(
                .preconditionFailed, code: "version_conflict",
                message: "the document is at version \(current) now, not the one If-Match names: read it again, then save your change over it",
                headers: [.eTag: DocumentETag.text(current)])
            error.details["current_version"] = .int(current)
            return error
        case .versionRequired:
            return APIError(
                HTTPResponse.Status(code: 428, reasonPhrase: "Precondition Required"), code: "version_required",
                message: "send If-Match with the version you changed (the ETag of your last read), so that no other change is lost",
                field: "If-Match")
        case .limitReached(let limit):
            var error = APIError(
                .forbidden, code: "document_limit_reached",
                message: "your plan keeps \(limit) documents and you have them: delete some, or see GET /api/plans for plans with more")
            error.details["limit"] = .int(limit)
            return error
        case .readOnly:
            return APIError(.forbidden, code: "read_only", message: "this document is shared with you to read only")
        case .inTrash:
            return APIError(.conflict, code: "document_in_trash", message: "this document is in the trash: POST .../restore first")
        case .unavailable(let what):
            return .unavailable(code: "documents_unavailable", "\(what) cannot be reached right now; nothing was changed")
        }
    }
}

/// A version as `ETag` and `If-Match` write it: `"3"`.
enum DocumentETag {
    static func text(_ version: Int) -> String { "\"\(version)\"" }

    /// The version `If-Match` names: `"3"` (or a bare 3). A list, `*` or a weak tag is refused:
    /// each would let a change go over one its sender never saw.
    static func version(ifMatch value: String?) throws(DocumentError) -> Int {
        guard let value else { throw .versionRequired }
        var text = Substring(value.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = text.dropFirst().dropLast() }
        guard let version = Int(text), version >= 1 else {
            throw .invalidField(field: "If-Match", message: "If-Match must be one version as the ETag gave it, such as \"3\"")
        }
        return version
    }
}
