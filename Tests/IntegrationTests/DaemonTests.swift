import Contracts
import Cryptography
import Foundation
import TestSupport
import Testing

/// Every daemon executable, started as the stack starts it, against the real servers.
@Suite(.timeLimit(.minutes(3))) struct DaemonTests {
    func environment(redis: LocalServer? = nil) throws -> [String: String] {
        [
            "REDIS_URL": try (redis ?? LocalServer.shared(.redis)).url(),
            "POSTGRES_URL": try LocalServer.shared(.postgres).url(),
            "AMQP_URL": try LocalServer.shared(.rabbitmq).url(),
            "JWT_KEYS": try Self.keysDirectory(),
        ]
    }

    /// A keys folder with one signing key, named and protected as `skillctl keys generate` leaves it.
    static func keysDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = try Ed25519PrivateKey()
        let kid = try JWK(key.publicKey).thumbprint()
        _ = FileManager.default.createFile(
            atPath: "\(directory)/\(kid).pem", contents: Data(try key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
        return directory
    }

    @Test(arguments: ["authd", "subscribed", "aid", "genworker", "notifyd"])
    func startsReadyOnAUnixSocketAndStopsCleanly(_ name: String) async throws {
        // aid and genworker need subscribed's entitlement sockets named, not reachable, to start.
        let settings = ["aid", "genworker"].contains(name) ? ["--entitlements-sockets", "/run/skillup/entitlements/subscribed-1.sock"] : []
        let daemon = try DaemonProcess(name, arguments: ["--shutdown-drain", "0.5"] + settings, environment: environment())
        defer { daemon.remove() }
        try await daemon.waitUntilListening()

        let mode = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        let ready = try await pollReady(daemon, until: 200)
        #expect(ready.body.contains(#""status":"ready""#))
        let metrics = try await daemon.get("/metrics")
        #expect(metrics.status == 200)
        // The readiness polls above, counted under the product's name with its help text.
        #expect(metrics.body.contains("# HELP skillup_http_requests_total "), "\(metrics.body)")
        #expect(metrics.body.contains(#"skillup_http_requests_total{route="/health/ready",method="GET",status="200"}"#), "\(metrics.body)")
        #expect(!metrics.body.contains("hb_"), "no framework-named families")
        if !settings.isEmpty {
            // Each engine's circuit is a gauge from the start: 0, closed.
            #expect(metrics.body.contains(#"skillup_engine_circuit_state{engine="offline"} 0"#), "\(metrics.body)")
        }

        let stopTime = try await daemon.terminate()
        #expect(daemon.exitStatus == 0)
        #expect(stopTime < .seconds(5), "\(daemon.log)")
        #expect(daemon.log.contains(#""msg":"listening""#))
    }

    /// A service refuses its protected paths (those nginx/routes.conf puts behind auth) without the
    /// gateway's identity headers, whether or not a route serves them yet; a planned path that no
    /// route serves yet answers 501; a look-alike prefix is neither protected nor planned.
    @Test func aProtectedPathWithoutTheGatewaysIdentityIsRefused() async throws {
        let daemon = try DaemonProcess("subscribed", arguments: ["--shutdown-drain", "0.5"], environment: environment())
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        let identity = [
            "\(GatewayHeaders.userID.rawName): \(UUID().uuidString.lowercased())", "\(GatewayHeaders.sessionID.rawName): \(UUID().uuidString.lowercased())",
            "\(GatewayHeaders.scopes.rawName): subscription:read", "\(GatewayHeaders.tier.rawName): free",
        ]
        for path in ["/api/subscription", "/api/subscription/", "/api/subscription/current"] {
            let refused = try await daemon.get(path)
            #expect(refused.status == 401, "\(path): \(refused.body)")
            #expect(refused.body.contains(#""error":"missing_identity""#), "\(path): \(refused.body)")
        }
        #expect(try await daemon.get("/api/subscription", headers: identity).status == 200, "with an identity it is served")
        let planned = try await daemon.get("/api/subscription/current", headers: identity)
        #expect(planned.status == 501, "with an identity it passes on, and no route serves it yet: \(planned.body)")
        let malformed = try await daemon.get(
            "/api/subscription",
            headers: ["\(GatewayHeaders.userID.rawName): someone", "\(GatewayHeaders.sessionID.rawName): \(UUID().uuidString.lowercased())"])
        #expect(malformed.status == 401)
        #expect(try await daemon.get("/api/subscription", headers: [identity[0]]).status == 401, "a user id alone is not an identity")
        let plans = try await daemon.get("/api/plans")
        #expect(plans.status == 200, "public: \(plans.body)")
        #expect(plans.body.contains(#""code":"free""#))
        #expect(try await daemon.get("/api/subscriptions-other").status == 404, "neither protected nor planned")
        _ = try await daemon.terminate()
    }

    /// A daemon outlives its log reader: with standard error a pipe nobody reads any more, its lines
    /// are dropped and it keeps answering (Foundation's FileHandle.write traps on EPIPE, and a write
    /// to a closed pipe raises SIGPIPE).
    @Test func aDaemonOutlivesItsLogReader() async throws {
        var environment = try environment()
        // Nothing listens there: every readiness check fails and logs a warning.
        environment["REDIS_URL"] = "redis://127.0.0.1:1"
        let daemon = try DaemonProcess("subscribed", arguments: ["--shutdown-drain", "0.5"], environment: environment, logReaderGone: true)
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        for _ in 0..<3 {
            #expect(try await daemon.get("/health/ready").status == 503)
            try await Task.sleep(for: .milliseconds(1100))
        }
        #expect(daemon.isRunning, "exit status \(daemon.exitStatus ?? 0)")
        #expect(try await daemon.get("/health/live").status == 200)
    }

    /// On SIGTERM the socket file goes at once (nginx connects to another instance), while a
    /// connection nginx already holds keeps being answered, "not ready" and with `Connection:
    /// close`, until the drain ends: nginx never finds it closed under a request it is sending.
    @Test func aStoppingDaemonDrainsItsOpenConnections() async throws {
        let daemon = try DaemonProcess("subscribed", arguments: ["--shutdown-drain", "2"], environment: environment())
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        let marker = daemon.socketPath + ".connected"
        async let held = ChildProcess.run("/usr/bin/python3", ["-c", Self.heldConnectionClient, daemon.socketPath, marker])
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: marker) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let stopTime = try await daemon.terminate()
        let output = try await held.output
        #expect(output.contains("first: 200"), "\(output)")
        #expect(output.contains("socket gone"), "\(output)")
        #expect(output.contains("second: 503 close"), "\(output)")
        #expect(output.contains("draining before exit"), "\(output)")
        #expect(stopTime >= .seconds(2), "\(daemon.log)")
        #expect(daemon.exitStatus == 0)
    }

    /// Holds one connection: a request, then another once the socket file is gone.
    static let heldConnectionClient = """
        import os, socket, sys, time
        path, marker = sys.argv[1], sys.argv[2]
        connection = socket.socket(socket.AF_UNIX)
        connection.connect(path)
        reader = connection.makefile("rb")
        def ask(target):
            connection.sendall(f"GET {target} HTTP/1.1\\r\\nHost: daemon\\r\\n\\r\\n".encode())
            status = reader.readline().split()[1].decode()
            headers = {}
            while (line := reader.readline().strip()):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            return status, headers, reader.read(int(headers.get("content-length", "0"))).decode()
        print("first:", ask("/health/live")[0])
        open(marker, "w").close()
        deadline = time.monotonic() + 10
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("socket gone" if not os.path.exists(path) else "socket still there")
        status, headers, body = ask("/health/ready")
        print("second:", status, headers.get("connection", "keep-alive"), body)
        """

    @Test func readinessNamesRedisWhileItIsDownAndRecovers() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        let daemon = try DaemonProcess("authd", environment: environment(redis: redis))
        defer { daemon.remove() }
        try await daemon.waitUntilListening()
        _ = try await pollReady(daemon, until: 200)

        try await redis.stop()
        let down = try await pollReady(daemon, until: 503)
        #expect(down.body.contains(#""error":"not_ready""#))
        #expect(down.body.contains("redis: "))
        #expect(!down.body.contains("postgres: "))
        #expect(daemon.log.contains(#""msg":"not ready""#))

        try await redis.start()
        _ = try await pollReady(daemon, until: 200)
    }

    @Test func authdServesTheLeanValidatorOnItsOwnSocket() async throws {
        let validateSocket = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString.prefix(8)).sock").path
        let daemon = try DaemonProcess("authd", arguments: ["--validate-listen", "unix:\(validateSocket)"], environment: environment())
        defer { daemon.remove(); try? FileManager.default.removeItem(atPath: validateSocket) }
        try await daemon.waitUntilListening()
        _ = try await pollReady(daemon, until: 200)
        #expect(daemon.log.contains(#""msg":"validator listening""#))
        #expect(try FileManager.default.attributesOfItem(atPath: validateSocket)[.posixPermissions] as? Int == 0o660)

        let email = "lean-\(UUID().uuidString.prefix(8))@example.com"
        let credentials = #"{"email":"\#(email)","password":"a long test passphrase"}"#
        let post = [
            "-s", "--unix-socket", daemon.socketPath, "-H", "Content-Type: application/json", "-H", "\(GatewayHeaders.realIP.rawName): 10.9.9.9", "-d",
            credentials,
        ]
        _ = try await ChildProcess.run("/usr/bin/curl", post + ["http://authd/auth/register"])
        let login = try await ChildProcess.run("/usr/bin/curl", post + ["http://authd/auth/login"]).output
        let token = try #require((try JSONSerialization.jsonObject(with: Data(login.utf8)) as? [String: Any])?["access_token"] as? String, "\(login)")

        func lean(_ path: String, authorization: String) async throws -> String {
            try await ChildProcess.run(
                "/usr/bin/curl", ["-s", "-i", "--unix-socket", validateSocket, "-H", "Authorization: \(authorization)", "http://authd\(path)"]
            ).output
        }
        let allowed = try await lean("/internal/jwt/validate", authorization: "Bearer \(token)")
        #expect(allowed.hasPrefix("HTTP/1.1 200"))
        #expect(allowed.lowercased().contains("x-user-id: ") && allowed.lowercased().contains("x-tier: free"))
        let refused = try await lean("/internal/jwt/validate", authorization: "Bearer not.a.token")
        #expect(refused.hasPrefix("HTTP/1.1 401"))
        #expect(refused.contains(#"error="invalid_token""#) && refused.lowercased().contains("x-auth-error: invalid_token"))
        #expect(refused.lowercased().contains("content-length: 0"), "a refusal has no body: nginx drops it")
        let elsewhere = try await lean("/auth/me", authorization: "Bearer \(token)")
        #expect(elsewhere.hasPrefix("HTTP/1.1 404"))

        // nginx keeps upstream connections alive: three answers on one connection.
        let url = "http://authd/internal/jwt/validate"
        let reused = try await ChildProcess.run(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", "--unix-socket", validateSocket,
                "-H", "Authorization: Bearer \(token)", url, url, url,
            ]
        ).output
        #expect(reused.split(separator: "\n") == ["200 1", "200 0", "200 0"], "\(reused)")
    }

    /// The lean listener answers a new token on the validator's loop (one thread), or hops there
    /// from its own (two): either way a signed-out session's token is refused, and without Redis a
    /// new token gets 503, never 200 or 401.
    @Test(arguments: [1, 2])
    func theLeanValidatorRefusesARevokedTokenAndFailsClosedWithoutRedis(threads: Int) async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        let validateSocket = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString.prefix(8)).sock").path
        let daemon = try DaemonProcess(
            "authd", arguments: ["--validate-listen", "unix:\(validateSocket)", "--validate-threads", "\(threads)"], environment: environment(redis: redis))
        defer { daemon.remove(); try? FileManager.default.removeItem(atPath: validateSocket) }
        try await daemon.waitUntilListening()
        _ = try await pollReady(daemon, until: 200)

        let email = "lean-\(UUID().uuidString.prefix(8))@example.com"
        let credentials = #"{"email":"\#(email)","password":"a long test passphrase"}"#
        let realIP = "\(GatewayHeaders.realIP.rawName): 10.9.9.9"
        func login() async throws -> String {
            let answer = try await daemon.post("/auth/login", headers: [realIP], json: credentials).body
            return try #require((try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])?["access_token"] as? String, "\(answer)")
        }
        func validate(_ token: String) async throws -> Int {
            try await daemon.get("/internal/jwt/validate", headers: ["Authorization: Bearer \(token)"], socket: validateSocket).status
        }
        _ = try await daemon.post("/auth/register", headers: [realIP], json: credentials)
        let signedOut = try await login()
        #expect(try await validate(signedOut) == 200)
        _ = try await daemon.post("/auth/logout", headers: [realIP, "Authorization: Bearer \(signedOut)"], json: "{}")
        #expect(try await validate(signedOut) == 401, "a signed-out session's token must be refused")

        let unseen = try await login()
        try await redis.stop()
        #expect(try await validate(unseen) == 503, "a new token that cannot be checked against Redis is neither allowed nor refused")
    }

    @Test func aBadSettingStopsStartWithTheKeyNamed() async throws {
        let daemon = try DaemonProcess("authd", arguments: ["--log-level", "loud"], environment: environment())
        defer { daemon.remove() }
        #expect(try await daemon.waitForExit(timeout: .seconds(20)))
        #expect(daemon.exitStatus == 78)
        #expect(daemon.log.contains("configuration 'log.level'"))
    }

    @Test func aMissingBackendURLStopsStartWithHowToSetIt() async throws {
        let daemon = try DaemonProcess("authd", environment: ["REDIS_URL": "redis://127.0.0.1:1"])
        defer { daemon.remove() }
        #expect(try await daemon.waitForExit(timeout: .seconds(20)))
        #expect(daemon.exitStatus == 78)
        #expect(daemon.log.contains("--postgres-url"))
    }

    /// Polls `/health/ready` until it answers `status` (readiness follows the backends within
    /// their reconnect backoff).
    func pollReady(_ daemon: DaemonProcess, until status: Int, timeout: Duration = .seconds(30)) async throws -> (status: Int, body: String) {
        let deadline = ContinuousClock.now + timeout
        var last = try await daemon.get("/health/ready")
        while last.status != status && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            last = try await daemon.get("/health/ready")
        }
        #expect(last.status == status, "last answer: \(last.body)")
        return last
    }
}
