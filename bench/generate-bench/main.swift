// generate-bench: load on aid's socket as nginx would send it (the identity headers set), for
// bench/run-generate.
//   generate-bench tasks SOCKET USERS_FILE COUNT CONNECTIONS RATE   COUNT lesson_plan tasks, RATE
//       per second in all (0: as fast as the connections go); prints each accepted task id
//   generate-bench sync SOCKET USERS_FILE SECONDS CONNECTIONS       summary requests answered in the request
// Both print a `result` line: answers per second, statuses, and latency percentiles.
import BenchSupport
import Foundation

struct Tally: Sendable {
    var ok = 0
    var failed = 0
    var latencies: [Duration] = []
    var taskIDs: [String] = []
}

/// One keep-alive connection sending requests one after another while `next` gives a body.
func run(socket: String, users: [String], path: String, next: @Sendable () async -> String?) async throws -> Tally {
    try await UnixHTTPConnection.with(socket: socket) { connection in
        var tally = Tally()
        while let body = await next() {
            let identity = [
                ("X-User-Id", users.randomElement()!), ("X-Session-Id", UUID().uuidString.lowercased()), ("X-Scopes", "generate"), ("X-Tier", "pro"),
            ]
            let start = ContinuousClock.now
            let (status, answer) = try await connection.post(path, host: "aid", headers: identity, body: body)
            tally.latencies.append(ContinuousClock.now - start)
            if status == .ok || status == .accepted {
                tally.ok += 1
                if status == .accepted, let range = answer.range(of: #""task_id":""#) {
                    tally.taskIDs.append(String(answer[range.upperBound...].prefix(36)))
                }
            } else {
                tally.failed += 1
                if tally.failed <= 3 { FileHandle.standardError.write(Data("answer \(status.code): \(answer)\n".utf8)) }
            }
        }
        return tally
    }
}

/// Hands out the request bodies: a fixed count at a fixed pace, or until a deadline.
actor Feed {
    let count: Int?
    let deadline: ContinuousClock.Instant?
    let interval: Duration?
    let body: String
    var given = 0
    let run = UInt32.random(in: 0...UInt32.max)
    var nextAt = ContinuousClock.now

    init(count: Int?, deadline: ContinuousClock.Instant?, rate: Double, body: String) {
        self.count = count
        self.deadline = deadline
        interval = rate > 0 ? .microseconds(Int64(1_000_000 / rate)) : nil
        self.body = body
    }

    func next() async -> String? {
        if let count, given >= count { return nil }
        if let deadline, ContinuousClock.now >= deadline { return nil }
        given += 1
        if let interval {
            let at = nextAt
            nextAt = at + interval
            try? await Task.sleep(until: at)
        }
        // Each request its own topic, so that the result cache answers none of them.
        return body.replacingOccurrences(of: "#N#", with: "\(run) \(given)")
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 5, ["tasks", "sync"].contains(arguments[0]), let amount = Double(arguments[3]), let connections = Int(arguments[4]) else {
    FileHandle.standardError.write(Data("usage: generate-bench tasks SOCKET USERS_FILE COUNT CONNECTIONS RATE | sync SOCKET USERS_FILE SECONDS CONNECTIONS\n".utf8))
    exit(2)
}
let users = try String(contentsOfFile: arguments[2], encoding: .utf8).split(separator: "\n").map(String.init)
let tasks = arguments[0] == "tasks"
let feed = Feed(
    count: tasks ? Int(amount) : nil, deadline: tasks ? nil : ContinuousClock.now + .milliseconds(Int64(amount * 1000)),
    rate: tasks ? Double(arguments.count > 5 ? arguments[5] : "0") ?? 0 : 0,
    body: tasks
        ? #"{"topic":"The water cycle #N#","function":"lesson_plan","options":{"max_tokens":40}}"#
        : #"{"topic":"The water cycle #N#","function":"summary","options":{"max_tokens":40}}"#)
let started = ContinuousClock.now
let total = try await withThrowingTaskGroup(of: Tally.self) { group in
    for _ in 0..<connections {
        group.addTask { try await run(socket: arguments[1], users: users, path: "/api/generate") { await feed.next() } }
    }
    var sum = Tally()
    for try await part in group {
        sum.ok += part.ok
        sum.failed += part.failed
        sum.latencies += part.latencies
        sum.taskIDs += part.taskIDs
    }
    return sum
}
let elapsed = milliseconds(ContinuousClock.now - started) / 1000
for id in total.taskIDs { print("task \(id)") }
let sorted = total.latencies.sorted()
print(
    "result answered=\(total.ok) failed=\(total.failed) per_second=\(String(format: "%.0f", Double(total.ok) / elapsed)) "
        + "p50_ms=\(String(format: "%.2f", percentile(0.5, of: sorted))) p99_ms=\(String(format: "%.2f", percentile(0.99, of: sorted)))")
