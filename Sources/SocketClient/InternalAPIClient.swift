public import AsyncHTTPClient
import Contracts
public import Foundation
public import NIOCore
public import NIOHTTP1
import ServiceKit

/// A daemon's calls to another's internal API over unix sockets that nginx never routes to: the
/// instances in turn, one that cannot be reached or answers 503 skipped for the next. Only calls
/// that are safe to send twice (reads, and writes idempotent by a key) go through it.
public struct InternalAPIClient: Sendable {
    /// What an instance answered: its status, headers and body.
    public struct Answer: Sendable {
        public let status: Int
        public let headers: HTTPHeaders
        public let body: ByteBuffer

        /// The body as `T`, from JSON with RFC 3339 dates.
        public func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try InternalAPIClient.decoder.decode(type, from: Data(buffer: body))
        }
    }

    /// No instance answered: why not, per socket.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    public let sockets: [String]
    let client: HTTPClient
    /// The longest one call to one instance may take.
    let timeout: TimeAmount
    private let turn = Turn()

    public init(sockets: [String], client: HTTPClient = .shared, timeout: TimeAmount) {
        precondition(!sockets.isEmpty, "at least one socket")
        self.sockets = sockets
        self.client = client
        self.timeout = timeout
    }

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    /// Sends `body` (JSON) and `headers` to `path` with `method` at the next instance, and at the
    /// others in turn while none answers other than 503; the request id of the caller's request
    /// goes along.
    public func call(
        _ method: HTTPMethod, _ path: String, body: (some Encodable)?, headers: [String: String] = [:], maxBytes: Int = 1 << 20
    ) async throws -> Answer {
        let payload = try body.map { try JSONEncoder().encode($0) }
        let first = turn.next(of: sockets.count)
        var failures: [String] = []
        for offset in 0..<sockets.count {
            let socket = sockets[(first + offset) % sockets.count]
            guard let url = URL(httpURLWithSocketPath: socket, uri: path) else {
                failures.append("\(socket): not a socket path")
                continue
            }
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            if let payload {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: payload))
            }
            // The callee logs the call under the id of the request (or task) it serves, in its trace.
            if let requestID = RequestTrace.requestID { request.headers.add(name: GatewayHeaders.requestID.rawName, value: requestID) }
            if let traceparent = TraceContext.forCall { request.headers.add(name: GatewayHeaders.traceparent.rawName, value: traceparent) }
            do {
                let response = try await client.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: maxBytes)
                guard response.status.code != 503 else {
                    failures.append("\(socket): 503")
                    continue
                }
                return Answer(status: Int(response.status.code), headers: response.headers, body: bytes)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failures.append("\(socket): \(error)")
            }
        }
        throw Unavailable(description: failures.joined(separator: "; "))
    }

    /// A `GET` of `path`.
    public func get(_ path: String) async throws -> Answer {
        try await call(.GET, path, body: Optional<[String: String]>.none)
    }
}
