/// The tier contract: `billing:tier:<user id>` in Redis (``SharedKeys/tier(userID:)``) and the
/// gateway's `X-Tier` hold a plan code; none means free.
public enum Tier {
    /// The plan of every user without a live subscription; Redis holds no tier for them.
    public static let free = "free"

    /// A tier as read from Redis or a header: a plan code, or `free` for none or a malformed one.
    public static func parse(_ value: String?) -> String {
        guard let value, (1...32).contains(value.utf8.count),
            value.utf8.allSatisfy({
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
            })
        else { return free }
        return value
    }
}
