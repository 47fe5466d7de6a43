import Foundation
import TestSupport
import Testing

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
        async let client = ChildProcess.run("/usr/bin/python3", ["-c", Self.streamClient, daemon.socketPath, marker])
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
