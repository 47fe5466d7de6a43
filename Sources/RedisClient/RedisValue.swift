public import NIOCore

/// One RESP2 reply from the server.
///
/// `nil` bulk strings and `nil` arrays (which RESP2 distinguishes on the wire but hiredis does not)
/// both arrive as `.bulkString(nil)`.
public enum RedisValue: Sendable, Hashable {
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply; single commands throw it as ``RedisError`` instead of returning it.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A binary-safe bulk string, or `nil` for a missing value.
    case bulkString(ByteBuffer?)
    /// A multi-bulk reply.
    case array([RedisValue])

    /// The value as UTF-8 text, for simple and bulk strings and integers; `nil` otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let buffer?): String(buffer: buffer)
        case .integer(let number): String(number)
        default: nil
        }
    }

    /// The value as an integer, for integer replies and bulk strings holding a decimal number.
    public var int: Int? {
        switch self {
        case .integer(let number): Int(exactly: number)
        case .bulkString(let buffer?): Int(String(buffer: buffer))
        default: nil
        }
    }

    /// The bytes of a bulk or simple string; `nil` otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let buffer?): Array(buffer.readableBytesView)
        case .simpleString(let text): Array(text.utf8)
        default: nil
        }
    }

    /// The buffer of a bulk string; `nil` for a missing value or another kind of reply.
    public var buffer: ByteBuffer? {
        if case .bulkString(let buffer) = self { buffer } else { nil }
    }

    /// The elements of an array reply; `nil` otherwise.
    public var array: [RedisValue]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    /// Whether this is the `nil` reply (a missing key, a timed-out blocking pop, ...).
    public var isNil: Bool {
        if case .bulkString(nil) = self { true } else { false }
    }
}
