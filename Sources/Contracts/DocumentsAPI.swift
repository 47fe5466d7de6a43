/// The internal API docsd serves aid on a socket of its own, never routed by nginx: a user's
/// profile defaults for a generation that leaves them out, and a generation saved as a document
/// (`POST /api/generate/{id}/save`, which aid answers with docsd's answer).
public enum DocumentsAPI {
    /// `GET` with the user id last: ``GenerationDefaults``.
    public static let profileDefaultsPath = "/internal/profiles/"
    /// `POST` a ``SaveDocumentRequest``: 201 with the document, or the refusal as the public API answers it.
    public static let savePath = "/internal/documents"

    public static func profileDefaultsPath(userID: String) -> String { profileDefaultsPath + userID }
}

/// What a user's profile says a generation uses when the request names nothing: nil where the
/// profile says nothing either.
public struct GenerationDefaults: Codable, Sendable, Equatable {
    public let language: String?
    public let max_tokens: Int?

    public init(language: String?, max_tokens: Int?) {
        self.language = language
        self.max_tokens = max_tokens
    }
}

/// A document to make for `user` (on plan `tier`, which bounds how many they keep) from a
/// generation of theirs. `request_id` names the save: the same save sent again (to the other
/// instance, after a timeout) answers the document it made, never a second one.
public struct SaveDocumentRequest: Codable, Sendable, Equatable {
    public let user: String
    public let tier: String
    public let title: String
    public let body: String
    public let kind: String
    public let source_generation_id: String
    public let request_id: String

    public init(user: String, tier: String, title: String, body: String, kind: String, source_generation_id: String, request_id: String) {
        self.user = user
        self.tier = tier
        self.title = title
        self.body = body
        self.kind = kind
        self.source_generation_id = source_generation_id
        self.request_id = request_id
    }
}

/// The call docsd makes to authd (on authd's accounts socket, never routed by nginx) to share a
/// document with the account that has an email: `POST` ``Request``, 200 with ``Answer``, or 404
/// `no_account` when no account (or only a blocked one) has it.
public enum AccountLookupAPI {
    public static let path = "/internal/accounts/lookup"

    public struct Request: Codable, Sendable, Equatable {
        public let email: String

        public init(email: String) {
            self.email = email
        }
    }

    public struct Answer: Codable, Sendable, Equatable {
        public let user_id: String

        public init(user_id: String) {
            self.user_id = user_id
        }
    }
}
