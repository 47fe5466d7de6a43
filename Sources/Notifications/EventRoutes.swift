import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// notifyd's routes: `GET /api/events`, the user's events as server-sent events from where the
/// client was (`Last-Event-ID`, or `?after=`), then live; and `GET /api/notifications`, the kept
/// history as JSON pages for clients that cannot hold a stream.
struct EventRoutes: Sendable {
    let history: any EventHistory
    let streams: LiveStreams
    /// Events read from the history at once.
    let pageSize: Int
    /// How long a stream stays open; then it is closed with `max_age` and the client reconnects.
    let maxAge: Duration

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/events") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let resume = request.headers[Self.lastEventID] ?? request.uri.queryParameters.get("after")
            let requestID = RequestTrace.requestID
            // Opened once the body is written (never for a HEAD request, whose body is not), and
            // before the first read: an event stored between the two wakes this stream.
            let body = ResponseBody { writer in
                guard let subscription = streams.open(userID: identity.userID, sessionID: identity.sessionID) else {
                    try await writer.write(try Self.closed(.shutdown))
                    try await writer.finish(nil)
                    return
                }
                let ageLimit = Task {
                    try await Task.sleep(for: maxAge)
                    streams.close(subscription, reason: .maxAge)
                }
                defer {
                    ageLimit.cancel()
                    streams.remove(subscription)
                }
                try await RequestTrace.$requestID.withValue(requestID) {
                    try await stream(subscription, resumingAfter: resume, into: &writer)
                }
            }
            // X-Accel-Buffering tells nginx to pass each event on as it comes.
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
                body: body)
        }
        router.get("/api/notifications") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let limit = try Self.limit(request.uri.queryParameters.get("limit"), maximum: pageSize)
            var after: EventPosition?
            if let text = request.uri.queryParameters.get("after") {
                guard let position = EventPosition(text) else {
                    throw APIError.badRequest(code: "invalid_field", "after must be the id of an event, or left out", field: "after")
                }
                after = position
            }
            return try Response.json(NotificationPage(try await read(identity.userID, after: after, limit: limit), after: after))
        }
        router.post("/api/notifications/read") { request, context in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let body = try await request.decodeJSON(as: ReadBody.self, context: context)
            guard let position = EventPosition(body.up_to) else {
                throw APIError.badRequest(code: "invalid_field", "up_to must be the id of an event", field: "up_to")
            }
            switch try await read({ try await history.markRead(of: identity.userID, upTo: position) }) {
            case .marked(let mark, let unseen):
                return try Response.json(ReadAnswer(read_up_to: mark.description, unseen: unseen))
            case .unknown:
                throw APIError(
                    .conflict, code: "unknown_event",
                    message: "up_to is not an event of your kept history (it is from before a reset, or ahead of it); read it again", field: "up_to")
            }
        }
    }

    /// The stream's body: what the client missed (or a `reset`), then each new event as the
    /// user's wakes and heartbeats come, until the instance stops.
    private func stream(_ subscription: LiveStreams.Subscription, resumingAfter resume: String?, into writer: inout any ResponseBodyWriter) async throws {
        // `retry` tells the browser to reconnect after a second when the stream breaks.
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        var cursor: EventPosition
        if let resume, let position = EventPosition(resume) {
            cursor = position
        } else {
            cursor = try await read { try await history.latest(of: subscription.userID) }
            // An id this gateway never gave cannot be resumed: reset. A new stream's first line
            // is its starting id, so that a reconnect before any event resumes from there.
            try await writer.write(resume == nil ? ServerSentEvent.id(cursor.description) : try Self.reset(from: cursor))
        }
        try await writeNew(subscription.userID, after: &cursor, into: &writer)
        for await signal in subscription.signals {
            if let reason = streams.closeReason(subscription) {
                // A revoked session gets nothing more; otherwise what was stored goes out first.
                if reason != .sessionRevoked && reason != .accountBlocked {
                    try await writeNew(subscription.userID, after: &cursor, into: &writer)
                }
                try await writer.write(try Self.closed(reason))
                break
            }
            if case .heartbeat = signal { try await writer.write(ServerSentEvent.comment("heartbeat")) }
            try await writeNew(subscription.userID, after: &cursor, into: &writer)
        }
        try await writer.finish(nil)
    }

    /// Writes the user's events after `cursor` and moves it past them; a reset when they are no
    /// longer all kept.
    private func writeNew(_ userID: String, after cursor: inout EventPosition, into writer: inout any ResponseBodyWriter) async throws {
        while true {
            switch try await read(userID, after: cursor, limit: pageSize) {
            case .reset(let from):
                cursor = from
                try await writer.write(try Self.reset(from: from))
                return
            case .events(let events):
                for stored in events {
                    try await writer.write(try Self.encode(stored))
                    cursor = stored.position
                }
                if events.count < pageSize { return }
            }
        }
    }

    private func read(_ userID: String, after: EventPosition?, limit: Int) async throws -> HistoryPage {
        try await read { try await history.events(of: userID, after: after, limit: limit) }
    }

    /// A history read; Redis out of reach is a 503 (or, mid-stream, the end of the stream: the
    /// client reconnects from its last id).
    private func read<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch {
            throw APIError.unavailable(code: "notify_unavailable", "the event history cannot be read right now; connect again shortly")
        }
    }

    static func encode(_ stored: StoredEvent) throws -> ByteBuffer {
        try ServerSentEvent.encode(event: stored.event.type.rawValue, id: stored.position.description, stored.event)
    }

    /// The events after the client's id cannot all be given: it reloads its state, and resumes
    /// from `from`.
    static func reset(from: EventPosition) throws -> ByteBuffer {
        try ServerSentEvent.encode(event: "reset", id: from.description, ["epoch": from.epoch])
    }

    static func closed(_ reason: LiveStreams.CloseReason) throws -> ByteBuffer {
        try ServerSentEvent.encode(event: "closed", ["reason": reason.rawValue])
    }

    static func limit(_ text: String?, maximum: Int) throws -> Int {
        guard let text else { return maximum }
        guard let limit = Int(text), (1...maximum).contains(limit) else {
            throw APIError.badRequest(code: "invalid_field", "limit must be from 1 to \(maximum)", field: "limit")
        }
        return limit
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
