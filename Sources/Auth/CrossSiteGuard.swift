import Contracts
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
/// - `Origin`, when present, must be the origin the request was sent to: the scheme, host and port
///   the browser used (nginx passes them in `X-Forwarded-Proto` and `X-Forwarded-Host`; without
///   them, `Host`). A page on another port of the same host is another origin. `Origin: null`
///   (sandboxed frames, some redirects) is refused.
///
/// Clients that are not browsers send neither header and are unaffected.
struct CrossSiteGuard<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !CrossSiteRequest.safeMethods.contains(request.method) {
            try CrossSiteRequest.check(request.headers, authority: request.headers[GatewayHeaders.forwardedHost] ?? request.head.authority)
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
            guard let sender = Origin(origin), let authority, sender.matches(authority: authority, scheme: headers[GatewayHeaders.forwardedProto]) else {
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

    /// An `Origin` header's scheme and authority, lower-cased; nil for `null` or anything malformed.
    struct Origin {
        let scheme: String
        let authority: String

        init?(_ header: String) {
            guard let schemeEnd = header.range(of: "://") else { return nil }
            let authority = header[schemeEnd.upperBound...]
            guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@") else { return nil }
            scheme = header[..<schemeEnd.lowerBound].lowercased()
            self.authority = Self.withoutDefaultPort(authority.lowercased(), scheme: scheme)
        }

        /// Whether a request sent to `authority` (over `scheme`, when known) came from this origin.
        func matches(authority requested: String, scheme requestedScheme: String?) -> Bool {
            if let requestedScheme, requestedScheme.lowercased() != scheme { return false }
            return Self.withoutDefaultPort(requested.lowercased(), scheme: scheme) == authority
        }

        private static func withoutDefaultPort(_ authority: String, scheme: String) -> String {
            let port = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
            guard let port, authority.hasSuffix(port) else { return authority }
            return String(authority.dropLast(port.count))
        }
    }
}
