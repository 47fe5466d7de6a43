import HTTPTypes
public import Hummingbird

/// Route prefixes as nginx/routes.conf writes them: `/api/NAME` covers itself and `/api/NAME/...`,
/// not `/api/NAME-other`.
public struct RoutePrefixes: Sendable {
    public let prefixes: [String]

    public init(_ prefixes: [String]) {
        self.prefixes = prefixes
    }

    public func cover(_ path: String) -> Bool {
        prefixes.contains { path == $0 || path.hasPrefix($0 + "/") }
    }
}

/// Answers 501 `not_implemented` for paths that nginx already sends to this daemon but that no
/// route serves yet, instead of a 404 that reads as "you typed the address wrong".
public struct PlannedRoutesMiddleware<Context: RequestContext>: RouterMiddleware {
    let planned: RoutePrefixes

    public init(planned: RoutePrefixes) {
        self.planned = planned
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && planned.cover(request.uri.path) {
            // Only the router's own "no route" is an HTTPError; a route's "no such resource" is an APIError.
            throw APIError.notImplemented
        }
    }
}

extension Daemon {
    /// Methods a daemon's API may serve; a path served for some of them answers the others 405.
    static let answeredMethods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]

    /// Gives every path that has routes a 405 `method_not_allowed` with `Allow` for the methods it
    /// does not serve (the router alone answers 404, as if the path did not exist). Call it after
    /// the daemon's last route is added.
    public static func answerWrongMethods(on router: Router<BasicRequestContext>) {
        var served: [String: (path: RouterPath, methods: Set<HTTPRequest.Method>)] = [:]
        for route in router.routes {
            served[route.path.description, default: (route.path, [])].methods.insert(route.method)
        }
        for (_, entry) in served {
            let allowed =
                answeredMethods.filter(entry.methods.contains) + entry.methods.filter { !answeredMethods.contains($0) }.sorted { $0.rawValue < $1.rawValue }
            let allow = (allowed.contains(.get) ? ["GET", "HEAD"] : []) + allowed.filter { $0 != .get }.map(\.rawValue)
            let refusal = APIError.methodNotAllowed(entry.path.description, allow: allow)
            for method in answeredMethods where !entry.methods.contains(method) {
                router.on(entry.path, method: method) { _, _ -> Response in throw refusal }
            }
        }
    }
}
