import Contracts
public import Foundation
public import HTTPTypes
public import Hummingbird

/// The caller as nginx hands it to a service behind a protected route: authd's answer to the auth
/// subrequest in `X-User-Id`, `X-Session-Id`, `X-Team-Id`, `X-Scopes`, `X-Tier`,
/// `X-Credential-Expires` and `X-Key-Daily-Limit` (ARCHITECTURE.md, "Contracts"). nginx replaces any copy a client sends.
public struct GatewayIdentity: Sendable, Equatable {
    public let userID: String
    /// The login session, or the API key's id for a bot.
    public let sessionID: String
    /// Whose prepaid balance and usage the request is for (`X-Team-Id`): the user's own team (the
    /// user's id) unless an API key of a team, or a session acting for one, made it.
    public let teamID: String
    public let scopes: [String]
    public let tier: String
    /// When the caller's credential expires (`X-Credential-Expires`); nil for an API key that
    /// never does.
    public let credentialExpiresAt: Date?
    /// An API key's spending limit per UTC day on /v1, in µ (`X-Key-Daily-Limit`); nil for none.
    public let keyDailyLimit: Int64?

    /// The identity in `headers`; nil when the user or session id is missing or not a UUID, or the
    /// team id is there but no UUID. nginx leaves out a header whose value is empty, so no scopes
    /// and no tier read as none and `free`.
    public init?(headers: HTTPFields) {
        self.init { headers[$0] }
    }

    /// The identity in the headers `header` finds by name, for a listener that reads its own.
    public init?(header: (HTTPField.Name) -> String?) {
        guard let userID = header(GatewayHeaders.userID), Identifiers.isUUID(userID),
            let sessionID = header(GatewayHeaders.sessionID), Identifiers.isUUID(sessionID)
        else { return nil }
        self.userID = userID
        self.sessionID = sessionID
        // Absent: the user's own team. A team id that is not a UUID is refused, not taken for it.
        if let team = header(GatewayHeaders.teamID) {
            guard Identifiers.isUUID(team) else { return nil }
            teamID = team
        } else {
            teamID = userID
        }
        scopes = (header(GatewayHeaders.scopes) ?? "").split(separator: " ").map(String.init)
        tier = header(GatewayHeaders.tier).flatMap { $0.isEmpty ? nil : $0 } ?? Tier.free
        credentialExpiresAt = header(GatewayHeaders.credentialExpires).flatMap(Int.init).map { Date(timeIntervalSince1970: TimeInterval($0)) }
        // nginx passes authd's limit only; one it cannot read is refused rather than taken for none.
        if let limit = header(GatewayHeaders.keyDailyLimit) {
            guard let value = Int64(limit), value > 0 else { return nil }
            keyDailyLimit = value
        } else {
            keyDailyLimit = nil
        }
    }
}

extension GatewayIdentity {
    /// Refuses (403 `insufficient_scope`) a caller without `scope`. nginx requires it on the route;
    /// the service checks it again, so that a route written wrong in nginx/ is no way in.
    public func require(scope: String) throws {
        guard scopes.contains(scope) else {
            throw APIError(.forbidden, code: "insufficient_scope", message: "this needs the \(scope) scope, which this credential lacks")
        }
    }
}

/// Refuses a request to a protected path that arrives without the gateway's identity (401
/// `missing_identity`), whether or not a route serves it yet: a request that reached the socket
/// some other way than through nginx's auth, or a route in nginx/routes.conf that forgot
/// `include snippets/auth.conf`, must not be served as nobody in particular.
public struct GatewayIdentityMiddleware<Context: RequestContext>: RouterMiddleware {
    let protectedPaths: RoutePrefixes

    public init(protectedPaths: RoutePrefixes) {
        self.protectedPaths = protectedPaths
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if protectedPaths.cover(path), GatewayIdentity(headers: request.headers) == nil {
            throw APIError.missingIdentity
        }
        return try await next(request, context)
    }
}

extension APIError {
    /// A request to a protected path without the gateway's identity.
    public static var missingIdentity: APIError {
        APIError(.unauthorized, code: "missing_identity", message: "this route needs the caller's identity, which only the gateway's authentication sets")
    }
}
