public import Foundation

/// A value bound to a `$n` parameter. Values travel apart from the SQL text, so they are never
/// parsed as SQL.
public enum PostgresValue: Sendable, Hashable {
    /// Text; its type is inferred by the server from context, so it also fills `uuid`, `timestamptz`,
    /// `jsonb` or `numeric` columns (`.text("2024-05-01T10:00:00Z")`).
    case text(String)
    /// An `int8`.
    case int(Int)
    /// A `float8`.
    case double(Double)
    case bool(Bool)
    /// A `bytea`, sent in binary format.
    case bytes([UInt8])
    case uuid(UUID)
    /// SQL NULL.
    case null
}

extension PostgresValue {
    /// Wraps an optional, sending NULL for `nil`.
    public static func text(_ value: String?) -> Self { value.map(Self.text) ?? .null }
    /// Wraps an optional, sending NULL for `nil`.
    public static func int(_ value: Int?) -> Self { value.map(Self.int) ?? .null }
    /// `value` encoded as JSON text, for a `$n::json` parameter (a batch of rows for
    /// `json_to_recordset`, say).
    public static func json(_ value: some Encodable) throws -> Self {
        .text(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))
    }
}

/// The parameters of one statement in the shape `PQsendQueryParams` takes, built from Swift values.
struct EncodedParameters {
    /// Type OIDs; 0 lets the server infer the type.
    var types: [UInt32] = []
    /// Every value's bytes back to back, text values NUL-terminated.
    var storage: [UInt8] = []
    /// Each value's start in `storage`, or nil for NULL.
    var offsets: [Int?] = []
    var lengths: [Int32] = []
    /// 0 text, 1 binary.
    var formats: [Int32] = []

    /// No parameters.
    static let none = EncodedParameters()

    private init() {}

    init(_ values: [PostgresValue]) throws(PostgresError) {
        for (index, value) in values.enumerated() {
            switch value {
            case .text(let string): try appendText(string, type: 0, index: index)
            case .int(let int): try appendText(String(int), type: 20, index: index)
            case .double(let double): try appendText(Self.text(of: double), type: 701, index: index)
            case .bool(let bool): try appendText(bool ? "t" : "f", type: 16, index: index)
            case .uuid(let uuid): try appendText(uuid.uuidString, type: 2950, index: index)
            case .bytes(let bytes):
                types.append(17)
                offsets.append(storage.count)
                storage.append(contentsOf: bytes)
                lengths.append(Int32(bytes.count))
                formats.append(1)
            case .null:
                types.append(0)
                offsets.append(nil)
                lengths.append(0)
                formats.append(0)
            }
        }
    }

    private mutating func appendText(_ text: String, type: UInt32, index: Int) throws(PostgresError) {
        let bytes = Array(text.utf8)
        // libpq reads text parameters up to the first NUL: refuse rather than silently truncate.
        guard !bytes.contains(0) else {
            throw PostgresError(code: .invalidArgument, message: "parameter $\(index + 1) contains a NUL byte")
        }
        types.append(type)
        offsets.append(storage.count)
        storage.append(contentsOf: bytes)
        storage.append(0)
        lengths.append(Int32(bytes.count))
        formats.append(0)
    }

    private static func text(of double: Double) -> String {
        if double.isNaN { return "NaN" }
        if double.isInfinite { return double < 0 ? "-Infinity" : "Infinity" }
        return "\(double)"
    }

    /// Calls `body` with C arrays that stay valid only during the call.
    func withUnsafeArrays<R>(
        _ body: (
            _ count: Int32, _ types: UnsafePointer<UInt32>?, _ values: UnsafePointer<UnsafePointer<CChar>?>?,
            _ lengths: UnsafePointer<Int32>?, _ formats: UnsafePointer<Int32>?
        ) -> R
    ) -> R {
        // Zero-length binary values still need a non-NULL pointer, or the server reads NULL.
        let bytes = storage.isEmpty ? [0] : storage
        return bytes.withUnsafeBufferPointer { storageBuffer in
            let base = UnsafeRawPointer(storageBuffer.baseAddress!)
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { (base + $0).assumingMemoryBound(to: CChar.self) }
            }
            return pointers.withUnsafeBufferPointer { valueBuffer in
                body(Int32(types.count), types, valueBuffer.baseAddress, lengths, formats)
            }
        }
    }
}
