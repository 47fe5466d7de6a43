import Foundation
import Hummingbird
import ServiceKit

/// `/api/admin/subscriptions/{user_id}` for callers with the `admin` scope (nginx asks authd for it
/// too): show, grant, change, cancel and extend a user's subscription. Each change is audited with
/// the admin's user id.
struct AdminRoutes: Sendable {
    let admin: SubscriptionAdmin
    let entitlements: EntitlementService

    func add(to router: Router<BasicRequestContext>) {
        let group = router.group("/api/admin/subscriptions")
        group.get("/{user_id}") { request, context in
            let (_, user) = try Self.authorize(request, context)
            let overview = try await entitlements.available { try await admin.overview(userID: user) }
            let record = try await entitlements.available { try await admin.subscription(userID: user) }
            return try Response.json(AdminView(user_id: user, subscription: record.map(RecordBody.init), current: SubscriptionBody(overview)))
        }
        group.put("/{user_id}") { request, context in
            let (actor, user) = try Self.authorize(request, context)
            let body = try await request.decodeJSON(as: GrantBody.self, context: context)
            return try await apply(.grant(plan: body.plan, days: body.days ?? 30, trial: body.trial ?? false), user: user, actor: actor)
        }
        group.post("/{user_id}/change") { request, context in
            let (actor, user) = try Self.authorize(request, context)
            let body = try await request.decodeJSON(as: ChangeBody.self, context: context)
            return try await apply(.changePlan(body.plan), user: user, actor: actor)
        }
        group.post("/{user_id}/cancel") { request, context in
            let (actor, user) = try Self.authorize(request, context)
            let body = try await request.decodeJSONIfPresent(as: CancelBody.self, context: context)
            return try await apply(.cancel(atPeriodEnd: body?.at_period_end ?? false), user: user, actor: actor)
        }
        group.post("/{user_id}/extend") { request, context in
            let (actor, user) = try Self.authorize(request, context)
            let body = try await request.decodeJSON(as: ExtendBody.self, context: context)
            return try await apply(.extend(days: body.days), user: user, actor: actor)
        }
    }

    private func apply(_ change: SubscriptionChange, user: String, actor: String) async throws -> Response {
        let record = try await entitlements.available { try await admin.apply(change, userID: user, by: actor) }
        return try Response.json(RecordBody(record))
    }

    /// The admin's audit name and the user the path names; 403 without the `admin` scope.
    static func authorize(_ request: Request, _ context: BasicRequestContext) throws -> (actor: String, user: String) {
        guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
        guard identity.scopes.contains("admin") else {
            throw APIError(.forbidden, code: "insufficient_scope", message: "managing subscriptions needs the admin scope")
        }
        let user = context.parameters.get("user_id") ?? ""
        guard Identifiers.isUUID(user) else { throw APIError.badRequest(code: "invalid_field", "user_id must be a user id (a UUID)", field: "user_id") }
        return ("admin:\(identity.userID)", user)
    }
}

struct GrantBody: JSONRequestBody {
    let plan: String
    let days: Int?
    let trial: Bool?

    enum Members: String, CodingKey, CaseIterable { case plan, days, trial }
    typealias CodingKeys = Members
}

struct ChangeBody: JSONRequestBody {
    let plan: String

    enum Members: String, CodingKey, CaseIterable { case plan }
    typealias CodingKeys = Members
}

struct CancelBody: JSONRequestBody {
    let at_period_end: Bool?

    enum Members: String, CodingKey, CaseIterable { case at_period_end }
    typealias CodingKeys = Members
}

struct ExtendBody: JSONRequestBody {
    let days: Int

    enum Members: String, CodingKey, CaseIterable { case days }
    typealias CodingKeys = Members
}

/// A subscription row as the admin API shows it.
struct RecordBody: Encodable {
    let user_id: String
    let plan: String
    let status: String
    let period: SubscriptionBody.Period
    let cancel_at_period_end: Bool

    init(_ record: SubscriptionRecord) {
        user_id = record.userID
        plan = record.plan
        status = record.status
        period = .init(start: record.periodStart, end: record.periodEnd)
        cancel_at_period_end = record.cancelAtPeriodEnd
    }
}

/// `GET /api/admin/subscriptions/{user_id}`: the row, if any, and what applies now.
struct AdminView: Encodable {
    let user_id: String
    let subscription: RecordBody?
    let current: SubscriptionBody
}
