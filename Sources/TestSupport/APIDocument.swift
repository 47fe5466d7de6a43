public import Foundation

/// The API's contract, `nginx/html/api/openapi.json`, as the set of operations it lists, so that a
/// daemon's tests can hold its router to it: a route served but not listed, or listed but not
/// served, is a difference a client would meet.
public struct APIDocument: Sendable {
    /// One operation: an upper-case method and a path whose parameters are all written `{}`, so
    /// that `/api/documents/{id}` and Hummingbird's `/api/documents/:id` compare equal.
    public struct Operation: Hashable, Sendable, CustomStringConvertible, Comparable {
        public let method: String
        public let path: String

        public init(method: String, path: String) {
            self.method = method.uppercased()
            self.path = Self.normalized(path)
        }

        public var description: String { "\(method) \(path)" }

        public static func < (lhs: Operation, rhs: Operation) -> Bool { lhs.description < rhs.description }

        static func normalized(_ path: String) -> String {
            path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
                segment.hasPrefix(":") || (segment.hasPrefix("{") && segment.hasSuffix("}")) ? "{}" : String(segment)
            }.joined(separator: "/")
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let operations: Set<Operation>

    /// The methods a route is written for; HEAD comes with GET, and the rest are refused by nginx.
    static let methods: Set<String> = ["get", "put", "post", "delete", "patch"]

    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../nginx/html/api/openapi.json")

    static func json() throws -> [String: Any] {
        guard let document = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] else {
            throw Failure(description: "\(file.path) is no JSON object")
        }
        return document
    }

    /// The strings a property of one of the document's schemas lists in its `enum`.
    public static func enumeration(schema: String, property: String) throws -> [String] {
        let schemas = (try json()["components"] as? [String: Any])?["schemas"] as? [String: Any]
        guard let values = (((schemas?[schema] as? [String: Any])?["properties"] as? [String: Any])?[property] as? [String: Any])?["enum"] as? [Any]
        else { throw Failure(description: "\(file.path) has no enum at \(schema).\(property)") }
        return values.compactMap { $0 as? String }
    }

    /// The repository's document.
    public static func load() throws -> APIDocument {
        guard let paths = try json()["paths"] as? [String: Any] else { throw Failure(description: "\(file.path) has no paths") }
        var operations = Set<Operation>()
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where methods.contains(method) {
                operations.insert(Operation(method: method, path: path))
            }
        }
        return APIDocument(operations: operations)
    }

    /// What differs between a daemon's `served` routes and the document under `prefixes` (the
    /// paths nginx/routes.conf sends to that daemon), one operation a line; `nil` when nothing does.
    /// HEAD comes with GET; the daemon's own probes, metrics and `/internal/` routes are under no
    /// public prefix.
    public func mismatch(served: [Operation], under prefixes: [String]) -> String? {
        func covered(_ operation: Operation) -> Bool {
            prefixes.contains { operation.path == $0 || operation.path.hasPrefix($0 + "/") }
        }
        let publicRoutes = Set(served.filter { covered($0) && $0.method != "HEAD" })
        let listed = operations.filter(covered)
        let lines =
            publicRoutes.subtracting(listed).sorted().map { "served, not in the document: \($0)" }
            + listed.subtracting(publicRoutes).sorted().map { "in the document, not served: \($0)" }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }
}
