import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// `GET /s/<token>`, which nginx serves without a sign-in: the linked document as a read-only page.
/// Its text is escaped and the page runs no script (its policy allows only its own style); it asks
/// not to be indexed, sends no referrer (the address is the secret) and is never cached, so a
/// revoked link stops showing at once. A revoked, expired or never-existing link gets one same 404.
struct SharePage: Sendable {
    let documents: DocumentService

    static let path = "/s/{token}"

    /// The page's only style: the policy names its hash, so no other style or script runs.
    static let style =
        "body{margin:0;font:16px/1.6 system-ui,sans-serif;color:#1d1d1f;background:#fafafa}"
        + "main{max-width:46rem;margin:2rem auto;padding:0 1rem}h1{font-size:1.6rem;line-height:1.3}"
        + ".text{white-space:pre-wrap;overflow-wrap:anywhere}footer{margin-top:2rem;color:#6e6e73;font-size:.85rem}"

    static let policy: String = {
        let digest = (try? SHA256.hash(Array(style.utf8))).map { Data($0).base64EncodedString() } ?? ""
        return "default-src 'none'; style-src 'sha256-\(digest)'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }()

    func add(to router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path)) { request, context in
            let token = try context.parameters.require("token")
            guard let document = try await documents.linkedDocument(token: token) else {
                return Self.notFound(html: Self.acceptsHTML(request))
            }
            return Self.page(status: .ok, title: document.title, body: Self.documentHTML(document))
        }
    }

    static func acceptsHTML(_ request: Request) -> Bool {
        request.headers[.accept]?.contains("text/html") ?? false
    }

    /// The same answer for every link that opens nothing: HTML for a browser, the JSON error otherwise.
    static func notFound(html: Bool) -> Response {
        let message = "this link does not exist, was revoked or has expired"
        guard html else {
            var response = APIError(.notFound, code: "link_not_found", message: message).response(requestId: RequestTrace.requestID)
            response.headers[HTTPField.Name("X-Robots-Tag")!] = "noindex, nofollow"
            return response
        }
        return page(status: .notFound, title: "Link not found", body: "<h1>Link not found</h1><p>This link does not exist, was revoked or has expired.</p>")
    }

    static func documentHTML(_ document: Document) -> String {
        let updated = ISO8601DateFormatter().string(from: document.updatedAt)
        return "<article><h1>\(escape(document.title))</h1><div class=\"text\">\(escape(document.body))</div></article>"
            + "<footer>Shared from SkillUp · version \(document.version) · updated <time datetime=\"\(updated)\">\(updated)</time></footer>"
    }

    static func page(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let html =
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex, nofollow\">"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>\(escape(title))</title>"
            + "<style>\(style)</style></head><body><main>\(body)</main></body></html>"
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: policy,
                HTTPField.Name("X-Robots-Tag")!: "noindex, nofollow", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// Text as HTML shows it and never reads it as markup: the five characters that can open or
    /// close markup or an attribute, escaped.
    static func escape(_ text: some StringProtocol) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}
