import Contracts
import ServiceKit

/// `POST /api/generate`'s body as a client sends it.
struct GenerateBody: JSONRequestBody, Sendable {
    struct Options: JSONRequestBody, Sendable {
        let language: String?
        let max_tokens: Int?

        enum Members: String, CodingKey, CaseIterable { case language, max_tokens }
        typealias CodingKeys = Members
    }

    let topic: String
    let function: String
    let options: Options?
    let stream: Bool?

    enum Members: String, CodingKey, CaseIterable { case topic, function, options, stream }
    typealias CodingKeys = Members
    static var objectMembers: [String: any JSONRequestBody.Type] { ["options": Options.self] }
}

/// A generation request that passed every check: what the engine is asked and how to answer.
struct GenerationInput: Sendable, Equatable {
    /// Languages the templates ask the engine to write in.
    static let languages = ["ru", "en"]
    static let topicLength = 3...2000
    static let maxTokens = 16...4096
    static let topicBytes = 8000

    static func refused(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.generalCategory == .control { return !["\n", "\t", "\r"].contains(scalar) }
        return (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }

    let function: GenerationFunction
    /// The topic with surrounding white space removed.
    let topic: String
    let language: String
    /// The output tokens the client asked for, or else its profile's length, or else the
    /// function's default.
    let maxTokens: Int
    /// Whether the client asked for `maxTokens`: a number asked for above the plan's bound is
    /// refused; a default (the profile's or the function's) is only kept within it.
    let askedMaxTokens: Bool
    let stream: Bool

    /// Checks `body` field by field; the first field at fault is named in the 400. What the body
    /// leaves out comes from the user's profile (`defaults`), then from the function.
    init(_ body: GenerateBody, defaults: GenerationDefaults? = nil) throws(APIError) {
        guard let function = GenerationFunction.named(body.function) else {
            let known = GenerationFunction.catalog.map(\.code).joined(separator: ", ")
            throw APIError.badRequest(code: "unknown_function", "function must be one of: \(known)", field: "function")
        }
        let topic = body.topic.trimmingWhiteSpace()
        guard Self.topicLength.contains(topic.count) else {
            throw APIError.badRequest(
                code: "invalid_field", "topic must be \(Self.topicLength.lowerBound) to \(Self.topicLength.upperBound) characters", field: "topic")
        }
        // A character may carry any number of combining marks: the bytes are capped too.
        guard topic.utf8.count <= Self.topicBytes else {
            throw APIError.badRequest(code: "invalid_field", "topic must be at most \(Self.topicBytes) bytes of UTF-8", field: "topic")
        }
        // Line breaks and tabs belong in a topic; other control characters only confuse a model,
        // and bidirectional overrides make a topic read otherwise than it is.
        guard !topic.unicodeScalars.contains(where: { Self.refused($0) }) else {
            throw APIError.badRequest(code: "invalid_field", "topic must not contain control or bidirectional-override characters", field: "topic")
        }
        let language = body.options?.language ?? defaults?.language.flatMap { Self.languages.contains($0) ? $0 : nil } ?? "ru"
        guard Self.languages.contains(language) else {
            throw APIError.badRequest(
                code: "invalid_field", "options.language must be one of: \(Self.languages.joined(separator: ", "))", field: "options.language")
        }
        let maxTokens = body.options?.max_tokens ?? defaults?.max_tokens.flatMap { Self.maxTokens.contains($0) ? $0 : nil } ?? function.defaultMaxTokens
        guard Self.maxTokens.contains(maxTokens) else {
            throw APIError.badRequest(
                code: "invalid_field", "options.max_tokens must be from \(Self.maxTokens.lowerBound) to \(Self.maxTokens.upperBound)",
                field: "options.max_tokens")
        }
        self.function = function
        self.topic = topic
        self.language = language
        self.maxTokens = maxTokens
        askedMaxTokens = body.options?.max_tokens != nil
        stream = body.stream ?? false
    }

    /// The output tokens the engine may write on a plan whose answers are at most `bound` long.
    func maxTokens(within bound: Int) -> Int { min(maxTokens, bound) }
}

extension String {
    fileprivate func trimmingWhiteSpace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
