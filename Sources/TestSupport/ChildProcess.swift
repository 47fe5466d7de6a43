import Foundation

/// Runs a command to its end without blocking a thread of the Swift task pool.
///
/// The pool has one thread per core (two here): a test that sat in `waitUntilExit` would stall
/// every other test's async work, timers included, and make time bounds fail for no reason.
public enum ChildProcess {
    public struct Outcome: Sendable {
        public let status: Int32
        /// Standard output and standard error, interleaved.
        public let output: String
    }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> Outcome {
        // Output goes to a file, not a pipe: a pipe would be read until every holder closes it,
        // and a server the command starts in the background may hold it for its whole life.
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = output
        process.standardError = output
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try output.close()
        return Outcome(status: status, output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}
