internal import CLibpq
import Logging

/// Sends the server's notices (RAISE NOTICE, warnings) to the caller's logger instead of stderr.
///
/// libpq keeps an unretained pointer to it, so the `LibpqConnection` holds it for as long as its
/// `PGconn` lives.
final class NoticeSink: Sendable {
    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Installs this sink as the connection's notice receiver.
    func install(on connection: OpaquePointer) {
        PQsetNoticeReceiver(
            connection,
            { context, result in
                guard let context, let result else { return }
                Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue().receive(result)
            },
            Unmanaged.passUnretained(self).toOpaque()
        )
    }

    private func receive(_ result: OpaquePointer) {
        let severity = LibpqResult.field(result, "V") ?? "NOTICE"
        let message = LibpqResult.field(result, "M") ?? ""
        var metadata: Logger.Metadata = ["postgres.severity": "\(severity)"]
        if let state = LibpqResult.field(result, "C") { metadata["postgres.sqlstate"] = "\(state)" }
        logger.log(level: Self.level(of: severity), "\(message)", metadata: metadata)
    }

    private static func level(of severity: String) -> Logger.Level {
        switch severity {
        case "WARNING": .warning
        case "NOTICE", "INFO": .info
        default: .debug
        }
    }
}
