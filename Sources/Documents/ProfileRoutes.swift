import Foundation
import Hummingbird
import ServiceKit

/// `GET/PUT /api/profile` (scope `profile`): the user's display name, language, time zone and the
/// answer length their generations ask for when a request names none. aid uses the language and
/// the length for a generation that leaves them out. A PUT changes the members it names; null
/// clears the display name and the length.
struct ProfileRoutes: Sendable {
    let documents: DocumentService

    static let languages = ["ru", "en"]
    static let displayNameLength = 1...100
    static let maxTokens = 16...4096

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/profile") { request, _ in
            let user = try DocumentRoutes.identity(request).userID
            return try Response.json(ProfileBody(try await documents.profile(userID: user)))
        }
        router.put("/api/profile") { request, context in
            let user = try DocumentRoutes.identity(request).userID
            let body = try await request.decodeJSON(as: ProfileChange.self, context: context)
            return try Response.json(ProfileBody(try await documents.changeProfile(userID: user) { try Self.apply(body, to: &$0) }))
        }
    }

    static func apply(_ change: ProfileChange, to profile: inout Profile) throws(DocumentError) {
        if let name = change.display_name {
            if let name {
                let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
                guard displayNameLength.contains(trimmed.unicodeScalars.count),
                    !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
                else {
                    throw .invalidField(field: "display_name", message: "display_name must be 1 to 100 characters on one line, or null")
                }
                profile.displayName = trimmed
            } else {
                profile.displayName = nil
            }
        }
        if let language = change.language {
            guard languages.contains(language) else {
                throw .invalidField(field: "language", message: "language must be one of: \(languages.joined(separator: ", "))")
            }
            profile.language = language
        }
        if let zone = change.time_zone {
            guard TimeZoneNames.all.contains(zone) else {
                throw .invalidField(field: "time_zone", message: "time_zone must be an IANA time zone such as Europe/Moscow or UTC")
            }
            profile.timeZone = zone
        }
        if let generation = change.generation, let maxTokens = generation.max_tokens {
            if let maxTokens, !Self.maxTokens.contains(maxTokens) {
                throw .invalidField(
                    field: "generation.max_tokens",
                    message: "generation.max_tokens must be from \(Self.maxTokens.lowerBound) to \(Self.maxTokens.upperBound), or null")
            }
            profile.maxTokens = maxTokens
        }
    }
}

/// A PUT's members: absent keeps the value, null clears what may be cleared.
struct ProfileChange: JSONRequestBody {
    struct Generation: JSONRequestBody {
        let max_tokens: Int??

        enum Members: String, CodingKey, CaseIterable { case max_tokens }
        typealias CodingKeys = Members

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Members.self)
            max_tokens = container.contains(.max_tokens) ? .some(try container.decodeIfPresent(Int.self, forKey: .max_tokens)) : .none
        }
    }

    let display_name: String??
    let language: String?
    let time_zone: String?
    let generation: Generation?

    enum Members: String, CodingKey, CaseIterable { case display_name, language, time_zone, generation }
    typealias CodingKeys = Members
    static var objectMembers: [String: any JSONRequestBody.Type] { ["generation": Generation.self] }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Members.self)
        display_name = container.contains(.display_name) ? .some(try container.decodeIfPresent(String.self, forKey: .display_name)) : .none
        language = try container.decodeIfPresent(String.self, forKey: .language)
        time_zone = try container.decodeIfPresent(String.self, forKey: .time_zone)
        generation = try container.decodeIfPresent(Generation.self, forKey: .generation)
    }
}

struct ProfileBody: Encodable {
    struct Generation: Encodable {
        let max_tokens: Int?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(max_tokens, forKey: .max_tokens)
        }

        enum CodingKeys: String, CodingKey { case max_tokens }
    }

    let display_name: String?
    let language: String
    let time_zone: String
    let generation: Generation
    let saved: Bool

    init(_ profile: Profile) {
        display_name = profile.displayName
        language = profile.language
        time_zone = profile.timeZone
        generation = Generation(max_tokens: profile.maxTokens)
        saved = profile.saved
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(display_name, forKey: .display_name)
        try container.encode(language, forKey: .language)
        try container.encode(time_zone, forKey: .time_zone)
        try container.encode(generation, forKey: .generation)
        try container.encode(saved, forKey: .saved)
    }

    enum CodingKeys: String, CodingKey { case display_name, language, time_zone, generation, saved }
}
