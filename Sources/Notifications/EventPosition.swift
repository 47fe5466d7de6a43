import ServiceKit

/// Where an event stands in its user's history, and the id a client resumes from (SSE's
/// `Last-Event-ID`, `?after=`): `<epoch>-<milliseconds>-<sequence>`. The epoch changes whenever
/// the history was lost (Redis flushed or restored from an older copy), so that an id from before
/// can never be taken for a position in the history of now.
struct EventPosition: Sendable, Hashable, CustomStringConvertible {
    let epoch: String
    /// The entry's id in the user's Redis stream: milliseconds, then a sequence within them.
    let milliseconds: UInt64
    let sequence: UInt64

    init(epoch: String, milliseconds: UInt64, sequence: UInt64) {
        self.epoch = epoch
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// A position from its text; nil for anything that is not one.
    init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, Self.isEpoch(parts[0]), let milliseconds = Identifiers.decimal(parts[1], as: UInt64.self),
            let sequence = Identifiers.decimal(parts[2], as: UInt64.self)
        else { return nil }
        self.init(epoch: String(parts[0]), milliseconds: milliseconds, sequence: sequence)
    }

    /// A position in `epoch` from a Redis stream entry id (`<ms>-<seq>`).
    init?(epoch: String, entryID: some StringProtocol) {
        let parts = entryID.split(separator: "-")
        guard parts.count == 2, let milliseconds = UInt64(parts[0]), let sequence = UInt64(parts[1]) else { return nil }
        self.init(epoch: epoch, milliseconds: milliseconds, sequence: sequence)
    }

    var entryID: String { "\(milliseconds)-\(sequence)" }
    var description: String { "\(epoch)-\(entryID)" }

    /// Whether this entry comes before `other`'s in a history (their epochs are not compared).
    func precedes(_ other: EventPosition) -> Bool {
        (milliseconds, sequence) < (other.milliseconds, other.sequence)
    }

    /// 1 to 32 letters or digits: what ``RedisEventHistory`` makes, and never a dash.
    static func isEpoch(_ text: some StringProtocol) -> Bool {
        (1...32).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            }
    }
}
