/// ZeroMQ topics `anomaly/<pipeline>/<kind>` (CONVENTIONS.md §3). Subscribers match by prefix, so they subscribe
/// to `anomaly/<pipeline>/` with the trailing slash: `line3` must never match `line30`.
public enum TopicKind: String, Sendable, CaseIterable {
    case event, status, heartbeat, model, score, feedback
}

public enum Topic {
    public static func name(pipeline: String, kind: TopicKind) -> String { "anomaly/\(pipeline)/\(kind.rawValue)" }
    public static func prefix(pipeline: String) -> String { "anomaly/\(pipeline)/" }

    /// Pipeline names are `[a-z0-9_-]+` so topics stay unambiguous.
    public static func isValidPipelineName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f || $0 == 0x2d }
    }
}
