import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// aid's routes through nginx: a generation asked for and answered (as one body or streamed as
/// server-sent events) or queued as a task, one generation read back or canceled, and the user's
/// history.
struct GenerationRoutes: Sendable {
    let generations: GenerationService
    let tasks: TaskService
    let store: any GenerationStore
    /// docsd: the profile's defaults, and saves; nil when aid is not told where it is.
    let documents: (any UserDocuments)?
    /// The longest a streamed answer may take, its delivery included (`stream.limit`).
    let streamLimit: Duration

    static let unreadable = "generations cannot be read right now"

    /// History pages: how many generations one holds.
    static let pageSizes = 1...100

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/generate") { request, context in
            // GatewayIdentityMiddleware has refused a request without the gateway's identity.
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let body = try await request.decodeJSON(as: GenerateBody.self, context: context)
            // A request at fault is refused before docsd is asked anything; a malformed key for every
            // function, though only a queued one keeps it.
            var input = try GenerationInput(body)
            let key = try request.headers[HTTPField.Name("Idempotency-Key")!].map(TaskService.checkIdempotencyKey)
            if let defaults = await defaults(for: body, userID: identity.userID) { input = try GenerationInput(body, defaults: defaults) }
            if input.function.mode == .queued {
                let accepted = try await tasks.accept(input, identity: identity, idempotencyKey: key)
                let location = "/api/generate/\(accepted.id)"
                var response = try Response.json(
                    TaskAcceptedBody(task_id: accepted.id, status: accepted.status.rawValue, status_url: location), status: .accepted)
                response.headers[.location] = location
                return response
            }
            let started = try await generations.start(input, userID: identity.userID)
            return input.stream ? stream(started) : try await answer(started)
        }
        // One generation, under the history's path too (`/api/generations/{id}`, beside the list).
        for path in ["/api/generate/{id}", "/api/generations/{id}"] {
            router.get(RouterPath(path)) { request, context in
                guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
                let id = try context.parameters.require("id")
                // Another user's generation is as absent as one that never existed.
                guard Identifiers.isUUID(id),
                    let record = try await generations.storage(
                        unavailable: Self.unreadable, { try await store.generation(id: id, userID: identity.userID) })
                else {
                    throw APIError.notFound("no generation of yours has this id")
                }
                return try Response.json(GenerationBody(record))
            }
        }
        router.post("/api/generate/{id}/save") { request, context in
            try await save(request, context: context)
        }
        router.delete("/api/generate/{id}") { request, context in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let id = try context.parameters.require("id")
            guard Identifiers.isUUID(id) else { throw APIError.notFound("no generation of yours has this id") }
            let status = try await tasks.cancel(id: id, userID: identity.userID)
            return try Response.json(CanceledBody(id: id, status: status.rawValue))
        }
        router.get("/api/generations") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let limit = try pageLimit(request.uri.queryParameters.get("limit"), in: Self.pageSizes, default: 20)
            let before = try pageCursor(request.uri.queryParameters.get("after"))
            let page = try await generations.storage(unavailable: Self.unreadable) {
                try await store.history(userID: identity.userID, limit: limit, before: before)
            }
            let next = page.count == limit ? page.last.map { PageCursor(micros: $0.createdMicros, id: $0.id).text } : nil
            return try Response.json(HistoryBody(generations: page.map(GenerationBody.init), next: next))
        }
    }

    /// The user's profile defaults when the body leaves the language or the length out. A docsd out
    /// of reach costs the generation nothing: the function's defaults apply, and the log says so.
    private func defaults(for body: GenerateBody, userID: String) async -> GenerationDefaults? {
        guard let documents, body.options?.language == nil || body.options?.max_tokens == nil else { return nil }
        do {
            return try await documents.generationDefaults(userID: userID)
        } catch {
            generations.logger.traced.warning("the profile's defaults cannot be read from docsd; the function's apply", metadata: ["reason": "\(error)"])
            return nil
        }
    }

    /// `POST /api/generate/{id}/save`: the user's succeeded generation kept as a document (its text,
    /// its function as the kind, its topic's first line as the title unless the body names one), by
    /// docsd under the same rules and plan limit as any new document; docsd's answer is the client's.
    private func save(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
        let id = try context.parameters.require("id")
        let body = try await request.decodeJSONIfPresent(as: SaveBody.self, context: context)
        guard Identifiers.isUUID(id),
            let record = try await generations.storage(unavailable: Self.unreadable, { try await store.generation(id: id, userID: identity.userID) })
        else {
            throw APIError.notFound("no generation of yours has this id")
        }
        guard record.status == .succeeded, let text = record.result else {
            throw APIError(
                .conflict, code: "generation_not_succeeded",
                message: "only a generation that succeeded has text to save (this one is \(record.status.rawValue))")
        }
        guard let documents else {
            throw APIError.unavailable(code: "documents_unavailable", "documents are not set up on this gateway (aid has no documents.sockets)")
        }
        let answer: SavedAnswer
        do {
            answer = try await documents.save(
                SaveDocumentRequest(
                    user: identity.userID, tier: identity.tier, title: body?.title ?? Self.title(topic: record.topic), body: text, kind: record.function,
                    source_generation_id: record.id, request_id: RequestTrace.requestID ?? UUID().uuidString))
        } catch {
            generations.logger.traced.error("docsd cannot be reached to save a generation", metadata: ["reason": "\(error)"])
            throw APIError.unavailable(
                code: "documents_unavailable", "documents did not answer; the save may or may not have been made (GET /api/documents shows it)")
        }
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let location = answer.location { headers[.location] = location }
        if let etag = answer.etag { headers[.eTag] = etag }
        return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// A saved generation's title: its topic's first line, cut to a title's 200 characters.
    static func title(topic: String) -> String {
        let line = topic.split(whereSeparator: \.isNewline).first.map(String.init) ?? topic
        return String(String.UnicodeScalarView(line.replacingOccurrences(of: "\t", with: " ").unicodeScalars.prefix(200)))
            .trimmingCharacters(in: .whitespaces)
    }

    /// The whole text as one JSON body once the engine has finished.
    private func answer(_ started: StartedGeneration) async throws -> Response {
        let outcome = await generations.run(started) { _ in }
        // The client sees text only when the engine finished it.
        let counted = await generations.finish(started, outcome, delivered: outcome.succeeded)
        switch outcome.ending {
        case .succeeded:
            return try Response.json(
                GeneratedBody(
                    id: started.record.id, status: "succeeded", function: started.record.function, text: outcome.text, engine: outcome.engine,
                    cached: outcome.cached, truncated: outcome.truncated, template_version: started.record.templateVersion,
                    quota: Quota(started, counted: counted)))
        case .failed(let error):
            throw Self.engineFailure(error)
        case .canceled:
            throw APIError(.serviceUnavailable, code: "canceled", message: "the generation was canceled; nothing was counted")
        }
    }

    /// Server-sent events: `start` with the generation's id, a `text` event per piece as the
    /// engine writes it, then `done`, or `error` when the engine failed part way or the stream ran
    /// past `streamLimit` (a client reading slowly), so that a cut stream never looks complete.
    private func stream(_ started: StartedGeneration) -> Response {
        let limit = streamLimit
        // The body is written after the route returned, outside its request's trace: it carries it.
        let (requestID, traceID) = (RequestTrace.requestID, RequestTrace.traceID)
        let body = ResponseBody { writer in
            try await RequestTrace.with(requestID: requestID, traceID: traceID) { try await streamBody(started, into: &writer, limit: limit) }
        }
        // X-Accel-Buffering tells nginx to pass each event on as it comes.
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body)
    }

    private func streamBody(_ started: StartedGeneration, into writer: inout any ResponseBodyWriter, limit: Duration) async throws {
        do {
            try await writer.write(
                ServerSentEvent.encode(
                    event: "start",
                    StartEvent(id: started.record.id, function: started.record.function, template_version: started.record.templateVersion)))
        } catch {
            // The client went away before anything reached it.
            await generations.finish(
                started, EngineOutcome(ending: .canceled, text: "", engine: generations.engines.firstName), delivered: false)
            throw error
        }
        let deadline = ContinuousClock.now + limit
        var delivered = false
        var overran = false
        let outcome = await generations.run(started) { piece in
            guard ContinuousClock.now < deadline else {
                overran = true
                throw CancellationError()
            }
            try await writer.write(ServerSentEvent.encode(event: "text", TextEvent(text: piece)))
            delivered = true
        }
        let counted = await generations.finish(started, outcome, delivered: delivered)
        switch outcome.ending {
        case .succeeded:
            try await writer.write(
                ServerSentEvent.encode(
                    event: "done",
                    DoneEvent(
                        id: started.record.id, status: "succeeded", engine: outcome.engine, cached: outcome.cached, truncated: outcome.truncated,
                        quota: Quota(started, counted: counted))))
        case .failed(let error):
            let failure = Self.engineFailure(error, counted: counted)
            try await writer.write(ServerSentEvent.encode(event: "error", ErrorEvent(error: failure.code, message: failure.message)))
        case .canceled:
            // Only a stream past its limit is told why it ended; either way the stream ends.
            if overran {
                try await writer.write(
                    ServerSentEvent.encode(
                        event: "error",
                        ErrorEvent(
                            error: "stream_too_long",
                            message: "the stream ran past its limit of \(limit.components.seconds) s and was ended; the text sent so far counts as a generation"
                        )))
            }
        }
        try await writer.finish(nil)
    }

    /// An engine failure as the user sees it; `counted` when text had reached them (a stream cut part way).
    static func engineFailure(_ error: EngineError, counted: Bool = false) -> APIError {
        APIError(
            .badGateway, code: "engine_failed",
            message: "the text engine failed (\(error.code)) before finishing; "
                + (counted ? "the text sent so far counts as a generation" : "nothing was counted, try again"))
    }
}

