import AsyncHTTPClient
import Contracts
import Cryptography
import Foundation
import NIOCore
import NIOHTTP1
import ServiceKit
import SocketClient
import Synchronization

/// The product over the wire: authd's session call on its sockets (``TelegramSessionAPI``), then
/// the public API through nginx (`gateway.url`) with the user's access token, so that every rule,
/// limit and refusal is the one a browser meets. A user's token is kept until a minute before it
/// expires; one the gateway refuses (the user ended the bot's session) is asked for again once.
final class GatewayProductAPI: ProductAPI, Sendable {
    let client: HTTPClient
    let settings: BotSettings
    private let tokenKey: [UInt8]
    /// Each Telegram user's session (and who they are, to ask for a new one), kept until a minute
    /// before its token expires.
    private let tokens = Mutex<[Int64: (session: UserSession, sender: TelegramUpdate.Sender, until: ContinuousClock.Instant)]>([:])
    /// authd's Telegram session sockets, in turn.
    private let sessions: InternalAPIClient

    init(client: HTTPClient, settings: BotSettings) throws {
        self.client = client
        self.settings = settings
        tokenKey = Array(settings.botToken.utf8)
        sessions = InternalAPIClient(sockets: settings.authdSockets, client: client, timeout: .seconds(5))
    }

    /// `<unix time>.<hex HMAC>`: this Telegram user's proof, good for a minute.
    private func proof(for telegramID: Int64) throws -> String {
        let time = Int64(Date().timeIntervalSince1970)
        let message = TelegramSessionAPI.proofMessage(telegramID: telegramID, time: time)
        return "\(time).\(Hex.encode(try HMACSHA256.authenticationCode(for: Array(message.utf8), key: tokenKey)))"
    }

    func session(for sender: TelegramUpdate.Sender) async throws -> UserSession {
        if let kept = tokens.withLock({ $0[sender.id] }), kept.until > .now { return kept.session }
        let body = TelegramSessionAPI.Request(telegramID: sender.id, firstName: sender.firstName, username: sender.username, languageCode: sender.languageCode)
        let answer: InternalAPIClient.Answer
        do {
            answer = try await sessions.call(
                .POST, TelegramSessionAPI.path, body: body, headers: ["Authorization": "\(TelegramSessionAPI.scheme) \(try proof(for: sender.id))"])
        } catch let unavailable as InternalAPIClient.Unavailable {
            throw ProductUnavailable(reason: "authd: \(unavailable.description)")
        }
        guard answer.status == 200 else { throw Self.refusal(status: answer.status, bytes: Array(answer.body.readableBytesView)) }
        guard let granted = try? answer.decode(TelegramSessionAPI.Answer.self) else {
            throw ProductUnavailable(reason: "authd answered a body that is not a session")
        }
        let session = UserSession(userID: granted.user_id, accessToken: granted.access_token, created: granted.created)
        tokens.withLock { $0[sender.id] = (session, sender, .now + .seconds(max(granted.expires_in - 60, 1))) }
        return session
    }

    func generate(function: String, topic: String, language: BotLanguage, idempotencyKey: String, as session: UserSession) async throws -> Generated {
        let body = try JSONSerialization.data(withJSONObject: ["function": function, "topic": topic, "options": ["language": language.rawValue]])
        let answer = try await api(.POST, "/api/generate", body: body, headers: ["Idempotency-Key": idempotencyKey], as: session, decoding: GenerateAnswer.self)
        if let taskID = answer.task_id { return .queued(taskID: taskID) }
        guard let id = answer.id, let text = answer.text else { throw ProductUnavailable(reason: "aid answered neither a text nor a task") }
        return .answered(id: id, text: text, truncated: answer.truncated ?? false)
    }

    func generation(_ id: String, as session: UserSession) async throws -> GenerationState {
        try await api(.GET, "/api/generations/\(id)", as: session, decoding: GenerationState.self)
    }

    func subscription(as session: UserSession) async throws -> SubscriptionState {
        let answer = try await api(.GET, "/api/subscription", as: session, decoding: SubscriptionAnswer.self)
        return SubscriptionState(
            plan: answer.plan.code, status: answer.status, dayUsed: answer.usage.today.used, dayLimit: answer.usage.today.limit,
            dayResetsAt: answer.usage.today.resets_at)
    }

