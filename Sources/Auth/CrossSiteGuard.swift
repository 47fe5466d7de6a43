import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// Refuses an unsafe request to `/auth/*` that a page on another site could have made a browser
/// send (login CSRF: a cross-site form signing the victim into the attacker's account).
///
/// - A body must be JSON (`Content-Type: application/json`, else 415): an HTML form can send only
///   `text/plain`, urlencoded or multipart bodies without a CORS preflight.
/// - `Sec-Fetch-Site`, when the browser sends it, must be `same-origin` or `none` (typed or
///   bookmarked); else 403.
/// - `Origin`, when present, must name the host the request was sent to (nginx passes it in `Host`,
///   without the port); `Origin: null` (sandboxed frames, some redirects) is refused.
///
/// Clients that are not browsers send neither header and are unaffected.
struct CrossSiteGuard<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !CrossSiteRequest.safeMethods.contains(request.method) {
            try CrossSiteRequest.check(request.headers, authority: request.head.authority)
        }
        return try await next(request, context)
    }
}

/// The checks behind ``CrossSiteGuard``, for an unsafe request's headers and the authority (host
/// and port) it was sent to.
enum CrossSiteRequest {
    static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options]
    static let fetchSiteHeader = HTTPField.Name("Sec-Fetch-Site")!

    static func check(_ headers: HTTPFields, authority: String?) throws {
        if let site = headers[fetchSiteHeader], site != "same-origin", site != "none" {
            throw crossSite("the request came from another site (Sec-Fetch-Site: \(site))")
        }
        if let origin = headers[.origin] {
            guard let originHost = host(ofOrigin: origin), let host = authority.map(hostWithoutPort), originHost == host else {
                throw crossSite("the request came from another origin (\(origin))")
            }
        }
        if let contentType = headers[.contentType] {
            let mediaType = contentType.split(separator: ";", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard mediaType == "application/json" else { throw notJSON }
        } else if headers[.contentLength].map({ $0 != "0" }) ?? (headers[.transferEncoding] != nil) {
            throw notJSON
        }
    }

    static let notJSON = APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "send the body as JSON, with Content-Type: application/json")

    private static func crossSite(_ message: String) -> APIError {
        APIError(.forbidden, code: "cross_site_request", message: "\(message); account requests must come from this site's own pages")
    }

    /// `https://host[:port]` → `host` (lower-cased); nil for `null` or anything malformed.
    static func host(ofOrigin origin: String) -> String? {
        guard let schemeEnd = origin.range(of: "://") else { return nil }
        let authority = origin[schemeEnd.upperBound...]
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@") else { return nil }
        return hostWithoutPort(String(authority))
    }

    static func hostWithoutPort(_ authority: String) -> String {
        let lowered = authority.lowercased()
        if lowered.hasPrefix("["), let end = lowered.firstIndex(of: "]") { return String(lowered[...end]) }
        return String(lowered.split(separator: ":", maxSplits: 1).first ?? "")
    }
}
