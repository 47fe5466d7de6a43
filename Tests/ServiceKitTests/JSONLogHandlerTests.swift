import Foundation
import Logging
import ServiceKit
import Synchronization
import Testing

@Suite struct JSONLogHandlerTests {
    @Test func eachLineIsOneJSONObjectWithMetadata() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "authd") { label in JSONLogHandler(label: label, level: .info) { line in lines.withLock { $0.append(line) } } }
        logger[metadataKey: "request_id"] = "r-1"
        logger.info("login failed", metadata: ["reason": "quote \" and\nnewline"])
        logger.debug("below the level")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "info")
        #expect(object["logger"] == "authd")
        #expect(object["msg"] == "login failed")
        #expect(object["request_id"] == "r-1")
        #expect(object["reason"] == "quote \" and\nnewline")
        #expect(object["ts"]?.hasSuffix("Z") == true)
    }
}
