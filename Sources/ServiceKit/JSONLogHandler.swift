import Foundation
public import Logging

/// A swift-log handler that writes one JSON object per line to standard error, so journald and log
/// shippers can index `request_id`, `level` and every metadata field without parsing prose.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level = .info, write: @escaping @Sendable (String) -> Void = JSONLogHandler.writeToStandardError) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        var line = "{\"ts\":\"\(Date.now.ISO8601Format(Self.timestampStyle))\""
        line += ",\"level\":\"\(event.level.rawValue)\",\"logger\":" + JSONText.quoted(label)
        line += ",\"msg\":" + JSONText.quoted(event.message.description)
        for key in fields.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
            line += "," + JSONText.quoted(key) + ":" + JSONText.quoted(fields[key]!.description)
        }
        write(line + "}\n")
    }

    @Sendable public static func writeToStandardError(_ line: String) {
        StandardError.emit(line)
    }
}

/// JSON string quoting for hand-built log lines (the encoder would cost a heap of allocations per line).
enum JSONText {
    static func quoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
