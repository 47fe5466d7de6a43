internal import CHiredis
import NIOCore

/// Encodes commands as RESP with hiredis' argv formatter.
enum CommandEncoder {
    /// Appends `command`, encoded, to `buffer`.
    static func encode(_ command: RedisCommand, into buffer: inout ByteBuffer) throws(RedisError) {
        let lengths = command.lengths
        guard !lengths.isEmpty, !command.storage.isEmpty else {
            throw RedisError(.invalidCommand, "a command needs a non-empty name")
        }
        let encoded: Int32 = command.storage.withUnsafeBytes { storage in
            var argv: [UnsafePointer<CChar>?] = []
            argv.reserveCapacity(lengths.count)
            var offset = 0
            for length in lengths {
                argv.append((storage.baseAddress! + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            var target: UnsafeMutablePointer<CChar>?
            let count = redisFormatCommandArgv(&target, Int32(lengths.count), &argv, lengths)
            guard count >= 0, let target else { return -1 }
            defer { redisFreeCommand(target) }
            buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(count)))
            return count
        }
        guard encoded >= 0 else {
            throw RedisError(.invalidCommand, "could not encode the \(command.name) command")
        }
    }
}
