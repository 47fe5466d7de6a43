import Foundation

/// The product as botd uses it for a Telegram user: authd's session for that user, then the same
/// public API a browser calls through nginx (``GatewayProductAPI``), with the user's own identity,
/// plan and quota. In memory in the tests of the commands.
protocol ProductAPI: Sendable {
    /// The account linked to the Telegram user (made on first use) and a token to act for it.
    func session(for sender: TelegramUpdate.Sender) async throws -> UserSession
    /// `POST /api/generate`: answered in the request, or queued as a task.
    func generate(function: String, topic: String, language: BotLanguage, idempotencyKey: String, as session: UserSession) async throws -> Generated
    /// `GET /api/generations/{id}`.
    func generation(_ id: String, as session: UserSession) async throws -> GenerationState
    /// `GET /api/subscription`.
    func subscription(as session: UserSession) async throws -> SubscriptionState
    /// `GET /api/plans`.
    func plans() async throws -> [PlanSummary]
    /// `POST /api/billing/checkout`: a link that pays for the plan.
    func checkout(plan: String, as session: UserSession) async throws -> String
    /// `GET /api/generations?limit=`: newest first.
    func history(limit: Int, as session: UserSession) async throws -> [GenerationState]
}

/// Acting for one user.
struct UserSession: Sendable, Equatable {
    let userID: String
    let accessToken: String
    /// Whether getting it made the account.
    let created: Bool
}

enum Generated: Sendable, Equatable {
    case answered(id: String, text: String, truncated: Bool)
    case queued(taskID: String)
}

struct GenerationState: Sendable, Equatable, Decodable {
    let id: String
    let function: String?
    let status: String
    let text: String?
    let failure: String?
    let truncated: Bool?
    let created_at: String?
}

struct SubscriptionState: Sendable, Equatable {
    let plan: String
    let status: String
    let dayUsed: Int
    let dayLimit: Int?
    let dayResetsAt: String?
}

struct PlanSummary: Sendable, Equatable {
    let code: String
    let name: String
    let priceCents: Int
    let currency: String
    let generationsPerDay: Int?
}

/// The API refused: its status, stable code and message, as any client sees them.
struct ProductRefusal: Error, Sendable, Equatable {
    let status: Int
    let code: String
    let message: String
}

/// The product could not be reached or answered nonsense: the update is tried again later.
struct ProductUnavailable: Error, Sendable, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
