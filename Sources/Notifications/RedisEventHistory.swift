import Contracts
import Logging
import RedisClient

/// The users' histories in Redis: a stream per user (`notify:events:<user>`) capped by count and
/// age; the newest entry dropped from it and the newest ever added (`notify:dropped:<user>`,
/// `notify:newest:<user>`), which decide whether a client missed something; the ids of the events
/// it keeps (`notify:seen:<event id>`, so a duplicate is stored once); and the epoch
/// (`notify:epoch`), made anew when Redis lost it. Each script runs whole, so an
/// append, its de-duplication and its wake-up are one step, and a read sees one state.
struct RedisEventHistory: EventHistory {
    let redis: RedisClient
    /// Events kept per user.
    let capacity: Int
    /// How long an event is kept, in seconds.
    let keepSeconds: Int

    static let epochKey = "notify:epoch"
    /// Carries `<user id> <bytes>` after each new event of a user (the size of its JSON): every
    /// instance wakes that user's streams, and counts the bytes into their backlogs.
    static let wakeChannel = "notify:wake"

    static func streamKey(_ userID: String) -> String { "notify:events:" + userID }
    static func seenKey(_ eventID: String) -> String { "notify:seen:" + eventID }
    /// The newest entry dropped from the user's history (for count or age, or with the whole
    /// stream when it expired): a client before it missed an event. (Redis 7.0's
    /// `max-deleted-entry-id` counts XDEL only, not trimming.)
    static func droppedKey(_ userID: String) -> String { "notify:dropped:" + userID }
    /// The newest entry ever added to the user's history: what an expired stream held last.
    static func newestKey(_ userID: String) -> String { "notify:newest:" + userID }
    /// How far the user has seen their events: a position (`<epoch>-<entry id>`).
    static func readKey(_ userID: String) -> String { "notify:read:" + userID }

    /// How long what decides a reset (the dropped and newest entries) is remembered: 30 times the
    /// history's keep time. A client away longer, from a user with no event since, is reset.
    var markerSeconds: Int { keepSeconds * 30 }

    /// Redis' clock in milliseconds, which also stamps the entries (`TIME` in a script is allowed
    /// since Redis 5's effect replication); the epoch, made when missing; the newest entry, or for
    /// an empty history a position just before now (any later entry comes after it).
    private static let prelude = """
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function epoch_of(key)
          local epoch = redis.call('GET', key)
          if not epoch then
            -- Redis' clock in microseconds, in hex: a new epoch each time the history is lost.
            local t = redis.call('TIME')
            epoch = string.format('%x', tonumber(t[1]) * 1000000 + tonumber(t[2]))
            redis.call('SET', key, epoch)
          end
          return epoch
        end
        local function newest_or_start(stream)
          local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
          if #last == 0 then return string.format('%.0f', now_ms() - 1) .. '-18446744073709551615' end
          return last[1][1]
        end
        local function parts(id)
          local ms, seq = string.match(id, '^(%d+)-(%d+)$')
          return tonumber(ms), tonumber(seq)
        end
        local function before(a, b)
          local a_ms, a_seq = parts(a)
          local b_ms, b_seq = parts(b)
          return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
        end
        """

    /// KEYS: epoch, stream, seen, dropped, newest. ARGV: the event's JSON, capacity, keep seconds,
    /// the wake channel, the user id, marker seconds. Answers {epoch, entry
    /// id, 1 when a duplicate}. What the cap and the age drop is a run of the oldest entries (or,
    /// when the stream expired, all it held): the newest of them is kept in the dropped key first.
    private static let appendScript = RedisScript(
        prelude + "\n" + """
            local epoch = epoch_of(KEYS[1])
            local seen = redis.call('GET', KEYS[3])
            if seen then return {epoch, seen, 1} end
            local oldest = string.format('%.0f', now_ms() - tonumber(ARGV[3]) * 1000)
            local dropped = nil
            local function drop(id)
              if not dropped or before(dropped, id) then dropped = id end
            end
            if redis.call('EXISTS', KEYS[2]) == 0 then
              local expired = redis.call('GET', KEYS[5])
              if expired then drop(expired) end
            end
            local over = redis.call('XLEN', KEYS[2]) + 1 - tonumber(ARGV[2])
            if over > 0 then
              local gone = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', over)
              drop(gone[#gone][1])
            end
            local aged = redis.call('XREVRANGE', KEYS[2], '(' .. oldest .. '-0', '-', 'COUNT', 1)
            if #aged > 0 then drop(aged[1][1]) end
            if dropped then redis.call('SET', KEYS[4], dropped, 'EX', ARGV[6]) end
            local id = redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], '*', 'e', ARGV[1])
            redis.call('XTRIM', KEYS[2], 'MINID', oldest)
            redis.call('EXPIRE', KEYS[2], ARGV[3])
            redis.call('SET', KEYS[5], id, 'EX', ARGV[6])
            redis.call('EXPIRE', KEYS[4], ARGV[6])
            redis.call('SET', KEYS[3], id, 'EX', ARGV[3])
            redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. #ARGV[1])
            return {epoch, id, 0}
            """)

