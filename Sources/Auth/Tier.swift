/// The tier contract with subscribed: Redis key ``SharedKeys/tier(userID:)`` holds the plan code;
/// none (or a malformed one) means `free`.
enum Tier {
    static let free = "free"

    static func parse(_ value: String?) -> String {
        guard let value, (1...32).contains(value.utf8.count),
            value.utf8.allSatisfy({
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
            })
        else { return free }
        return value
    }
}
