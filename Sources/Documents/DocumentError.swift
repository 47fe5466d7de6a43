/// What docsd refuses, in its own words; ``DocumentError+HTTP`` says once which answer each is.
enum DocumentError: Error, Equatable {
    /// A member of the request breaks a rule: which one, and the rule.
    case invalidField(field: String, message: String)
    /// No document of the caller's (or shared with them) has this id, or no such version or link.
    case notFound(String)
    /// `If-Match` named another version than the document's: the version it is at now.
    case stale(current: Int)
    /// A change without `If-Match`.
    case versionRequired
    /// The caller's plan keeps this many documents, and they have them.
    case limitReached(limit: Int)
    /// Shared with the caller to read only.
    case readOnly
    /// The document is in the trash: restore it to change or share it.
    case inTrash
    /// PostgreSQL (or subscribed, for the plan's limit) cannot be reached: nothing was changed.
    case unavailable(String)
}
