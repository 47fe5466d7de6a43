#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes to the process's standard error without ever stopping the process for it.
///
/// Foundation's `FileHandle.write` traps when the write fails (EPIPE once a log reader went away,
/// EAGAIN on a full non-blocking pipe), and a write to a closed pipe raises SIGPIPE, which kills
/// the process: a daemon must outlive its log reader. So SIGPIPE is ignored process-wide and a line
/// that cannot be written is dropped.
public enum StandardError {
    /// Ignores SIGPIPE for the whole process; call once at start, before anything writes. Sockets
    /// are unaffected: their writes then fail with EPIPE, which every client here already handles.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes the whole line with `write(2)`, retrying after a signal; drops the rest on any error.
    public static func emit(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
