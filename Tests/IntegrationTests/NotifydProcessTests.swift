import Contracts
import Foundation
import Logging
import RedisClient
import TestSupport
import Testing

@testable import Notifications

/// notifyd as a process on the test servers: an open stream gets its heartbeats; on SIGTERM its
/// open streams end at once with their reason (clients reconnect to the other instance), rather
/// than holding the stop until its timeout.
@Suite(.timeLimit(.minutes(2))) struct NotifydProcessTests {
    @Test func aStreamGetsItsHeartbeatsAndAStoppingNotifydClosesItWithItsReasonWithinItsDrain() async throws {
        let environment = ["REDIS_URL": try LocalServer.shared(.redis).url(), "AMQP_URL": try LocalServer.shared(.rabbitmq).url()]
        let daemon = try DaemonProcess(
            "notifyd", arguments: ["--shutdown-drain", "1", "--shutdown-timeout", "10", "--notify-heartbeat", "0.2"], environment: environment)
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        let marker = daemon.socketPath + ".streaming"
        async let client = ChildProcess.run("/usr/bin/python3", ["-c", Self.streamClient, daemon.eventsSocketPath, marker])
        try await waitUntil(within: .seconds(20)) { FileManager.default.fileExists(atPath: marker) }
        let stopTime = try await daemon.terminate()
        let output = try await client.output
        #expect(output.contains("status: 200"), "\(output)")
        #expect(output.contains(": heartbeat"), "\(output)")
        #expect(output.contains("event: closed\ndata: {\"reason\":\"shutdown\"}"), "\(output)")
        #expect(output.contains("ended"), "\(output)")
        // The drain is 1 s; a stream that held the HTTP server's stop would take the 10 s timeout.
        #expect(stopTime < .seconds(6), "\(daemon.log)")
        #expect(daemon.exitStatus == 0)
    }

    /// Stores events straight into the history in the test Redis, as notifyd's consumer does
    /// (the wake-up included), without the shared events queue of the other tests.
    static func withHistory<T: Sendable>(_ body: (RedisEventHistory) async throws -> T) async throws -> T {
        let server = try LocalServer.shared(.redis)
        var configuration = RedisConfiguration(port: server.port)
        configuration.password = try server.password()
        let redis = RedisClient(configuration: configuration, logger: Logger(label: "notifyd-process-test"))
        let running = Task { try await redis.run() }
        defer { running.cancel() }
        let history = RedisEventHistory(redis: redis, capacity: 1000, keepSeconds: 86_400)
        do {
            let result = try await body(history)
            await redis.shutdown()
            return result
        } catch {
            await redis.shutdown()
            throw error
        }
    }

    static func environment() throws -> [String: String] {
        ["REDIS_URL": try LocalServer.shared(.redis).url(), "AMQP_URL": try LocalServer.shared(.rabbitmq).url()]
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    /// The same events as server-sent events, as WebSocket messages: a new stream's `start` id,
    /// the user's events and never another's, and a reconnect with `?after=` that resumes.
    @Test func aWebSocketGetsItsUsersEventsAndResumesAfterAnId() async throws {
        let daemon = try DaemonProcess("notifyd", arguments: ["--notify-heartbeat", "60"], environment: try Self.environment())
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        let user = Self.newID()
        let marker = daemon.socketPath + ".open"
        try await Self.withHistory { history in
            async let first = ChildProcess.run("/usr/bin/python3", ["-c", Self.webSocketClient, daemon.eventsSocketPath, "/api/events", user, marker, "2"])
            try await waitUntil(within: .seconds(20)) { FileManager.default.fileExists(atPath: marker) }
            _ = try await history.append(UserEvent(id: Self.newID(), type: .generationSucceeded, userID: Self.newID(), data: ["task_id": "other"]))
            let one = try await history.append(UserEvent(id: Self.newID(), type: .generationSucceeded, userID: user, data: ["task_id": "one"]))
            let two = try await history.append(UserEvent(id: Self.newID(), type: .generationFailed, userID: user, data: ["task_id": "two"]))
            let lines = try await first.output.split(separator: "\n").map(String.init)
            #expect(lines.first == "status=101 accept=ok", "\(lines)\n\(daemon.log)")
            let messages = lines.dropFirst().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(messages.map { $0["event"] as? String } == ["start", "generation.succeeded", "generation.failed"], "\(lines)")
            #expect(messages.dropFirst().map { $0["id"] as? String } == [one.position.description, two.position.description])
            #expect(messages.dropFirst().map { ($0["data"] as? [String: Any])?["user_id"] as? String } == [user, user])
            #expect(messages.dropFirst().map { (($0["data"] as? [String: Any])?["data"] as? [String: String])?["task_id"] } == ["one", "two"])

            let resumed = try await ChildProcess.run(
                "/usr/bin/python3", ["-c", Self.webSocketClient, daemon.eventsSocketPath, "/api/events?after=\(one.position)", user, marker + "2", "1"])
            let again = resumed.output.split(separator: "\n").dropFirst().compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(again.map { $0["id"] as? String } == [two.position.description], "\(resumed.output)")
        }
    }

    /// Fan-out: a user's streams on two instances each get every event of theirs once, in order.
    @Test func aUsersStreamsOnBothInstancesEachGetEveryEventOnce() async throws {
        let instances = try (0..<2).map { _ in try DaemonProcess("notifyd", arguments: ["--notify-heartbeat", "60"], environment: try Self.environment()) }
        defer { for instance in instances { instance.remove() } }
        for instance in instances { try await instance.waitUntilListening() }
        let user = Self.newID()
        try await Self.withHistory { history in
            async let first = ChildProcess.run(
                "/usr/bin/python3", ["-c", Self.webSocketClient, instances[0].eventsSocketPath, "/api/events", user, instances[0].socketPath + ".open", "2"])
            async let second = ChildProcess.run(
                "/usr/bin/python3", ["-c", Self.webSocketClient, instances[1].eventsSocketPath, "/api/events", user, instances[1].socketPath + ".open", "2"])
            try await waitUntil(within: .seconds(20)) { instances.allSatisfy { FileManager.default.fileExists(atPath: $0.socketPath + ".open") } }
            var stored: [String] = []
            for _ in 0..<2 {
                stored.append(try await history.append(UserEvent(id: Self.newID(), type: .generationSucceeded, userID: user)).position.description)
            }
            for output in [try await first.output, try await second.output] {
                let ids = output.split(separator: "\n").dropFirst().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    .filter { $0["event"] as? String == "generation.succeeded" }.compactMap { $0["id"] as? String }
                #expect(ids == stored, "\(output)")
            }
        }
    }

    /// A client that stops reading: its stream is stuck in a write while its user's events keep
    /// coming; past the backlog limit notifyd drops it (the client sees its connection end, and
    /// would resume from its last id), and notifyd's memory does not grow with what it missed.
    @Test func aClientThatStopsReadingIsCutOffAndNotifydsMemoryStaysBounded() async throws {
        let daemon = try DaemonProcess(
            "notifyd", arguments: ["--notify-heartbeat", "60", "--notify-backlog-events", "20"], environment: try Self.environment())
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        let user = Self.newID()
        let marker = daemon.socketPath + ".stalled"
        let resume = daemon.socketPath + ".read"
        try await Self.withHistory { history in
            async let client = ChildProcess.run("/usr/bin/python3", ["-c", Self.stalledClient, daemon.eventsSocketPath, user, marker, resume])
            try await waitUntil(within: .seconds(20)) { FileManager.default.fileExists(atPath: marker) }
            let before = try #require(daemon.residentKiB)
            // 4 KB each: far more than the socket's buffers hold, so the stream's writes stall.
            let text = String(repeating: "x", count: 4000)
            for index in 0..<1500 {
                _ = try await history.append(UserEvent(id: Self.newID(), type: .generationProgress, userID: user, data: ["n": "\(index)", "pad": text]))
            }
            try await waitUntil(within: .seconds(20)) { daemon.log.contains("stream cut off") }
            let after = try #require(daemon.residentKiB)
            // 6 MB of events went by; what notifyd holds for the stuck stream is its socket's buffer.
            #expect(after - before < 16 * 1024, "RSS \(before) KiB -> \(after) KiB")
            _ = FileManager.default.createFile(atPath: resume, contents: nil)
            let output = try await client.output
            #expect(output.contains("status=200"), "\(output)")
            #expect(output.contains("ended"), "\(output)")
            #expect(!output.contains("n\":\"1499\""), "the stream was cut off before the last event")
        }
    }

    /// `/api/events` upgraded to a WebSocket on notifyd's socket, as nginx passes it on: prints
    /// the status and whether the accept key was right, marks that the stream is open (at its
    /// `start`, or at once when it resumes), then prints each text message until COUNT events (not
    /// `start` or `heartbeat`) came, and closes.
    static let webSocketClient = """
        import base64, hashlib, json, os, socket, struct, sys
        path, target, user, marker, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        key = base64.b64encode(os.urandom(16)).decode()
        connection = socket.socket(socket.AF_UNIX)
        connection.settimeout(20)
        connection.connect(path)
        connection.sendall((f"GET {target} HTTP/1.1\\r\\nHost: notifyd\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
            f"Sec-WebSocket-Key: {key}\\r\\nSec-WebSocket-Version: 13\\r\\nX-User-Id: {user}\\r\\n"
            f"X-Session-Id: 0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11\\r\\n\\r\\n").encode())
        reader = connection.makefile("rb")
        status = reader.readline().split()[1].decode()
        headers = {}
        while True:
            line = reader.readline().decode().strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        print(f"status={status} accept={'ok' if headers.get('sec-websocket-accept') == expected else 'wrong'}", flush=True)
        # A new stream is open once its start came (what is stored later reaches it); a resumed
        # one reads from its id whenever it starts.
        if "after=" in target:
            open(marker, "w").close()
        def frame():
            first, second = reader.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read(8))[0]
            return first & 0x0F, reader.read(length)
        seen = 0
        while seen < count:
            opcode, payload = frame()
            if opcode == 8:
                break
            if opcode == 1:
                print(payload.decode(), flush=True)
                event = json.loads(payload)["event"]
                if event == "start":
                    open(marker, "w").close()
                elif event != "heartbeat":
                    seen += 1
        mask = os.urandom(4)
        close = struct.pack("!H", 1000)
        connection.sendall(bytes([0x88, 0x80 | len(close)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(close)))
        """

    /// Opens a stream with a small receive buffer, reads its start, marks that it stalls, reads
    /// nothing more until the resume file appears, then reads to the end and prints "ended".
    static let stalledClient = """
        import os, socket, sys, time
        path, user, marker, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        connection = socket.socket(socket.AF_UNIX)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.settimeout(60)
        connection.connect(path)
        connection.sendall((f"GET /api/events HTTP/1.1\\r\\nHost: notifyd\\r\\nX-User-Id: {user}\\r\\n"
            "X-Session-Id: 0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11\\r\\n\\r\\n").encode())
        start = connection.recv(4096).decode()
        print("status=" + start.split()[1], flush=True)
        open(marker, "w").close()
        while not os.path.exists(resume):
            time.sleep(0.05)
        body = b""
        while True:
            piece = connection.recv(65536)
            if not piece:
                break
            body += piece
        print(body.decode(errors="replace")[-2000:])
        print("ended")
        """

    /// Opens `/api/events` as nginx would (the gateway's identity headers), reads the stream up to
    /// its first heartbeat, marks that it streams, then prints every line until the stream ends.
    static let streamClient = """
        import socket, sys
        path, marker = sys.argv[1], sys.argv[2]
        connection = socket.socket(socket.AF_UNIX)
        connection.settimeout(30)
        connection.connect(path)
        connection.sendall(b"GET /api/events HTTP/1.1\\r\\nHost: notifyd\\r\\n"
            b"X-User-Id: 9c4e2f5a-6f0e-4a59-9d43-0f0c3f1f1e11\\r\\nX-Session-Id: 0f8a3c1e-1111-4a59-9d43-0f0c3f1f1e11\\r\\n\\r\\n")
        reader = connection.makefile("rb")
        print("status:", reader.readline().split()[1].decode())
        while reader.readline().strip():
            pass
        body = b""
        while b": heartbeat" not in body:
            body += reader.readline()
        open(marker, "w").close()
        for line in reader:
            body += line
        text = body.decode()
        # Chunked framing: keep the event lines only.
        print("\\n".join(l for l in text.splitlines() if l.startswith(("event:", "data:", "id:", ":"))))
        print("ended")
        """
}