    func plans() async throws -> [PlanSummary] {
        let (status, bytes) = try await send("\(settings.gatewayURL)/api/plans", method: .GET, timeout: settings.gatewayTimeout)
        guard status == 200 else { throw Self.refusal(status: status, bytes: bytes) }
        return try JSONDecoder().decode(PlansAnswer.self, from: Data(bytes)).plans.map {
            PlanSummary(code: $0.code, name: $0.title, priceCents: $0.price_cents, currency: $0.currency, generationsPerDay: $0.generations_per_day)
        }
    }

    func checkout(plan: String, as session: UserSession) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["plan": plan])
        return try await api(.POST, "/api/billing/checkout", body: body, as: session, decoding: CheckoutAnswer.self).checkout_url
    }

    func history(limit: Int, as session: UserSession) async throws -> [GenerationState] {
        try await api(.GET, "/api/generations?limit=\(limit)", as: session, decoding: HistoryAnswer.self).generations
    }

    /// A call through the gateway as the user; a 401 (their bot session ended) is tried once more
    /// with a new session.
    private func api<Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [String: String] = [:], as session: UserSession, decoding: Answer.Type
    ) async throws -> Answer {
        var session = session
        for attempt in 0..<2 {
            var all = headers
            all["Authorization"] = "Bearer \(session.accessToken)"
            let (status, bytes) = try await send("\(settings.gatewayURL)\(path)", method: method, body: body, headers: all, timeout: settings.gatewayTimeout)
            if (200..<300).contains(status) { return try JSONDecoder().decode(Answer.self, from: Data(bytes)) }
            if status == 401, attempt == 0, let owner = forget(session) {
                session = try await self.session(for: owner)
                continue
            }
            throw Self.refusal(status: status, bytes: bytes)
        }
        throw ProductUnavailable(reason: "the gateway refused a new session's token")
    }

    /// Drops the kept token; answers whose it was.
    private func forget(_ session: UserSession) -> TelegramUpdate.Sender? {
        tokens.withLock { kept in
            guard let id = kept.first(where: { $0.value.session == session })?.key else { return nil }
            return kept.removeValue(forKey: id)?.sender
        }
    }

    private func send(
        _ url: String, method: HTTPMethod, body: Data? = nil, headers: [String: String] = [:], timeout: Duration
    ) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout.seconds * 1000)))
            return (Int(response.status.code), Array(buffer: try await response.body.collect(upTo: 4 << 20)))
        } catch {
            throw ProductUnavailable(reason: "\(url.prefix { $0 != "?" }): \(error)")
        }
    }

    /// A 4xx is the API's refusal, told to the user; a 5xx (or an answer that is no JSON error) is
    /// an outage, after which the update is tried again.
    private static func refusal(status: Int, bytes: [UInt8]) -> any Error {
        guard (400..<500).contains(status), let error = try? JSONDecoder().decode(ErrorAnswer.self, from: Data(bytes)) else {
            return ProductUnavailable(reason: "answered \(status)")
        }
        return ProductRefusal(status: status, code: error.error, message: error.message)
    }

    private struct ErrorAnswer: Decodable {
        let error: String
        let message: String
    }

    private struct GenerateAnswer: Decodable {
        let id: String?
        let text: String?
        let truncated: Bool?
        let task_id: String?
    }

    private struct SubscriptionAnswer: Decodable {
        let plan: Plan
        let status: String
        let usage: Usage

        struct Plan: Decodable { let code: String }
        struct Usage: Decodable { let today: Count }
        struct Count: Decodable {
            let used: Int
            let limit: Int?
            let resets_at: String?
        }
    }

    private struct PlansAnswer: Decodable {
        let plans: [Plan]

        struct Plan: Decodable {
            let code: String
            let title: String
            let price_cents: Int
            let currency: String
            let generations_per_day: Int?
        }
    }

    private struct CheckoutAnswer: Decodable { let checkout_url: String }
    private struct HistoryAnswer: Decodable { let generations: [GenerationState] }
}
