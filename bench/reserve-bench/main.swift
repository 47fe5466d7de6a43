// reserve-bench: quota decisions per second over subscribed's entitlement sockets, and their
// latency. Each connection (spread over the sockets in turn) sends reserves one after another
// (keep-alive) for a random user of the list, each with a new request id, and, with SETTLE on,
// settles each allowed one next, as aid does after the answer; until the time is up.
// Usage: reserve-bench SOCKET[,SOCKET...] USERS_FILE SECONDS CONNECTIONS SETTLE(0|1)
// (bench/run-reserve runs it).
import BenchSupport
import Foundation

struct Tally: Sendable {
    var allowed = 0
    var denied = 0
    var settled = 0
    var failed = 0
    var latencies: [Duration] = []
}

func run(socket: String, users: [String], settle: Bool, until deadline: ContinuousClock.Instant) async throws -> Tally {
    try await UnixHTTPConnection.with(socket: socket) { connection in
        var tally = Tally()
        while ContinuousClock.now < deadline {
            let requestID = "bench-\(UUID().uuidString)"
            let body = #"{"user":"\#(users.randomElement()!)","feature":"generate.short","units":1,"request_id":"\#(requestID)"}"#
            var start = ContinuousClock.now
            let (status, text) = try await connection.post("/internal/entitlements/reserve", host: "subscribed", body: body)
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
            let (settleStatus, _) = try await connection.post(
                "/internal/entitlements/settle", host: "subscribed", body: #"{"request_id":"\#(requestID)"}"#)
            tally.latencies.append(ContinuousClock.now - start)
            if settleStatus == .ok { tally.settled += 1 } else { tally.failed += 1 }
        }
        return tally
    }
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
let elapsedSeconds = milliseconds(ContinuousClock.now - started) / 1000
let sorted = total.latencies.sorted()
let reserves = total.allowed + total.denied
let decisions = reserves + total.settled
print(
    "result decisions=\(decisions) per_second=\(String(format: "%.0f", Double(decisions) / elapsedSeconds)) "
        + "reserves_per_second=\(String(format: "%.0f", Double(reserves) / elapsedSeconds)) allowed=\(total.allowed) denied=\(total.denied) "
        + "settled=\(total.settled) failed=\(total.failed) p50_ms=\(String(format: "%.2f", percentile(0.5, of: sorted))) p99_ms=\(String(format: "%.2f", percentile(0.99, of: sorted)))")
