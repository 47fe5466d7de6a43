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

    @Test func backoffDoublesAndIsCapped() {
        let configuration = RedisConfiguration(initialReconnectDelay: .milliseconds(50), maximumReconnectDelay: .seconds(1))
        let first = ConnectionManager.backoff(attempt: 0, configuration: configuration)
        let second = ConnectionManager.backoff(attempt: 1, configuration: configuration)
        #expect(first <= .milliseconds(50) && first >= .milliseconds(40))
        #expect(second <= .milliseconds(100) && second >= .milliseconds(80))
        for attempt in [5, 10, 63, 1000] {
            let delay = ConnectionManager.backoff(attempt: attempt, configuration: configuration)
            #expect(delay <= .seconds(1) && delay >= .milliseconds(800))
        }
    }

    @Test func commandEncodingIsRESP() throws {
        var buffer = ByteBuffer()
        try CommandEncoder.encode(RedisCommand("SET", "k", [0, 13] as [UInt8]), into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\u{0}\r\r\n")
    }
}
