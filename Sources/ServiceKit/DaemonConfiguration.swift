public import Configuration
import Foundation
public import Logging
import SystemPackage

/// The settings every daemon reads, and the reader its own settings come from.
///
/// Sources, first match wins: command line (`--redis-url ...`), environment (`REDIS_URL=...`),
/// secret files in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`; file `postgres-password`
/// for key `postgres.password`), the JSON file named by `--config`/`CONFIG`, then defaults.
public struct DaemonConfiguration: Sendable {
    public let daemon: String
    public let reader: ConfigReader
    public let listen: ListenAddress
    /// Permission bits of the unix socket, so that nginx's worker user can connect.
    public let socketMode: Int
    public let logLevel: Logger.Level
    public let logFormat: LogFormat
    /// How long in-flight requests may take to finish after the drain.
    public let shutdownTimeout: Duration
    /// How long a stopping daemon drains (``Drain``) before it closes its connections.
    public let shutdownDrain: Duration

    /// Builds the reader from the process's arguments and environment.
    public static func load(
        daemon: String,
        defaults: [AbsoluteConfigKey: ConfigValue] = [:],
        arguments: [String] = CommandLine.arguments,
        environment: [String: String]? = nil
    ) async throws -> DaemonConfiguration {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let commandLine = CommandLineArgumentsProvider(arguments: arguments, secretsSpecifier: .dynamic { key, _ in isSecretKey(key) })
        let variables = EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .dynamic { key, _ in isSecretKey(key) })
        var providers: [any ConfigProvider] = [commandLine, variables]
        if let credentials = environment["CREDENTIALS_DIRECTORY"] {
            providers.append(try await DirectoryFilesProvider(directoryPath: FilePath(credentials), allowMissing: true))
        }
        let early = ConfigReader(providers: providers)
        if let file = early.string(forKey: "config") {
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
        }
        providers.append(InMemoryProvider(values: defaults))
        return try DaemonConfiguration(daemon: daemon, reader: ConfigReader(providers: providers))
    }

    public init(daemon: String, reader: ConfigReader) throws {
        self.daemon = daemon
        self.reader = reader
        self.listen = try ListenAddress(parsing: reader.string(forKey: "listen", default: "127.0.0.1:8080"))
        let modeText = reader.string(forKey: "socket.mode", default: "0660")
        guard let mode = Int(modeText, radix: 8), (0...0o777).contains(mode) else {
            throw ConfigurationError(key: "socket.mode", message: "expected octal permission bits such as 0660, got '\(modeText)'")
        }
        self.socketMode = mode
        let levelText = reader.string(forKey: "log.level", default: "info")
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ConfigurationError(key: "log.level", message: "expected trace, debug, info, notice, warning, error or critical, got '\(levelText)'")
        }
        self.logLevel = level
        let formatText = reader.string(forKey: "log.format", default: "json")
        guard let format = LogFormat(rawValue: formatText) else {
            throw ConfigurationError(key: "log.format", message: "expected json or text, got '\(formatText)'")
        }
        self.logFormat = format
        let seconds = reader.double(forKey: "shutdown.timeout", default: 10)
        guard seconds > 0 else { throw ConfigurationError(key: "shutdown.timeout", message: "must be positive seconds") }
        self.shutdownTimeout = .milliseconds(Int64(seconds * 1000))
        let drainSeconds = reader.double(forKey: "shutdown.drain", default: 5)
        guard drainSeconds >= 0 else { throw ConfigurationError(key: "shutdown.drain", message: "must be zero or positive seconds") }
        self.shutdownDrain = .milliseconds(Int64(drainSeconds * 1000))
    }

    /// A required string, with an error that names the key and every way to set it.
    public func requiredString(_ key: String, isSecret: Bool = false) throws -> String {
        guard let value = reader.string(forKey: ConfigKey(key), isSecret: isSecret), !value.isEmpty else {
            let flag = "--" + key.replacingOccurrences(of: ".", with: "-")
            let variable = key.uppercased().replacingOccurrences(of: ".", with: "_")
            throw ConfigurationError(key: key, message: "is required: pass \(flag), set \(variable), or put it in the --config file")
        }
        return value
    }

    /// URLs, passwords and API keys are never printed by access reporters.
    static func isSecretKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return lowered.contains("password") || lowered.contains("secret") || lowered.hasSuffix("url") || lowered.hasSuffix(".key")
    }
}
