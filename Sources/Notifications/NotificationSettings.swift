import ServiceKit

/// notifyd's settings; a bad value stops start-up.
struct NotificationSettings: Sendable {
    /// Where the event streams are served (`events.listen`: `unix:/path` or `host:port`,
    /// 127.0.0.1:8086): a listener of their own, which nginx routes `/api/events` to.
    var eventsListen: ListenAddress
    /// Events kept per user (`notify.history-size`).
    var historySize: Int
    /// How long an event is kept (`notify.history-hours`): a client away longer gets a `reset`.
    var historySeconds: Int
    /// The heartbeat comment's interval on an open stream (`notify.heartbeat`, seconds).
    var heartbeat: Duration
    /// Events read from the history at once, and the most a page of `/api/notifications` holds
    /// (`notify.page-size`).
    var pageSize: Int
    /// How long a stream stays open before it is closed with `max_age` (`notify.max-age`, seconds).
    var maxAge: Duration
    /// Streams one user may hold on one instance (`notify.streams-per-user`).
    var streamsPerUser: Int
    /// How long a stream outlives its credential (`notify.expiry-grace`, seconds, 30): time for
    /// the client to reconnect with a fresh one before it is closed with `token_expired`.
    var expiryGrace: Duration
    /// How far a stream may fall behind while its client does not read before it is cut off as
    /// `slow` (`notify.backlog-events` 1000, `notify.backlog-bytes` 1 MiB).
    var backlogLimit: LiveStreams.BacklogLimit
    /// Event messages held at once while they are being stored (`notify.prefetch`, 64): different
    /// users' side by side, one user's one after another in the order they came.
    var prefetch: Int

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        eventsListen = try ListenAddress(parsing: reader.string(forKey: "events.listen", default: "127.0.0.1:8086"))
        historySize = reader.int(forKey: "notify.history-size", default: 1000)
        guard (10...100_000).contains(historySize) else { throw ConfigurationError(key: "notify.history-size", message: "must be from 10 to 100000") }
        let hours = reader.double(forKey: "notify.history-hours", default: 24)
        guard hours > 0, hours <= 24 * 30 else { throw ConfigurationError(key: "notify.history-hours", message: "must be more than 0 and at most 720") }
        historySeconds = max(Int(hours * 3600), 1)
        let heartbeat = reader.double(forKey: "notify.heartbeat", default: 15)
        guard heartbeat >= 0.05, heartbeat <= 300 else { throw ConfigurationError(key: "notify.heartbeat", message: "must be from 0.05 to 300 seconds") }
        self.heartbeat = .milliseconds(Int64(heartbeat * 1000))
        pageSize = reader.int(forKey: "notify.page-size", default: 100)
        guard (1...1000).contains(pageSize) else { throw ConfigurationError(key: "notify.page-size", message: "must be from 1 to 1000") }
        prefetch = reader.int(forKey: "notify.prefetch", default: 64)
        let maxAge = reader.double(forKey: "notify.max-age", default: 3600)
        guard maxAge >= 0.05 else { throw ConfigurationError(key: "notify.max-age", message: "must be at least 0.05 seconds") }
        self.maxAge = .milliseconds(Int64(maxAge * 1000))
        streamsPerUser = reader.int(forKey: "notify.streams-per-user", default: 8)
        guard (1...1000).contains(streamsPerUser) else { throw ConfigurationError(key: "notify.streams-per-user", message: "must be from 1 to 1000") }
        guard (1...1000).contains(prefetch) else { throw ConfigurationError(key: "notify.prefetch", message: "must be from 1 to 1000") }
        let grace = reader.double(forKey: "notify.expiry-grace", default: 30)
        guard (0...3600).contains(grace) else { throw ConfigurationError(key: "notify.expiry-grace", message: "must be from 0 to 3600 seconds") }
        expiryGrace = .milliseconds(Int64(grace * 1000))
        backlogLimit = LiveStreams.BacklogLimit(
            events: reader.int(forKey: "notify.backlog-events", default: 1000), bytes: reader.int(forKey: "notify.backlog-bytes", default: 1 << 20))
        guard (1...1_000_000).contains(backlogLimit.events) else {
            throw ConfigurationError(key: "notify.backlog-events", message: "must be from 1 to 1000000")
        }
        guard (1024...(1 << 30)).contains(backlogLimit.bytes) else {
            throw ConfigurationError(key: "notify.backlog-bytes", message: "must be from 1024 to 1073741824")
        }
    }
}
