// What the load generators share: one keep-alive HTTP/1.1 connection to a daemon's unix socket, and
// latency figures in milliseconds.
public import NIOCore
public import NIOHTTP1
import NIOPosix

/// One keep-alive connection: requests one after another, each answer read whole before the next.
public struct UnixHTTPConnection {
    public typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private var responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator

    /// Connects to `socket`, runs `body` with the connection, then closes it.
    public static func with<Result: Sendable>(socket: String, _ body: (inout UnixHTTPConnection) async throws -> Result) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: socket) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try Channel(wrappingChannelSynchronously: channel)
            }
        }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = UnixHTTPConnection(outbound: outbound, responses: inbound.makeAsyncIterator())
            return try await body(&connection)
        }
    }

    /// POSTs `body` (JSON) to `path` with `host` and the extra `headers`; the status and the body of the answer.
    public mutating func post(_ path: String, host: String, headers: [(String, String)] = [], body: String) async throws -> (HTTPResponseStatus, String) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(body.utf8.count))
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try await outbound.write(.head(head))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
        try await outbound.write(.end(nil))
        var status: HTTPResponseStatus = .internalServerError
        var answer = ByteBuffer()
        reading: while let part = try await responses.next() {
            switch part {
            case .head(let response): status = response.status
            case .body(var chunk): answer.writeBuffer(&chunk)
            case .end: break reading
            }
        }
        return (status, String(buffer: answer))
    }
}

/// A duration in milliseconds.
public func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// The `p` percentile (0...1) of sorted latencies, in milliseconds; 0 when there are none.
public func percentile(_ p: Double, of sorted: [Duration]) -> Double {
    sorted.isEmpty ? 0 : milliseconds(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
}
