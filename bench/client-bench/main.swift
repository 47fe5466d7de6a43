// client-bench: round trips of each C-backed wrapper against a real server, and crypto costs.
// Usage: client-bench crypto | redis PORT | postgres PORT | amqp PORT (bench/run-clients runs all).
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.dropFirst().first.flatMap(Int.init)
do {
    switch (arguments.first, port) {
    case ("crypto", _): try await Benchmarks.crypto()
    case ("redis", let port?): try await Benchmarks.redis(port: port)
    case ("postgres", let port?): try await Benchmarks.postgres(port: port)
    case ("amqp", let port?): try await Benchmarks.amqp(port: port)
    default:
        FileHandle.standardError.write(Data("usage: client-bench crypto | redis PORT | postgres PORT | amqp PORT\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("client-bench: \(error)\n".utf8))
    exit(1)
}
