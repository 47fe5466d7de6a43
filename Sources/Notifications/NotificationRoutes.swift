import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceKit

/// notifyd's routes on its Hummingbird listener: `GET /api/notifications`, the kept history as JSON
/// pages for clients that cannot hold a stream, and `POST /api/notifications/read`, the user's
/// read mark. The streams (`GET /api/events`) have a listener of their own (``EventStreamServer``).
struct NotificationRoutes: Sendable {
    let history: any EventHistory
    let settings: NotificationSettings

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/notifications") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let limit = try pageLimit(request.uri.queryParameters.get("limit"), in: 1...settings.pageSize, default: settings.pageSize)
            var after: EventPosition?
            if let text = request.uri.queryParameters.get("after") {
                guard let position = EventPosition(text) else {
                    throw APIError.badRequest(code: "invalid_field", "after must be the id of an event, or left out", field: "after")
                }
                after = position
            }
            let page = try await Self.read { try await history.events(of: identity.userID, after: after, limit: limit) }
            return try Response.json(NotificationPage(page, after: after))
        }
        router.post("/api/notifications/read") { request, context in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let body = try await request.decodeJSON(as: ReadBody.self, context: context)
            guard let position = EventPosition(body.up_to) else {
                throw APIError.badRequest(code: "invalid_field", "up_to must be the id of an event", field: "up_to")
            }
            switch try await Self.read({ try await history.markRead(of: identity.userID, upTo: position) }) {
            case .marked(let mark, let unseen):
                return try Response.json(ReadAnswer(read_up_to: mark.description, unseen: unseen))
            case .unknown:
                throw APIError(
                    .conflict, code: "unknown_event",
                    message: "up_to is not an event of your kept history (it is from before a reset, or ahead of it); read it again", field: "up_to")
            }
        }
    }

    /// A history read; Redis out of reach is a 503.
    static func read<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch {
            throw APIError.unavailable(code: "notify_unavailable", "the event history cannot be read right now; connect again shortly")
        }
    }
}

/// `POST /api/notifications/read`: how far the user has seen their events.
struct ReadBody: JSONRequestBody {
    let up_to: String

    enum Members: String, CodingKey, CaseIterable { case up_to }
    typealias CodingKeys = Members
}

/// The read mark (never moved back by an older `up_to`), and how many kept events come after it.
struct ReadAnswer: Encodable {
    let read_up_to: String
    let unseen: Int
}

/// `GET /api/notifications`: a page of the kept history, oldest first; `next` is the `after` of
/// the following page (the same when nothing is newer yet); `reset` says the events after the
/// given id are no longer all kept, and the page starts from the newest.
struct NotificationPage: Encodable {
    struct Item: Encodable {
        let id: String
        let event_id: String
        let type: String
        let time: Date
        let data: [String: String]
    }

    let events: [Item]
    let next: String?
    let reset: Bool

    init(_ page: HistoryPage, after: EventPosition?) {
        switch page {
        case .events(let stored):
            events = stored.map {
                Item(id: $0.position.description, event_id: $0.event.id, type: $0.event.type.rawValue, time: $0.event.time, data: $0.event.data)
            }
            next = stored.last?.position.description ?? after?.description
            reset = false
        case .reset(let from):
            events = []
            next = from.description
            reset = true
        }
    }
}
