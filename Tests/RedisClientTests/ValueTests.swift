import NIOCore
import Testing

@testable import RedisClient

@Suite("Values, errors and backoff without a server")
struct ValueTests {
    @Test func accessors() {
        #expect(RedisValue.bulkString(ByteBuffer(string: "42")).int == 42)
        #expect(RedisValue.bulkString(ByteBuffer(string: "x")).string == "x")
        #expect(RedisValue.integer(7).string == "7")
        #expect(RedisValue.simpleString("OK").bytes == Array("OK".utf8))
        #expect(RedisValue.bulkString(nil).isNil)
        #expect(RedisValue.bulkString(nil).string == nil)
        #expect(RedisValue.array([.integer(1)]).array == [.integer(1)])
        #expect(RedisValue.error("ERR x").string == nil)
    }

    @Test func errorDescriptionNamesTheCode() {
        let error = RedisError(.timeout, "no reply within 2.0 s")
        #expect(error.description == "Redis timeout: no reply within 2.0 s")
    }

    @Test func reconnectDelaysTakeUpToAFifthOffSoThatClientsDoNotReconnectInLockstep() {
        let delays = (0..<200).map { _ in ConnectionManager.jittered(.seconds(1)) }
        #expect(delays.allSatisfy { $0 <= .seconds(1) && $0 >= .milliseconds(800) })
        #expect(Set(delays.map(\.nanoseconds)).count > 1)
    }

    @Test func commandEncodingIsRESP() throws {
        var buffer = ByteBuffer()
        try CommandEncoder.encode(RedisCommand("SET", "k", [0, 13] as [UInt8]), into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\u{0}\r\r\n")
    }
}
