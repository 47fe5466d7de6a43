import Foundation
import Synchronization

/// The generations answered in the request that this aid is serving now. Each row is leased in
/// PostgreSQL to this aid (`owner`) for `length`, and the lease is renewed while the generation
/// runs, however long its client takes to read it, up to `longest`; the sweep fails only rows whose
/// lease ran out, whose aid is gone, and never one its own aid serves.
final class GenerationLeases: Sendable {
    /// A row an aid from before leases wrote has none: it counts as leased for this long from its
    /// start, the age after which that aid's sweep took it for abandoned.
    static let unleased = Duration.seconds(600)

    /// This aid's id as the rows' `lease_owner`: one per process.
    let owner = UUID().uuidString.lowercased()
    /// How long a row stays this aid's without a renewal.
    let length: Duration
    /// How old a row may be and still be renewed: longer than any answer may take (`stream.limit`
    /// and `engine.budget`, with a margin for nginx's `send_timeout`, which cuts a reader that
    /// stopped reading). A generation stuck past it is left to the sweep.
    let longest: Duration
    private let held = Mutex(Set<String>())

    init(length: Duration, longest: Duration) {
        self.length = length
        self.longest = longest
    }

    /// How often the leases are renewed: three times a lease, so that one late renewal loses nothing.
    var renewal: Duration { length / 3 }

    /// The ids of the generations being served now.
    var ids: [String] { held.withLock { Array($0) } }

    func hold(_ id: String) { held.withLock { _ = $0.insert(id) } }

    /// The generation's ending is written: its row is no longer renewed.
    func release(_ id: String) { held.withLock { _ = $0.remove(id) } }
}
