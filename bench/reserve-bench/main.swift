// reserve-bench: reserve decisions per second over subscribed's entitlement socket, and their
// latency. Each connection sends reserves one after another (keep-alive) for a random user of the
// list, each with a new request id, until the time is up.
// Usage: reserve-bench SOCKET USERS_FILE SECONDS CONNECTIONS (bench/run-reserve runs it).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

struct Tally: Sendable {
    var allowed = 0
    var denied = 0
    var failed = 0
    var latencies: [Duration] = []
}

func run(socket: String, users: [String], until deadline: ContinuousClock.Instant) async throws -> Tally {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: socket) { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
        }
    }
    var tally = Tally()
    try await channel.executeThenClose { inbound, outbound in
        var responses = inbound.makeAsyncIterator()
        while ContinuousClock.now < deadline {
            let user = users.randomElement()!
            let body = #"{"user":"\#(user)","feature":"generate.short","units":1,"request_id":"bench-\#(UUID().uuidString)"}"#
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/internal/entitlements/reserve")
            head.headers.add(name: "Host", value: "subscribed")
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.utf8.count))
            let start = ContinuousClock.now
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
            tally.latencies.append(ContinuousClock.now - start)
            let text = String(buffer: answer)
            if status != .ok {
                tally.failed += 1
            } else if text.contains(#""decision":"allowed""#) {
                tally.allowed += 1
            } else {
                tally.denied += 1
            }
        }
    }
    return tally
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 4, let seconds = Double(arguments[2]), let connections = Int(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: reserve-bench SOCKET USERS_FILE SECONDS CONNECTIONS\n".utf8))
    exit(2)
}
let users = try String(contentsOfFile: arguments[1], encoding: .utf8).split(separator: "\n").map(String.init)
let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
let started = ContinuousClock.now
let total = try await withThrowingTaskGroup(of: Tally.self) { group in
    for _ in 0..<connections { group.addTask { try await run(socket: arguments[0], users: users, until: deadline) } }
    var sum = Tally()
    for try await part in group {
        sum.allowed += part.allowed
        sum.denied += part.denied
        sum.failed += part.failed
        sum.latencies += part.latencies
    }
    return sum
}
let elapsed = ContinuousClock.now - started
let sorted = total.latencies.sorted()
func percentile(_ p: Double) -> Double {
    let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))].components
    return Double(value.seconds) * 1000 + Double(value.attoseconds) / 1e15
}
let decisions = total.allowed + total.denied
let perSecond = Double(decisions) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
print(
    "result decisions=\(decisions) per_second=\(String(format: "%.0f", perSecond)) allowed=\(total.allowed) denied=\(total.denied) failed=\(total.failed) "
        + "p50_ms=\(String(format: "%.2f", percentile(0.5))) p99_ms=\(String(format: "%.2f", percentile(0.99)))")