/// A save's optional body: the document's title, instead of the generation's topic.
struct SaveBody: JSONRequestBody {
    let title: String?

    enum Members: String, CodingKey, CaseIterable { case title }
    typealias CodingKeys = Members
}

/// `202 Accepted` for a task: where to follow it.
struct TaskAcceptedBody: Encodable {
    let task_id: String
    let status: String
    let status_url: String
}

struct CanceledBody: Encodable {
    let id: String
    let status: String
}

struct Quota: Encodable {
    let remaining: Int
    let resets_at: Date
}

extension Quota {
    /// What the user has left after `started`, whose unit was given back unless `counted`.
    init(_ started: StartedGeneration, counted: Bool) {
        self.init(remaining: started.remaining + (counted ? 0 : GenerationService.units), resets_at: started.resetsAt)
    }
}

struct GeneratedBody: Encodable {
    let id: String
    let status: String
    let function: String
    let text: String
    let engine: String
    /// Whether the text came from the result cache.
    let cached: Bool
    /// Whether `max_tokens` cut the text short of where the engine would have ended it.
    let truncated: Bool
    let template_version: Int
    let quota: Quota
}

struct StartEvent: Encodable {
    let id: String
    let function: String
    let template_version: Int
}

struct TextEvent: Encodable {
    let text: String
}

