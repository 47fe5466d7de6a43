public import Foundation

/// One notification about a user, on the `events` topic exchange under `user.<id>` (ARCHITECTURE.md,
/// "Contracts"): genworker, aid, subscribed, authd and docsd publish them; notifyd and botd consume them.
/// The data carries ids and statuses, never generated text.
public struct UserEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case generationSucceeded = "generation.succeeded"
        case generationFailed = "generation.failed"
        case generationProgress = "generation.progress"
        case generationCanceled = "generation.canceled"
        case subscriptionChanged = "subscription.changed"
        case sessionRevoked = "session.revoked"
        /// A document was shared with the user (data: document_id, access, by: the owner's id).
        case documentShared = "document.shared"
        /// Someone the user shared a document with changed it (data: document_id, version, by: their id).
        case documentUpdated = "document.updated"
    }

    /// The exchange every event is published on.
    public static let exchange = "events"
    /// notifyd's queue: every user's events (`user.*`), consumed by each notifyd instance in turn.
    public static let notificationsQueue = "notify.events"
    /// botd's queue: every user's events, of which it acts on the ends of the tasks a chat asked for.
    public static let botsQueue = "bots.events"

    /// Unique per event: a consumer that sees an id twice (a redelivery) acts once.
    public let id: String
    public let type: Kind
    public let userID: String
    /// Whole seconds: the wire format is RFC 3339 without fractions.
    public let time: Date
    public let data: [String: String]

    public init(id: String = UUID().uuidString.lowercased(), type: Kind, userID: String, time: Date = Date(), data: [String: String] = [:]) {
        self.id = id
        self.type = type
        self.userID = userID
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        self.data = data
    }

    /// `user.<id>`: a consumer binds `user.*` for everyone or `user.<id>` for one user.
    public var routingKey: String { "user.\(userID)" }

    /// The JSON body as it travels: `{"data":{},"id":"…","time":"2026-12-01T10:00:00Z","type":"…","user_id":"…"}`.
    public func encoded() throws -> [UInt8] {
        Array(try Self.encoder.encode(self))
    }

    /// An event from a message body; throws on anything that is not one (an unknown type included).
    public static func decode(_ body: some Collection<UInt8>) throws -> UserEvent {
        try decoder.decode(UserEvent.self, from: Data(body))
    }

    private enum CodingKeys: String, CodingKey {
        case id, type, time, data
        case userID = "user_id"
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