    /// KEYS: epoch, stream, dropped, newest. ARGV: the entry id after which to read ('' for the
    /// oldest kept), its epoch, count, keep seconds. Answers {'events', epoch,
    /// entries} or {'reset', epoch, newest entry id or a start}: for a position of another epoch,
    /// one ahead of the clock, one before an entry dropped, one before the last entry of an expired
    /// stream, or, with nothing remembered of the user, one older than the keep time.
    private static let readScript = RedisScript(
        prelude + "\n" + """
            local epoch = epoch_of(KEYS[1])
            if ARGV[1] == '' then
              return {'events', epoch, redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[3])}
            end
            local now = now_ms()
            local after_ms = parts(ARGV[1])
            local lost = ARGV[2] ~= epoch or after_ms > now
            if not lost then
              local dropped = redis.call('GET', KEYS[3])
              lost = dropped and before(ARGV[1], dropped)
            end
            if not lost and redis.call('EXISTS', KEYS[2]) == 0 then
              local newest = redis.call('GET', KEYS[4])
              if newest then
                lost = before(ARGV[1], newest)
              else
                lost = after_ms < now - tonumber(ARGV[4]) * 1000
              end
            end
            if lost then return {'reset', epoch, newest_or_start(KEYS[2])} end
            return {'events', epoch, redis.call('XRANGE', KEYS[2], '(' .. ARGV[1], '+', 'COUNT', ARGV[3])}
            """)

    /// KEYS: epoch, stream, read. ARGV: the entry id seen up to, its epoch, marker seconds.
    /// Answers {'marked', epoch, entry id seen up to, unseen count} or {'unknown'} for a position
    /// of another epoch or ahead of the newest entry. A mark from another epoch counts as none.
    private static let markReadScript = RedisScript(
        prelude + "\n" + """
            local epoch = epoch_of(KEYS[1])
            local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
            if ARGV[2] ~= epoch or #newest == 0 or before(newest[1][1], ARGV[1]) then return {'unknown'} end
            local mark = ARGV[1]
            local stored = redis.call('GET', KEYS[3])
            if stored then
              local stored_epoch, stored_id = string.match(stored, '^([^-]+)-(.+)$')
              if stored_epoch == epoch and before(ARGV[1], stored_id) then mark = stored_id end
            end
            redis.call('SET', KEYS[3], epoch .. '-' .. mark, 'EX', ARGV[3])
            return {'marked', epoch, mark, #redis.call('XRANGE', KEYS[2], '(' .. mark, '+')}
            """)

    /// KEYS: epoch, stream. Answers {epoch, newest entry id or a start}.
    private static let latestScript = RedisScript(
        prelude + "\n" + """
            return {epoch_of(KEYS[1]), newest_or_start(KEYS[2])}
            """)

    func append(_ event: UserEvent) async throws -> (position: EventPosition, duplicate: Bool) {
        let answer = try await redis.evaluate(
            Self.appendScript,
            keys: [Self.epochKey, Self.streamKey(event.userID), Self.seenKey(event.id), Self.droppedKey(event.userID), Self.newestKey(event.userID)],
            arguments: [try event.encoded(), capacity, keepSeconds, Self.wakeChannel, event.userID, markerSeconds])
        guard let parts = answer.array, parts.count == 3, let epoch = parts[0].string, let entry = parts[1].string,
            let position = EventPosition(epoch: epoch, entryID: entry)
        else { throw HistoryUnreadable(answer: "\(answer)") }
        return (position, parts[2].int == 1)
    }

    func events(of userID: String, after position: EventPosition?, limit: Int) async throws -> HistoryPage {
        let answer = try await redis.evaluate(
            Self.readScript, keys: [Self.epochKey, Self.streamKey(userID), Self.droppedKey(userID), Self.newestKey(userID)],
            arguments: [position?.entryID ?? "", position?.epoch ?? "", limit, keepSeconds])
        guard let parts = answer.array, parts.count == 3, let kind = parts[0].string, let epoch = parts[1].string else {
            throw HistoryUnreadable(answer: "\(answer)")
        }
        if kind == "reset" {
            guard let from = parts[2].string.flatMap({ EventPosition(epoch: epoch, entryID: $0) }) else { throw HistoryUnreadable(answer: "\(answer)") }
            return .reset(from: from)
        }
        return .events(try (parts[2].array ?? []).map { try Self.storedEvent($0, epoch: epoch) })
    }

    func latest(of userID: String) async throws -> EventPosition {
        let answer = try await redis.evaluate(Self.latestScript, keys: [Self.epochKey, Self.streamKey(userID)])
        guard let parts = answer.array, parts.count == 2, let epoch = parts[0].string, let entry = parts[1].string,
            let position = EventPosition(epoch: epoch, entryID: entry)
        else { throw HistoryUnreadable(answer: "\(answer)") }
        return position
    }

    func markRead(of userID: String, upTo position: EventPosition) async throws -> ReadMark {
        let answer = try await redis.evaluate(
            Self.markReadScript, keys: [Self.epochKey, Self.streamKey(userID), Self.readKey(userID)],
            arguments: [position.entryID, position.epoch, markerSeconds])
        guard let parts = answer.array, let kind = parts.first?.string else { throw HistoryUnreadable(answer: "\(answer)") }
        if kind == "unknown" { return .unknown }
        guard parts.count == 4, let epoch = parts[1].string, let entry = parts[2].string, let mark = EventPosition(epoch: epoch, entryID: entry),
            let unseen = parts[3].int
        else { throw HistoryUnreadable(answer: "\(answer)") }
        return .marked(upTo: mark, unseen: unseen)
    }

    /// A stream entry (`[id, ["e", json]]`) as the event it keeps.
    private static func storedEvent(_ entry: RedisValue, epoch: String) throws -> StoredEvent {
        guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let position = EventPosition(epoch: epoch, entryID: id),
            let fields = parts[1].array, fields.count == 2, let body = fields[1].bytes
        else { throw HistoryUnreadable(answer: "\(entry)") }
        return StoredEvent(position: position, event: try UserEvent.decode(body))
    }

    struct HistoryUnreadable: Error, CustomStringConvertible {
        let answer: String
        var description: String { "the event history answered in an unknown shape: \(answer.prefix(200))" }
    }
}
