import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceKit

/// notifyd's routes: `GET /api/events`, the user's events from where the client was
/// (`Last-Event-ID`, or `?after=`), then live, as server-sent events or, when the request upgrades,
/// as WebSocket messages; `GET /api/notifications`, the kept history as JSON pages for clients that
/// cannot hold a stream; and `POST /api/notifications/read`, the user's read mark.
struct EventRoutes: Sendable {
    let history: any EventHistory
    let streams: LiveStreams
    let settings: NotificationSettings
    let logger: Logger

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    var eventStream: EventStream { EventStream(history: history, streams: streams, pageSize: settings.pageSize, logger: logger) }

    func add(to router: Router<BasicRequestContext>, webSockets: WebSocketRoutes) {
        router.get("/api/events") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let resume = request.headers[Self.lastEventID] ?? request.uri.queryParameters.get("after")
            let requestID = RequestTrace.requestID
            // Opened once the body is written (never for a HEAD request, whose body is not), and
            // before the first read: an event stored between the two wakes this stream.
            let body = ResponseBody { writer in
                var sink = ServerSentEventSink(writer: writer)
                guard let subscription = streams.open(userID: identity.userID, sessionID: identity.sessionID, lifetime: lifetime(of: identity)) else {
                    try await sink.close(.shutdown)
                    return
                }
                try await RequestTrace.$requestID.withValue(requestID) {
                    try await eventStream.serve(subscription, resumingAfter: resume, into: sink)
                }
            }
            // X-Accel-Buffering tells nginx to pass each event on as it comes.
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
                body: body)
        }
        webSockets.add("/api/events") { request, channel, _ in
            // Refused (400) without the gateway's identity, or from a page of another origin: a
            // browser sends its cookies with a WebSocket whatever the page, and CORS does not apply.
            guard let identity = GatewayIdentity(headers: request.headerFields), Self.sameOrigin(request.headerFields) else { return nil }
            let resume = URI(request.path ?? "").queryParameters.get("after")
            let requestID = request.headerFields[GatewayHeaders.requestID]
            return { inbound, outbound, _ in
                let sink = WebSocketEventSink(outbound: outbound)
                guard let subscription = streams.open(userID: identity.userID, sessionID: identity.sessionID, lifetime: lifetime(of: identity)) else {
                    var closing = sink
                    try await closing.close(.shutdown)
                    return
                }
                do {
                    try await RequestTrace.$requestID.withValue(requestID) {
                        // The stream ends when the client closes its side; what it sends is not read.
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                try await eventStream.serve(subscription, resumingAfter: resume, into: sink)
                            }
                            group.addTask { for try await _ in inbound {} }
                            try await group.next()
                            group.cancelAll()
                        }
                    }
                } catch is EventStream.CutOff {
                    // A closing handshake would wait on the socket the client does not read.
                    channel.close(promise: nil)
                }
            }
        }
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

    private func lifetime(of identity: GatewayIdentity) -> StreamLifetime {
        StreamLifetime(openedAt: Date(), maxAge: settings.maxAge, credentialExpiresAt: identity.credentialExpiresAt, grace: settings.expiryGrace)
    }

    /// A history read; Redis out of reach is a 503 (or, mid-stream, the end of the stream: the
    /// client reconnects from its last id).
    static func read<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch {
            throw APIError.unavailable(code: "notify_unavailable", "the event history cannot be read right now; connect again shortly")
        }
    }

    /// Whether a WebSocket request comes from a page of the gateway's own origin (or from no page:
    /// a client that is not a browser sends no `Origin`).
    static func sameOrigin(_ headers: HTTPFields) -> Bool {
        guard let origin = headers[.origin] else { return true }
        guard let host = headers[GatewayHeaders.forwardedHost] else { return false }
        return origin == "\(headers[GatewayHeaders.forwardedProto] ?? "https")://\(host)"
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
