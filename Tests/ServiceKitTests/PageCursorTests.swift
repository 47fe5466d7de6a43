import ServiceKit
import Testing

@Suite struct PageCursorTests {
    static let id = "0b7c4d2e-8f1a-4c3b-9d5e-6a7b8c9d0e1f"

    /// What the API document's pattern for `after` says: 1 to 17 digits, a dot, a lower-case UUID.
    @Test(arguments: ["0", "1796640186029000", "99999999999999999"])
    func aPagesNextIsACursor(micros: String) {
        #expect(PageCursor("\(micros).\(Self.id)")?.text == "\(micros).\(Self.id)")
    }

    @Test(arguments: ["+1796640186029000", "-1", "100000000000000000", "", "1e5", "１２"])
    func anythingElseIsNone(micros: String) {
        #expect(PageCursor("\(micros).\(Self.id)") == nil)
    }

    @Test func theIdIsAUUID() {
        #expect(PageCursor("1.\(Self.id.uppercased())") == nil)
        #expect(PageCursor("1.x") == nil)
    }
}

@Suite struct PageLimitTests {
    @Test func aLimitIsDigitsInItsRange() throws {
        #expect(try pageLimit("25", in: 1...100, default: 20) == 25)
        #expect(try pageLimit(nil, in: 1...100, default: 20) == 20)
        for text in ["+5", "-5", "0", "101", "5.0", " 5"] {
            #expect(throws: APIError.self, "\(text)") { try pageLimit(text, in: 1...100, default: 20) }
        }
    }
}
