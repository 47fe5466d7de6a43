internal import CArgon2

/// Blocking Argon2id primitives over libargon2: call them from a thread pool, never an event loop.
enum Argon2id {
    static func hashEncoded(password: [UInt8], salt: [UInt8], parameters: Argon2idParameters) throws(PasswordHashingError) -> String {
        let encodedLength = argon2_encodedlen(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism,
            UInt32(salt.count), UInt32(parameters.hashLength), Argon2_id
        )
        var encoded = [CChar](repeating: 0, count: encodedLength)
        let status = argon2id_hash_encoded(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism,
            password, password.count, salt, salt.count, parameters.hashLength,
            &encoded, encodedLength
        )
        guard status == ARGON2_OK.rawValue else { throw .library(status) }
        return encoded.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// True when `password` matches; false for a wrong password or a malformed PHC string.
    static func verify(encoded: String, password: [UInt8]) -> Bool {
        encoded.withCString { argon2id_verify($0, password, password.count) == ARGON2_OK.rawValue }
    }

    static func message(for status: Int32) -> String {
        String(cString: argon2_error_message(status))
    }
}
