/// Why a password could not be hashed. The description never contains the password.
public struct PasswordHashingError: Error, Equatable, CustomStringConvertible {
    enum Code: Equatable {
        case library(Int32)
        case tooLong(limit: Int)
        case shutDown
        case busy
    }

    let code: Code

    static func library(_ status: Int32) -> Self { Self(code: .library(status)) }
    static func tooLong(limit: Int) -> Self { Self(code: .tooLong(limit: limit)) }
    static let shutDown = Self(code: .shutDown)
    /// The hashing queue is full: retry shortly.
    public static let busy = Self(code: .busy)

    public var description: String {
        switch code {
        case .library(let status): "argon2 failed: \(Argon2id.message(for: status))"
        case .tooLong(let limit): "password longer than \(limit) bytes"
        case .shutDown: "password hasher is shut down"
        case .busy: "too many password hashes waiting"
        }
    }
}
