import Foundation

/// What a new password must be: 10 to 1024 bytes, not one of the most common passwords, not the
/// email address, and not one character repeated (NIST SP 800-63B: length and a blocklist, no
/// composition rules).
enum PasswordPolicy {
    static let minimumLength = 10
    static let maximumBytes = 1024

    /// Why `password` is refused, or nil when it is acceptable. `field` is the request member that
    /// carried it.
    static func refusal(of password: String, email: String, field: String) -> AccountError? {
        func weak(_ message: String) -> AccountError { .weakPassword(message, field: field) }
        if password.count < minimumLength { return weak("the password must be at least \(minimumLength) characters") }
        if password.utf8.count > maximumBytes { return .passwordTooLong(field: field) }
        let lowered = password.lowercased()
        if CommonPasswords.list.contains(lowered) { return weak("the password is one of the most common passwords") }
        if Set(lowered).count == 1 { return weak("the password repeats one character") }
        let normalized = Email.normalize(email)
        if lowered == normalized || lowered == normalized.split(separator: "@").first.map(String.init) {
            return weak("the password must not be the email address")
        }
        return nil
    }
}

/// Email addresses: the normalized form is the account key.
enum Email {
    static func normalize(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces, at most 254
    /// bytes. Deliverability is not checked here.
    static func isPlausible(_ normalized: String) -> Bool {
        let parts = normalized.split(separator: "@", omittingEmptySubsequences: false)
        guard normalized.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !normalized.contains(where: \.isWhitespace)
        else { return false }
        return true
    }
}
