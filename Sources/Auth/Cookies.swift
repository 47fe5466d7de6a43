/// Reads cookies from a `Cookie` header.
enum Cookies {
    /// The values of `names` (in their order, nil for an absent one), in one pass over the header;
    /// nil when any of them comes more than once. A sibling subdomain can set a second cookie of the
    /// same name (its own Path and Domain), and which copy a server reads is then the attacker's
    /// choice: such a request is refused.
    static func values(named names: [String], in header: String) -> [Substring?]? {
        // On UTF-8 bytes: this runs on every cookie-authenticated subrequest, and splitting the
        // header as Characters (grapheme breaking) costs more than the rest of a cached answer.
        let bytes = header.utf8
        let wanted = names.map { Array($0.utf8) }
        var found = [Substring?](repeating: nil, count: names.count)
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
            var nameStart = start
            while nameStart < end, bytes[nameStart] == UInt8(ascii: " ") { nameStart = bytes.index(after: nameStart) }
            if let equals = bytes[nameStart..<end].firstIndex(of: UInt8(ascii: "=")),
                let index = wanted.firstIndex(where: { bytes[nameStart..<equals].elementsEqual($0) })
            {
                guard found[index] == nil else { return nil }
                found[index] = Substring(bytes[bytes.index(after: equals)..<end])
            }
            start = end == bytes.endIndex ? end : bytes.index(after: end)
        }
        return found
    }
}
