// client-bench: round trips of each C-backed wrapper against a real server, and crypto costs.
// Usage: client-bench crypto | redis | postgres | amqp, the server's URL (with its password) in
// REDIS_URL, POSTGRES_URL or AMQP_URL (bench/run-clients runs all).
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let environment = ProcessInfo.processInfo.environment
do {
    switch (arguments.first, arguments.first.flatMap { environment[$0 == "amqp" ? "AMQP_URL" : "\($0.uppercased())_URL"] }) {
    case ("crypto", _): try await Benchmarks.crypto()
    case ("redis", let url?): try await Benchmarks.redis(url: url)
    case ("postgres", let url?): try await Benchmarks.postgres(url: url)
    case ("amqp", let url?): try await Benchmarks.amqp(url: url)
    default:
        FileHandle.standardError.write(Data("usage: client-bench crypto | redis | postgres | amqp, with REDIS_URL, POSTGRES_URL or AMQP_URL set\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("client-bench: \(error)\n".utf8))
    exit(1)
}
