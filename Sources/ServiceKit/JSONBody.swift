import Foundation
public import Hummingbird

/// Request bodies: one JSON decoding step for every route of every daemon, whose refusals name
/// the member and the rule in plain words (`password is required`, `email must be a string`)
/// with a stable code and the member in `field`, instead of the decoder's own text.
public enum JSONBody {
    /// Codes a client can switch on.
    public enum Code {
        /// The body is empty or not JSON at all.
        public static let invalidJSON = "invalid_json"
        /// The body is JSON but not an object.
        public static let notAnObject = "invalid_body"
        /// A required member is absent.
        public static let missingField = "missing_field"
        /// A member has the wrong type or is null.
        public static let invalidField = "invalid_field"
        /// A member the request does not have (a typo such as `max_token`).
        public static let unknownField = "unknown_field"
        /// The body is not declared `application/json`.
        public static let unsupportedMediaType = "unsupported_media_type"
        /// Text with a NUL character (`\u0000`, or `%00` in the address).
        public static let invalidText = "invalid_text"
    }

    /// Whether a JSON text has a `\u0000` escape: the only way a NUL enters JSON. Each escape's
    /// character is skipped, so `\\u0000` (a backslash, then `u0000`) is none.
    static func hasEscapedNUL(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "\\"), iterator.next() == UInt8(ascii: "u") else { continue }
            var zeros = 0
            for _ in 0..<4 where iterator.next() == UInt8(ascii: "0") { zeros += 1 }
            if zeros == 4 { return true }
        }
        return false
    }

    /// Decodes `bytes` as the request body `T`: as ``decode(_:from:)``, and a member `T` does not
    /// have is refused (400 `unknown_field` naming it), so that a typo never silently does nothing.
    /// One parse of the bytes serves both.
    public static func decodeRequest<T: JSONRequestBody>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(APIError) -> T {
        try decode(CheckedBody<T>.self, from: bytes).value
    }

    /// A request body decoded as `T`, then its members' names checked against `T`'s.
    private struct CheckedBody<T: JSONRequestBody>: Decodable {
        let value: T

        init(from decoder: any Decoder) throws {
            value = try T(from: decoder)
            // T decoded, so the body is a JSON object.
            try JSONBody.checkMembers(of: decoder.container(keyedBy: MemberName.self), as: T.self, at: "")
        }
    }

    /// Any member's name.
    private struct MemberName: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private static func checkMembers(of object: KeyedDecodingContainer<MemberName>, as type: any JSONRequestBody.Type, at prefix: String) throws(APIError) {
        let known = type.memberNames
        for key in object.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let field = prefix + key.stringValue
            guard known.contains(key.stringValue) else {
                throw .badRequest(
                    code: Code.unknownField,
                    "\(field) is not a member of this request; its members are: \(known.map { prefix + $0 }.joined(separator: ", "))", field: field)
            }
            if let nested = type.objectMembers[key.stringValue], let value = try? object.nestedContainer(keyedBy: MemberName.self, forKey: key) {
                try checkMembers(of: value, as: nested, at: field + ".")
            }
        }
    }

    /// Whether a `Content-Type` says JSON: `application/json`, with parameters or not.
    public static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return mediaType == "application/json"
    }

    public static let unsupportedMediaType = APIError(
        .unsupportedMediaType, code: Code.unsupportedMediaType, message: "the body must be JSON, sent with Content-Type: application/json")

    /// One for every request body, not one made per body.
    private static let decoder = JSONDecoder()

    /// Decodes `data` as `T`, or throws the 400 that says what is wrong with it.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(APIError) -> T {
        guard !bytes.isEmpty else { throw APIError.badRequest(code: Code.invalidJSON, "the body must be a JSON object") }
        guard !hasEscapedNUL(bytes) else { throw APIError.nulInText }
        do {
            return try decoder.decode(T.self, from: Data(bytes))
        } catch let refusal as APIError {
            throw refusal
        } catch let error as DecodingError {
            throw refusal(for: error)
        } catch {
            throw APIError.badRequest(code: Code.invalidJSON, "the body is not valid JSON")
        }
    }

    static func refusal(for error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .badRequest(code: Code.missingField, "\(field) is required", field: field)
        case .valueNotFound(let type, let context) where !context.codingPath.isEmpty:
            let field = path(context.codingPath)
            return .badRequest(code: Code.invalidField, "\(field) must be \(describe(type)), not null", field: field)
        case .typeMismatch(let type, let context) where !context.codingPath.isEmpty:
            let field = path(context.codingPath)
            return .badRequest(code: Code.invalidField, "\(field) must be \(describe(type))", field: field)
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            let field = path(context.codingPath)
            return .badRequest(code: Code.invalidField, "\(field) has a value that is not allowed", field: field)
        case .typeMismatch, .valueNotFound:
            return .badRequest(code: Code.notAnObject, "the body must be a JSON object")
        default:
            return .badRequest(code: Code.invalidJSON, "the body is not valid JSON")
        }
    }

    /// `scopes[1]`, `limits.daily`: how a person would point at the member.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue, key.stringValue == "Index \(index)" {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "a JSON object" }
            return "a \(name)"
        }
    }
}

/// A JSON request body: its members are the keys of `Members`, and those that are objects of their
/// own (`options`) are named in `objectMembers` with their type. ``JSONBody/decodeRequest(_:from:)``
/// refuses any other member.
public protocol JSONRequestBody: Decodable {
    associatedtype Members: CodingKey & CaseIterable
    static var objectMembers: [String: any JSONRequestBody.Type] { get }
}

extension JSONRequestBody {
    public static var objectMembers: [String: any JSONRequestBody.Type] { [:] }
    static var memberNames: [String] { Members.allCases.map(\.stringValue) }
}

extension Request {
    /// The body decoded as `T` through ``JSONBody/decodeRequest(_:from:)``: 415 unless it is
    /// declared `application/json`; over the upload limit is 413.
    public func decodeJSON<T: JSONRequestBody>(as type: T.Type, context: some RequestContext) async throws -> T {
        guard JSONBody.isJSON(headers[.contentType]) else { throw JSONBody.unsupportedMediaType }
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        return try JSONBody.decodeRequest(type, from: buffer.readableBytesView)
    }

    /// As ``decodeJSON(as:context:)`` for a route whose body may be left out: nil without one.
    public func decodeJSONIfPresent<T: JSONRequestBody>(as type: T.Type, context: some RequestContext) async throws -> T? {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return nil }
        guard JSONBody.isJSON(headers[.contentType]) else { throw JSONBody.unsupportedMediaType }
        return try JSONBody.decodeRequest(type, from: buffer.readableBytesView)
    }
}
