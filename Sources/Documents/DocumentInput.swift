import Foundation

/// The rules of a document's members, each refusal naming its field.
enum DocumentInput {
    /// In Unicode scalars, as PostgreSQL's `char_length` counts them (sql/016's check).
    static let titleLength = 1...200
    /// 200 KB of UTF-8.
    static let bodyBytes = 204_800
    static let defaultKind = "note"

    /// The title with surrounding white space removed.
    static func title(_ text: String) throws(DocumentError) -> String {
        let title = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard titleLength.contains(title.unicodeScalars.count) else {
            throw .invalidField(field: "title", message: "title must be \(titleLength.lowerBound) to \(titleLength.upperBound) characters")
        }
        guard !title.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidField(field: "title", message: "title must be one line without control characters")
        }
        return title
    }

    static func body(_ text: String) throws(DocumentError) -> String {
        guard text.utf8.count <= bodyBytes else {
            throw .invalidField(field: "body", message: "body must be at most \(bodyBytes) bytes of UTF-8 (200 KB)")
        }
        guard !text.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw .invalidField(field: "body", message: "body must not contain NUL characters")
        }
        return text
    }

    /// A kind is a short name of the client's: `note` unless given, else 1-32 of `a-z 0-9 _`
    /// starting with a letter (a generation saved keeps its function's name: `lesson_plan`).
    static func kind(_ text: String?) throws(DocumentError) -> String {
        guard let text else { return defaultKind }
        let bytes = Array(text.utf8)
        guard (1...32).contains(bytes.count), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[0]),
            bytes.allSatisfy({
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
            })
        else {
            throw .invalidField(field: "kind", message: "kind must be 1 to 32 of a-z, 0-9 and _, starting with a letter (such as note or lesson_plan)")
        }
        return text
    }

    /// A search: at most 200 characters, or none when blank.
    static func query(_ text: String?) throws(DocumentError) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        guard text.count <= 200 else { throw .invalidField(field: "q", message: "q must be at most 200 characters") }
        return text
    }
}
