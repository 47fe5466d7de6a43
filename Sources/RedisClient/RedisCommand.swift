public import NIOCore

/// A value that can be sent as one binary-safe argument of a Redis command.
public protocol RedisArgument: Sendable {
    /// Appends the argument's bytes as they go on the wire.
    func appendRedisBytes(to bytes: inout [UInt8])
}

extension String: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: utf8) }
}

extension Substring: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: utf8) }
}

extension Int: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: String(self).utf8) }
}

extension Int64: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: String(self).utf8) }
}

extension Double: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: String(self).utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: self) }
}

extension ByteBuffer: RedisArgument {
    public func appendRedisBytes(to bytes: inout [UInt8]) { bytes.append(contentsOf: readableBytesView) }
}

/// One command and its arguments, e.g. `RedisCommand("SET", key, value, "EX", 60)`.
///
/// The arguments are kept in one contiguous byte array with their lengths, which is the shape
/// hiredis' argv formatter wants and costs one allocation however many arguments there are.
public struct RedisCommand: Sendable, Hashable {
    private(set) var storage: [UInt8] = []
    private(set) var lengths: [Int] = []

    /// A command from its name and arguments.
    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments)
    }

    /// A command from its name and a list of arguments built at run time.
    public init(_ name: String, _ arguments: [any RedisArgument]) {
        lengths.reserveCapacity(arguments.count + 1)
        append(name)
        for argument in arguments { append(argument) }
    }

    /// Adds one argument at the end.
    public mutating func append(_ argument: some RedisArgument) {
        let before = storage.count
        argument.appendRedisBytes(to: &storage)
        lengths.append(storage.count - before)
    }

    /// The command's name, for logs (arguments are never logged: they may hold secrets).
    var name: String {
        String(decoding: storage.prefix(lengths.first ?? 0), as: UTF8.self)
    }
}
