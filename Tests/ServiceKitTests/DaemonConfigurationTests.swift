import Foundation
import ServiceKit
import Testing

@Suite struct DaemonConfigurationTests {
    @Test func commandLineBeatsEnvironmentBeatsDefaults() async throws {
        let configuration = try await DaemonConfiguration.load(
            daemon: "authd",
            defaults: ["listen": "127.0.0.1:9000", "redis.url": "redis://default"],
            arguments: ["authd", "--listen", "unix:/tmp/authd.sock"],
            environment: ["LISTEN": "127.0.0.1:9100", "REDIS_URL": "redis://from-env", "LOG_LEVEL": "debug"]
        )
        #expect(configuration.listen == .unixSocket(path: "/tmp/authd.sock"))
        #expect(configuration.reader.string(forKey: "redis.url") == "redis://from-env")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.socketMode == 0o660)
    }

    @Test func secretsComeFromCredentialFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "s3cret\n".write(to: directory.appendingPathComponent("postgres-password"), atomically: true, encoding: .utf8)
        let configuration = try await DaemonConfiguration.load(daemon: "authd", arguments: ["authd"], environment: ["CREDENTIALS_DIRECTORY": directory.path])
        #expect(try configuration.requiredString("postgres.password", isSecret: true) == "s3cret")
    }

    @Test func jsonFileIsReadBelowEnvironment() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json")
        try #"{"listen": "127.0.0.1:9200", "shutdown": {"timeout": 3, "drain": 1.5}}"#.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await DaemonConfiguration.load(daemon: "aid", arguments: ["aid", "--config", file.path], environment: [:])
        #expect(configuration.listen == .tcp(host: "127.0.0.1", port: 9200))
        #expect(configuration.shutdownTimeout == .seconds(3))
        #expect(configuration.shutdownDrain == .milliseconds(1500))
    }

    @Test func missingRequiredValueNamesEveryWayToSetIt() async throws {
        let configuration = try await DaemonConfiguration.load(daemon: "authd", arguments: ["authd"], environment: [:])
        #expect {
            try configuration.requiredString("redis.url")
        } throws: { error in
            String(describing: error) == "configuration 'redis.url': is required: pass --redis-url, set REDIS_URL, or put it in the --config file"
        }
    }

    @Test(arguments: ["unix:relative.sock", "localhost", "127.0.0.1:0", "127.0.0.1:70000", ":80"])
    func badListenAddressesAreRefused(_ text: String) {
        #expect(throws: ConfigurationError.self) { try ListenAddress(parsing: text) }
    }

    @Test func listenAddressesParse() throws {
        #expect(try ListenAddress(parsing: "[::1]:8081") == .tcp(host: "::1", port: 8081))
        #expect(try ListenAddress(parsing: "127.0.0.1:8081").description == "127.0.0.1:8081")
    }

    @Test func badValuesFailStartWithTheKeyNamed() async throws {
        await #expect(throws: ConfigurationError.self) {
            try await DaemonConfiguration.load(daemon: "authd", arguments: ["authd", "--log-level", "loud"], environment: [:])
        }
        await #expect(throws: ConfigurationError.self) {
            try await DaemonConfiguration.load(daemon: "authd", arguments: ["authd", "--socket-mode", "rw"], environment: [:])
        }
    }
}
