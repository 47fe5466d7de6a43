import Testing

@testable import Bots

@Suite struct MessageSplitterTests {
    @Test func aLongAnswerGoesAsOrderedPartsCutAtParagraphs() {
        let paragraphs = (1...40).map { "Paragraph \($0): " + String(repeating: "word ", count: 48) }
        let text = paragraphs.joined(separator: "\n\n")
        #expect(text.count > 10_000)
        let parts = MessageSplitter.parts(of: text)
        #expect(parts.count == 3)
        #expect(parts.allSatisfy { $0.utf16.count <= 4096 })
        // Every part ends where a paragraph ends, and together they are the text.
        #expect(parts.dropLast().allSatisfy { $0.hasSuffix(" ") || $0.last?.isLetter == true })
        #expect(parts.joined(separator: "\n\n") == text)
    }

    @Test func withoutBreaksItCutsBetweenCharactersNeverInside() {
        let text = String(repeating: "ж", count: 5000) + String(repeating: "🙂", count: 100)
        let parts = MessageSplitter.parts(of: text)
        #expect(parts.allSatisfy { $0.utf16.count <= 4096 })
        #expect(parts.joined() == text)
        #expect(MessageSplitter.parts(of: "short") == ["short"])
    }

    @Test func oneCharacterLongerThanAMessageIsCutBetweenItsScalars() {
        let text = "a" + String(repeating: "\u{301}", count: 5000) + " end"
        #expect(text.count == 5)
        let parts = MessageSplitter.parts(of: text)
        #expect(parts.count == 2)
        #expect(parts.allSatisfy { $0.utf16.count <= 4096 })
        #expect(parts.joined().unicodeScalars.count == text.unicodeScalars.count)
    }
}
