/// Telegram takes at most 4096 characters a message (counted in UTF-16 code units): a longer text
/// goes as ordered parts, cut at the last paragraph break that fits, else the last line break,
/// else the last space, else anywhere (never inside a character).
enum MessageSplitter {
    static let limit = 4096

    static func parts(of text: String, limit: Int = limit) -> [String] {
        var parts: [String] = []
        var rest = Substring(text)
        while rest.utf16.count > limit {
            let window = prefix(of: rest, utf16Count: limit)
            let cut =
                window.range(of: "\n\n", options: .backwards).map(\.lowerBound)
                ?? window.lastIndex(of: "\n") ?? window.lastIndex(of: " ")
            var end = cut.flatMap { $0 > window.startIndex ? $0 : nil } ?? window.endIndex
            // One character longer than the limit (a letter with thousands of combining marks):
            // cut it between its scalars rather than never.
            if end == rest.startIndex { end = scalarCut(of: rest, utf16Count: limit) }
            parts.append(String(rest[..<end]))
            rest = rest[end...].drop { $0 == "\n" || $0 == " " }
        }
        if !rest.isEmpty || parts.isEmpty { parts.append(String(rest)) }
        return parts.filter { !$0.isEmpty }
    }

    /// The end of the longest run of whole Unicode scalars within `utf16Count` code units.
    private static func scalarCut(of text: Substring, utf16Count: Int) -> String.Index {
        var count = 0
        var end = text.unicodeScalars.startIndex
        for scalar in text.unicodeScalars {
            count += scalar.utf16.count
            if count > utf16Count { break }
            end = text.unicodeScalars.index(after: end)
        }
        return end
    }

    /// The longest prefix of whole characters within `utf16Count` code units.
    private static func prefix(of text: Substring, utf16Count: Int) -> Substring {
        var count = 0
        var end = text.startIndex
        for character in text {
            count += character.utf16.count
            if count > utf16Count { break }
            end = text.index(after: end)
        }
        return text[..<end]
    }
}
