/// How log lines are written: one JSON object per line (production) or plain text (a terminal).
public enum LogFormat: String, Sendable {
    case json
    case text
}
