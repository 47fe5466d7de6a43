import Testing

@testable import Bots

@Suite struct TelegramUpdateTests {
    /// PostgreSQL keeps no NUL, and a refused update would come back from Telegram again and again.
    @Test func aNULInAnUpdatesTextIsKeptAsTheReplacementCharacter() throws {
        let body = #"{"update_id": 7, "message": {"chat": {"id": 5, "type": "private"}, "from": {"id": 9, "first_name": "A\u0000da"}, "text": "/start\u0000"}}"#
        let update = try TelegramUpdate.parse(Array(body.utf8))
        #expect(update.message?.from?.firstName == "A\u{FFFD}da")
        #expect(update.message?.text == "/start\u{FFFD}")
    }
}
