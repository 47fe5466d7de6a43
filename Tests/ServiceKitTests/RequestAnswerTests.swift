import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import ServiceKit
import Testing

/// What a client reads when its request is wrong: a body the route cannot use, a method the path
/// does not serve, a path the gateway routes here before any route serves it.
@Suite struct RequestAnswerTests {
    struct Order: JSONRequestBody {
        struct Item: Decodable { let sku: String }
        struct Delivery: JSONRequestBody {
            let city: String?

            enum Members: String, CodingKey, CaseIterable { case city }
            typealias CodingKeys = Members
        }

        let email: String
        let quantity: Int
        let gift: Bool?
        let items: [Item]?
        let delivery: Delivery?

        enum Members: String, CodingKey, CaseIterable { case email, quantity, gift, items, delivery }
        typealias CodingKeys = Members
        static var objectMembers: [String: any JSONRequestBody.Type] { ["delivery": Delivery.self] }
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Daemon.router(readiness: Readiness(), registry: PrometheusCollectorRegistry())
        router.add(middleware: PlannedRoutesMiddleware(planned: RoutePrefixes(["/api/plans", "/api/generate"])))
        router.post("/orders") { request, context -> String in
            let order = try await request.decodeJSON(as: Order.self, context: context)
            return order.email
        }
        router.delete("/orders/:id") { _, _ -> String in throw APIError.notFound("no such order") }
        router.get("/api/generate/status") { _, _ in "running" }
        Daemon.answerWrongMethods(on: router)
        return router
    }

    func errorBody(_ response: TestResponse) throws -> [String: String] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String])
    }

    @Test(
        arguments: [
            ("", "invalid_json", "the body must be a JSON object", nil),
            ("not json", "invalid_json", "the body is not valid JSON", nil),
            ("[1, 2]", "invalid_body", "the body must be a JSON object", nil),
            ("null", "invalid_body", "the body must be a JSON object", nil),
            (#"{"quantity": 1}"#, "missing_field", "email is required", "email"),
            (#"{"email": 7, "quantity": 1}"#, "invalid_field", "email must be a string", "email"),
            (#"{"email": null, "quantity": 1}"#, "invalid_field", "email must be a string, not null", "email"),
            (#"{"email": "a@b.c", "quantity": "two"}"#, "invalid_field", "quantity must be a whole number", "quantity"),
            (#"{"email": "a@b.c", "quantity": 1, "gift": "yes"}"#, "invalid_field", "gift must be true or false", "gift"),
            (#"{"email": "a@b.c", "quantity": 1, "items": {}}"#, "invalid_field", "items must be a list", "items"),
            (#"{"email": "a@b.c", "quantity": 1, "items": [{"sku": "x"}, {}]}"#, "missing_field", "items[1].sku is required", "items[1].sku"),
            (#"{"email": "a\u0000@b.c", "quantity": 1}"#, "invalid_text", "text cannot contain the NUL character (\\u0000 or %00)", nil),
            (
                #"{"email": "a@b.c", "quantity": 1, "items": [{"sku": "\u0000"}]}"#, "invalid_text", "text cannot contain the NUL character (\\u0000 or %00)",
                nil
            ),
            (
                #"{"email": "a@b.c", "quantity": 1, "gfit": true}"#, "unknown_field",
                "gfit is not a member of this request; its members are: email, quantity, gift, items, delivery", "gfit"
            ),
            (
                #"{"email": "a@b.c", "quantity": 1, "delivery": {"cty": "Oslo"}}"#, "unknown_field",
                "delivery.cty is not a member of this request; its members are: delivery.city", "delivery.cty"
            ),
        ] as [(String, String, String, String?)])
    func aBodyTheRouteCannotUseIsNamedInPlainWords(body: String, code: String, message: String, field: String?) async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            let response = try await client.execute(uri: "/orders", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            let answer = try errorBody(response)
            #expect(answer["error"] == code)
            #expect(answer["message"] == message)
            #expect(answer["field"] == field)
            #expect(answer["message"]?.contains("Coding") == false)
        }
    }

    /// A backslash escaped before `u0000` is text, not a NUL.
    @Test func anEscapedBackslashBeforeU0000IsText() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            let response = try await client.execute(
                uri: "/orders", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"email": "a\\u0000@b.c", "quantity": 1}"#))
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == #"a\u0000@b.c"#)
        }
    }

    /// A NUL in the address (`%00`, which decodes to one) is refused before any route reads it.
    @Test(arguments: ["/api/generate/status?q=a%00b", "/api/generate/%00", "/orders?x=%00"])
    func aNULInTheAddressIs400(uri: String) async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            let response = try await client.execute(uri: uri, method: .get)
            #expect(response.status == .badRequest)
            #expect(try errorBody(response)["error"] == "invalid_text")
        }
    }

    @Test func aGoodBodyIsServed() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            let response = try await client.execute(
                uri: "/orders", method: .post, headers: [.contentType: "application/json; charset=utf-8"],
                body: ByteBuffer(string: #"{"email": "a@b.c", "quantity": 2, "delivery": {"city": "Oslo"}}"#))
            #expect(response.status == .ok)
            #expect(String(buffer: response.body) == "a@b.c")
        }
    }

    @Test(arguments: [nil, "text/plain", "application/x-www-form-urlencoded", "application/jsonp"] as [String?])
    func aBodyNotDeclaredJSONIs415(contentType: String?) async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            let headers: HTTPFields = contentType.map { [.contentType: $0] } ?? [:]
            let response = try await client.execute(
                uri: "/orders", method: .post, headers: headers, body: ByteBuffer(string: #"{"email": "a@b.c", "quantity": 2}"#))
            #expect(response.status == .unsupportedMediaType)
            #expect(try errorBody(response)["error"] == "unsupported_media_type")
        }
    }

    @Test func aMethodThePathDoesNotServeIs405WithAllow() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            let wrong = try await client.execute(uri: "/orders", method: .get)
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow] == "POST")
            #expect(try errorBody(wrong)["error"] == "method_not_allowed")
            let withParameter = try await client.execute(uri: "/orders/17", method: .put)
            #expect(withParameter.status == .methodNotAllowed)
            #expect(withParameter.headers[.allow] == "DELETE")
            let health = try await client.execute(uri: "/health/live", method: .post)
            #expect(health.headers[.allow] == "GET, HEAD")
            // A route's own "no such resource" stays a 404, and so does an unknown path.
            #expect(try await client.execute(uri: "/orders/17", method: .delete).status == .notFound)
            #expect(try await client.execute(uri: "/nowhere", method: .get).status == .notFound)
        }
    }

    @Test func aPlannedPathThatNoRouteServesYetIs501() async throws {
        try await Application(router: makeRouter()).test(.router) { client in
            for path in ["/api/plans", "/api/generate", "/api/generate/anything"] {
                let response = try await client.execute(uri: path, method: .post)
                #expect(response.status == .notImplemented, "\(path)")
                #expect(try errorBody(response)["error"] == "not_implemented")
            }
            #expect(try await client.execute(uri: "/api/generate/status", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/api/plans-archive", method: .get).status == .notFound)
        }
    }
}
