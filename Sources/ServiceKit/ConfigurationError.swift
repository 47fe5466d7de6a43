/// A configuration value that is missing or malformed; the daemon refuses to start with it.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let key: String
    public let message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "configuration '\(key)': \(message)" }
}
