import AsyncHTTPClient
import Contracts
import Foundation
import NIOCore
import ServiceKit

/// The entitlement API of subscribed's instances, over their unix sockets (never routed by nginx).
/// Calls take the instances in turn; one that cannot be reached or answers 503 is skipped for the
/// next, which is safe because every call is idempotent by request id.
struct SubscribedEntitlements: Entitlements {
    let sockets: [String]
    let client: HTTPClient
    /// The longest one call to one instance may take.
    let timeout: TimeAmount
    private let turn = Turn()

    init(sockets: [String], client: HTTPClient = .shared, timeout: TimeAmount) {
        precondition(!sockets.isEmpty, "at least one entitlement socket")
        self.sockets = sockets
        self.client = client
        self.timeout = timeout
    }

    func reserve(userID: String, feature: String, units: Int, requestID: String, maxTokens: Int?) async throws -> EntitlementDecision {
        let answer = try await call(
            EntitlementAPI.reservePath, ReserveRequest(user: userID, feature: feature, units: units, request_id: requestID, max_tokens: maxTokens),
            as: ReserveAnswer.self)
        switch answer.decision {
        case .allowed:
            // Without the plan's bound aid could not keep the engine to it: nothing runs unbounded,
            // and the unit just reserved goes back (a subscribed older than sql/008, say).
            guard let remaining = answer.remaining, let resetsAt = answer.resets_at, let bound = answer.max_output_tokens else {
                try? await release(requestID: requestID)
                throw Self.malformed("an allowed answer without remaining, resets_at or max_output_tokens")
            }
            return .allowed(remaining: remaining, resetsAt: resetsAt, maxOutputTokens: bound)
        case .denied:
            guard let reason = answer.reason else { throw Self.malformed("a denial without a reason") }
            return .denied(
                reason: reason, retryAfter: answer.retry_after, plans: answer.plans ?? [], maxOutputTokens: answer.max_output_tokens, spent: answer.spent)
        }
    }

    func settle(requestID: String, cached: Bool) async throws -> Bool {
        try await call(EntitlementAPI.settlePath, FinishRequest(request_id: requestID, cached: cached ? true : nil), as: FinishAnswer.self).state
            == .settled
    }

    func release(requestID: String) async throws {
        _ = try await call(EntitlementAPI.releasePath, FinishRequest(request_id: requestID), as: FinishAnswer.self)
    }

    private static func malformed(_ what: String) -> EntitlementsUnavailable {
        EntitlementsUnavailable(reason: "subscribed answered \(what)")
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    private func call<Answer: Decodable>(_ path: String, _ body: some Encodable, as: Answer.Type) async throws -> Answer {
        let payload = try JSONEncoder().encode(body)
        let first = turn.next(of: sockets.count)
        var failures: [String] = []
        for offset in 0..<sockets.count {
            let socket = sockets[(first + offset) % sockets.count]
            guard let url = URL(httpURLWithSocketPath: socket, uri: path) else {
                failures.append("\(socket): not a socket path")
                continue
            }
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            // subscribed logs the call under the id of the request (or task) it serves.
            if let requestID = RequestTrace.requestID { request.headers.add(name: GatewayHeaders.requestID.rawName, value: requestID) }
            request.body = .bytes(ByteBuffer(bytes: payload))
            do {
                let response = try await client.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 64 * 1024)
                switch response.status.code {
                case 200: return try Self.decoder.decode(Answer.self, from: Data(buffer: bytes))
                case 503:
                    failures.append("\(socket): 503")
                default:
                    let error = try? Self.decoder.decode(ErrorAnswer.self, from: Data(buffer: bytes))
                    throw EntitlementsRefused(
                        status: Int(response.status.code), code: error?.error ?? "unknown", message: error?.message ?? "no JSON error body")
                }
            } catch let refused as EntitlementsRefused {
                throw refused
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failures.append("\(socket): \(error)")
            }
        }
        throw EntitlementsUnavailable(reason: failures.joined(separator: "; "))
    }
}

private struct ErrorAnswer: Decodable {
    let error: String
    let message: String
}
