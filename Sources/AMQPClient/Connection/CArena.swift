internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns C copies of Swift strings, bytes and tables for the length of one library call.
///
/// librabbitmq keeps raw pointers in `amqp_bytes_t` and tables; a pointer into a temporary Swift
/// string dangles (`amqp_cstring_bytes` on a Swift String is the known bug), so every value passed to
/// the library is copied here and freed when the arena goes away.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for allocation in allocations { free(allocation) }
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        bytes(Array(string.utf8))
    }

    func bytes(_ array: [UInt8]) -> amqp_bytes_t {
        guard !array.isEmpty, let memory = malloc(array.count) else { return amqp_bytes_t(len: 0, bytes: nil) }
        array.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        allocations.append(memory)
        return amqp_bytes_t(len: array.count, bytes: memory)
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let copy = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    /// A field value for a table.
    indirect enum Field {
        case string(String)
        case int64(Int64)
        case bool(Bool)
        case table([(String, Field)])
    }

    func table(_ fields: [(String, Field)]) -> amqp_table_t {
        guard !fields.isEmpty else { return amqp_empty_table }
        let size = MemoryLayout<amqp_table_entry_t>.stride * fields.count
        let memory = malloc(size)!
        allocations.append(memory)
        let entries = memory.bindMemory(to: amqp_table_entry_t.self, capacity: fields.count)
        for (index, (key, field)) in fields.enumerated() {
            var value = amqp_field_value_t()
            switch field {
            case .string(let text):
                value.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
                value.value.bytes = bytes(text)
            case .int64(let number):
                value.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
                value.value.i64 = number
            case .bool(let flag):
                value.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
                value.value.boolean = flag ? 1 : 0
            case .table(let nested):
                value.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
                value.value.table = table(nested)
            }
            (entries + index).initialize(to: amqp_table_entry_t(key: bytes(key), value: value))
        }
        return amqp_table_t(num_entries: Int32(fields.count), entries: entries)
    }
}

// MARK: Reading C values into Swift values

extension amqp_bytes_t {
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }

    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }
}

extension amqp_table_t {
    /// The table's entries as text; nested tables and arrays are skipped.
    var stringValues: [String: String] {
        var result: [String: String] = [:]
        for index in 0..<Int(num_entries) {
            let entry = entries[index]
            let value = entry.value
            let text: String? =
                switch amqp_field_value_kind_t(UInt32(value.kind)) {
                case AMQP_FIELD_KIND_UTF8, AMQP_FIELD_KIND_BYTES: value.value.bytes.string
                case AMQP_FIELD_KIND_I8: String(value.value.i8)
                case AMQP_FIELD_KIND_U8: String(value.value.u8)
                case AMQP_FIELD_KIND_I16: String(value.value.i16)
                case AMQP_FIELD_KIND_U16: String(value.value.u16)
                case AMQP_FIELD_KIND_I32: String(value.value.i32)
                case AMQP_FIELD_KIND_U32: String(value.value.u32)
                case AMQP_FIELD_KIND_I64, AMQP_FIELD_KIND_TIMESTAMP: String(value.value.i64)
                case AMQP_FIELD_KIND_U64: String(value.value.u64)
                case AMQP_FIELD_KIND_BOOLEAN: value.value.boolean != 0 ? "true" : "false"
                default: nil
                }
            if let text { result[entry.key.string] = text }
        }
        return result
    }
}

extension timeval {
    init(_ duration: Duration) {
        let microseconds = max(0, duration / .microseconds(1))
        self.init(tv_sec: .init(Int(microseconds) / 1_000_000), tv_usec: .init(Int(microseconds) % 1_000_000))
    }
}
