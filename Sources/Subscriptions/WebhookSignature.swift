import Cryptography
import Foundation
import ServiceKit

/// The payment provider's signature over a webhook delivery, the way the big providers sign:
/// header `Billing-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under a shared
/// secret. A delivery is accepted only within `tolerance` seconds of its time (a captured delivery
/// cannot be replayed later), and the tags are compared in constant time.
struct WebhookSignature: Sendable {
    static let header = "Billing-Signature"
    let secret: [UInt8]
    var tolerance: TimeInterval = 300

    /// The header value for `body` sent at `time`: what the test provider sends, and the tests.
    func sign(_ body: [UInt8], at time: Date) throws -> String {
        let timestamp = String(Int(time.timeIntervalSince1970))
        return "t=\(timestamp),v1=\(Hex.encode(try HMACSHA256.authenticationCode(for: Array("\(timestamp).".utf8) + body, key: secret)))"
    }

    /// Accepts a delivery whose header signs `body` within the tolerance of `now`.
    /// - Throws: 400 `invalid_signature_header`, 401 `stale_signature` or 401 `invalid_signature`.
    func verify(header: String?, body: [UInt8], now: Date = Date()) throws {
        guard let header else {
            throw APIError.badRequest(code: "invalid_signature_header", "the \(Self.header) header is missing")
        }
        var timestamp: String?
        var tags: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            switch pair[0].trimmingCharacters(in: .whitespaces) {
            case "t": timestamp = String(pair[1])
            case "v1": tags.append(String(pair[1]))
            default: continue
            }
        }
        guard let timestamp, !timestamp.isEmpty, timestamp.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), !tags.isEmpty else {
            throw APIError.badRequest(code: "invalid_signature_header", "\(Self.header) must be t=<unix time>,v1=<hex HMAC-SHA256>")
        }
        // A time of more digits than an Int holds is well formed, and far from now.
        guard let seconds = Int(timestamp), abs(now.timeIntervalSince1970 - Double(seconds)) <= tolerance else {
            throw APIError(.unauthorized, code: "stale_signature", message: "the delivery was signed more than \(Int(tolerance)) s from now")
        }
        let expected = Hex.encode(try HMACSHA256.authenticationCode(for: Array("\(timestamp).".utf8) + body, key: secret))
        // Every tag is compared, in constant time, whatever matched before it.
        let matched = tags.reduce(false) { found, tag in ConstantTime.equals(Array(tag.utf8), Array(expected.utf8)) || found }
        guard matched else { throw APIError(.unauthorized, code: "invalid_signature", message: "the signature does not match the body") }
    }
}
