import Synchronization

/// The prompt templates that tasks were accepted with, read from the store once each. A version's
/// text never changes (new wording is a new version, sql/006, so that every generation names the
/// text that made it), so a kept one is never stale; there are a few per function.
final class TemplateVersions: Sendable {
    private let kept = Mutex<[String: PromptTemplate]>([:])

    /// `function`'s template `version`: the kept one, or else what `read` finds (kept when found).
    func template(for function: String, version: Int, read: () async throws -> PromptTemplate?) async throws -> PromptTemplate? {
        let key = "\(function) \(version)"
        if let template = kept.withLock({ $0[key] }) { return template }
        let found = try await read()
        if let found { kept.withLock { $0[key] = found } }
        return found
    }
}
