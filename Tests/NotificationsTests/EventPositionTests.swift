import Testing

@testable import Notifications

@Suite struct EventPositionTests {
    @Test func aPositionReadsBackFromItsText() throws {
        let position = EventPosition(epoch: "3f9a", milliseconds: 1_733_456_789_012, sequence: 3)
        #expect(position.description == "3f9a-1733456789012-3")
        #expect(EventPosition(position.description) == position)
        #expect(EventPosition(epoch: "3f9a", entryID: "1733456789012-3") == position)
    }

    @Test(arguments: ["", "abc", "3f9a-12", "3f9a-12-x", "3F9A-1-2", "3f9a-1-2-3", "-1-2", "3f9a--2", "a" + String(repeating: "b", count: 32) + "-1-2"])
    func anythingElseIsNoPosition(text: String) {
        #expect(EventPosition(text) == nil)
    }
}
