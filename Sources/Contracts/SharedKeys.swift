/// The Redis keys and channels that more than one service reads or writes, written once for all of
/// them and their tests (`scripts/redis-acl` gives each daemon its part of them).
public enum SharedKeys {
    /// `billing:tier:<user id>` holds the user's plan code: subscribed writes it, authd reads it
    /// (none, or a malformed one, means `free`).
    public static let tierPrefix = "billing:tier:"

    public static func tier(userID: some StringProtocol) -> String { tierPrefix + userID }

    /// `auth:blocked:<user id>` exists while the user is blocked: authd writes it (skillctl through
    /// authd's library), and every authd instance reads it.
    public static let blockedPrefix = "auth:blocked:"

    public static func blocked(userID: some StringProtocol) -> String { blockedPrefix + userID }

    /// `auth:revocations` carries `session <id>` (a session or API key was revoked) or `user <id>` (a
    /// user was blocked, unblocked, or changed scopes or tier). authd and subscribed publish on it;
    /// every authd instance drops its cached answers for what it names.
    public static let revocationChannel = "auth:revocations"
}