struct DoneEvent: Encodable {
    let id: String
    let status: String
    let engine: String
    let cached: Bool
    let truncated: Bool
    let quota: Quota
}

struct ErrorEvent: Encodable {
    let error: String
    let message: String
}

/// A stored generation as `GET /api/generate/{id}` and the history show it.
struct GenerationBody: Encodable {
    let id: String
    let status: String
    let function: String
    let topic: String
    let language: String
    let mode: String
    let template_version: Int
    let engine: String?
    let cached: Bool
    let truncated: Bool
    let text: String?
    let failure: String?
    let created_at: Date
    let finished_at: Date?

    init(_ record: GenerationRecord) {
        id = record.id
        status = record.status.rawValue
        function = record.function
        topic = record.topic
        language = record.language
        mode = record.mode
        template_version = record.templateVersion
        engine = record.engine
        cached = record.cached
        truncated = record.truncated
        text = record.result
        failure = record.failure
        created_at = Date(timeIntervalSince1970: Double(record.createdMicros) / 1_000_000)
        finished_at = record.finishedMicros.map { Date(timeIntervalSince1970: Double($0) / 1_000_000) }
    }
}

struct HistoryBody: Encodable {
    let generations: [GenerationBody]
    /// The `after` value of the next page; absent on the last.
    let next: String?
}
