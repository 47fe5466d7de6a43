// reserve-bench: quota decisions per second over subscribed's entitlement sockets, and their
// latency. Each connection (spread over the sockets in turn) sends reserves one after another
// (keep-alive) for a random user of the list, each with a new request id, and, with SETTLE on,
// settles each allowed one next, as aid does after the answer; until the time is up.
// Usage: reserve-bench SOCKET[,SOCKET...] USERS_FILE SECONDS CONNECTIONS SETTLE(0|1)
// (bench/run-reserve runs it).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

struct Tally: Sendable {
    var allowed = 0
    var denied = 0
    var settled = 0
    var failed = 0
    var latencies: [Duration] = []
}

typealias EntitlementConnection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

/// One call: its status and body.
func call(
    _ path: String, _ body: String, _ outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
    _ responses: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
) async throws -> (
    HTTPResponseStatus, String
) {
    var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
    head.headers.add(name: "Host", value: "subscribed")
    head.headers.add(name: "Content-Type", value: "application/json")
    head.headers.add(name: "Content-Length", value: String(body.utf8.count))
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

func run(socket: String, users: [String], settle: Bool, until deadline: ContinuousClock.Instant) async throws -> Tally {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: socket) { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try EntitlementConnection(wrappingChannelSynchronously: channel)
        }
    }
    var tally = Tally()
    try await channel.executeThenClose { inbound, outbound in
        var responses = inbound.makeAsyncIterator()
        while ContinuousClock.now < deadline {
            let requestID = "bench-\(UUID().uuidString)"
            let body = #"{"user":"\#(users.randomElement()!)","feature":"generate.short","units":1,"request_id":"\#(requestID)"}"#
            var start = ContinuousClock.now
            let (status, text) = try await call("/internal/entitlements/reserve", body, outbound, &responses)
            tally.latencies.append(ContinuousClock.now - start)
            guard status == .ok else {
                tally.failed += 1
                continue
            }
            guard text.contains(#""decision":"allowed""#) else {
                tally.denied += 1
                continue
            }
            tally.allowed += 1
            guard settle else { continue }
            start = ContinuousClock.now
            let (settleStatus, _) = try await call("/internal/entitlements/settle", #"{"request_id":"\#(requestID)"}"#, outbound, &responses)
            tally.latencies.append(ContinuousClock.now - start)
            if settleStatus == .ok { tally.settled += 1 } else { tally.failed += 1 }
        }
    }
    return tally
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 5, let seconds = Double(arguments[2]), let connections = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: reserve-bench SOCKET[,SOCKET...] USERS_FILE SECONDS CONNECTIONS SETTLE(0|1)\n".utf8))
    exit(2)
}
let sockets = arguments[0].split(separator: ",").map(String.init)
let settle = arguments[4] == "1"
let users = try String(contentsOfFile: arguments[1], encoding: .utf8).split(separator: "\n").map(String.init)
let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
let started = ContinuousClock.now
let total = try await withThrowingTaskGroup(of: Tally.self) { group in
    for connection in 0..<connections {
        group.addTask { try await run(socket: sockets[connection % sockets.count], users: users, settle: settle, until: deadline) }
    }
    var sum = Tally()
    for try await part in group {
        sum.allowed += part.allowed
        sum.denied += part.denied
        sum.settled += part.settled
        sum.failed += part.failed
        sum.latencies += part.latencies
    }
    return sum
}
let elapsed = ContinuousClock.now - started
let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let sorted = total.latencies.sorted()
func percentile(_ p: Double) -> Double {
    let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))].components
    return Double(value.seconds) * 1000 + Double(value.attoseconds) / 1e15
}
let reserves = total.allowed + total.denied
let decisions = reserves + total.settled
print(
    "result decisions=\(decisions) per_second=\(String(format: "%.0f", Double(decisions) / elapsedSeconds)) "
        + "reserves_per_second=\(String(format: "%.0f", Double(reserves) / elapsedSeconds)) allowed=\(total.allowed) denied=\(total.denied) "
        + "settled=\(total.settled) failed=\(total.failed) p50_ms=\(String(format: "%.2f", percentile(0.5))) p99_ms=\(String(format: "%.2f", percentile(0.99)))")
