import Foundation
import NIOCore
import NIOPosix

/// A bare HTTP/1.1 client for notifyd's event stream listener: it sends one request as nginx
/// would and reads the answer until the connection closes (a stream's end closes it).
enum StreamClient {
    struct Answer {
        let status: Int
        /// Header names lowercased.
        let headers: [String: String]
        /// The body, its chunked framing taken off.
        let body: String
    }

    /// Connects to `socketPath`, sends `method target` with `headers`, and answers once the server
    /// closes the connection.
    static func get(
        _ socketPath: String, _ target: String, headers: [(String, String)], method: String = "GET"
    ) async throws -> Answer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: socketPath) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        var received = ByteBuffer()
        try await channel.executeThenClose { inbound, outbound in
            let lines = ["\(method) \(target) HTTP/1.1", "Host: notifyd"] + headers.map { "\($0.0): \($0.1)" }
            try await outbound.write(ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n\r\n"))
            for try await piece in inbound { received.writeImmutableBuffer(piece) }
        }
        return try parse(String(buffer: received))
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws -> Answer {
        guard let end = text.range(of: "\r\n\r\n") else { throw Malformed(description: "no end of the head in \(text.debugDescription)") }
        let headLines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        guard let statusText = headLines.first?.split(separator: " ").dropFirst().first, let status = Int(statusText) else {
            throw Malformed(description: "no status in \(text.debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in headLines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        // Bytes, not characters: "\r\n" is one Character in Swift.
        var rest = Array(text[end.upperBound...].utf8)[...]
        guard headers["transfer-encoding"] == "chunked" else { return Answer(status: status, headers: headers, body: String(decoding: rest, as: UTF8.self)) }
        var body: [UInt8] = []
        while let lineEnd = rest.firstIndex(of: UInt8(ascii: "\r")),
            let size = Int(String(decoding: rest[..<lineEnd], as: UTF8.self), radix: 16), size > 0
        {
            let start = lineEnd + 2
            body += rest[start..<start + size]
            rest = rest[(start + size + 2)...]
        }
        return Answer(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }
}
