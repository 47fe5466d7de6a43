import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceKit
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@Suite("A lean listener that stops", .timeLimit(.minutes(1)))
struct LeanListenerTests {
    @Test("the answer under way when the daemon stops is written before its connection closes")
    func anAnswerUnderWayIsWritten() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lean-\(UUID().uuidString.prefix(8)).sock").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let logger = Logger(label: "lean-listener-test")
        let asked = Asked()
        let listener = LeanListener(name: "slow", address: try ListenAddress(parsing: "unix:\(path)"), threads: 1, socketMode: 0o600, logger: logger) {
            SlowAnswer(asked: asked)
        }
        let services = ServiceGroup(configuration: .init(services: [listener], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            try await waitUntil { await acceptsConnections(onSocket: path) }
            let answer = Task { try await Self.get(path) }
            try await waitUntil { asked.yes }
            await services.triggerGracefulShutdown()
            let text = try await answer.value
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text)")
            #expect(text.hasSuffix("late"), "\(text)")
            try await group.waitForAll()
        }
    }

    /// Sends `GET /` on a connection of its own and reads until the listener closes it.
    static func get(_ path: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: path) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        var received = ByteBuffer()
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: test\r\n\r\n"))
            for try await piece in inbound { received.writeImmutableBuffer(piece) }
        }
        return String(buffer: received)
    }
}

/// Answers every request 300 ms after it was read, as a call whose batch is committing would be.
private final class SlowAnswer: LeanRequestHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let asked: Asked
    var pendingHead: HTTPRequestHead?

    init(asked: Asked) {
        self.asked = asked
    }

    func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        asked.mark()
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(300)) {
            LeanAnswer.write(
                status: 200, headers: HTTPHeaders(), body: context.channel.allocator.buffer(string: "late"), to: head, context: context,
                wrap: self.wrapOutboundOut)
        }
    }
}

/// Whether the listener has read a request.
private final class Asked: Sendable {
    private let value = Mutex(false)
    var yes: Bool { value.withLock { $0 } }
    func mark() { value.withLock { $0 = true } }
}
