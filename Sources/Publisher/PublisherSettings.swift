/// Where and how events are published (CONVENTIONS.md §3).
public struct PublisherSettings: Codable, Sendable, Equatable {
    /// ZeroMQ endpoint the XPUB socket binds, e.g. "tcp://127.0.0.1:5556" ("tcp://127.0.0.1:*" picks a free port).
    public var endpoint: String = "tcp://127.0.0.1:5556"
    /// ZMQ_SNDHWM: messages queued per subscriber before sends are refused and counted as dropped.
    public var sendHighWaterMark: Int = 1000
    /// ZMQ_LINGER: how long closing may wait to flush queued messages, so stopping can never hang.
    public var lingerMilliseconds: Int = 1000
    public var heartbeatIntervalSeconds: Double = 5
    /// Status is sent on every material change and re-sent this often.
    public var statusIntervalSeconds: Double = 30
    /// With a secret key file (Z85, as `anomalyd keygen` writes it) the socket is a CURVE server: traffic is
    /// encrypted and subscribers (or a proxy's frontend) must know the matching public key.
    public var curveSecretKeyFile: String?

    public init() {}

    public func validate() throws {
        func check(_ ok: Bool, _ field: String, _ reason: String) throws {
            if !ok { throw PublisherError.invalidSetting(field: field, reason: reason) }
        }
        try check(endpoint.contains("://"), "endpoint", "must look like tcp://HOST:PORT or ipc://PATH, got '\(endpoint)'")
        // 0 would mean "no limit": a stalled subscriber would grow memory without bound instead of dropping.
        try check(sendHighWaterMark >= 1, "sendHighWaterMark", "must be at least 1, got \(sendHighWaterMark)")
        try check(lingerMilliseconds >= 0, "lingerMilliseconds",
                  "must be 0 or more (a negative linger waits forever), got \(lingerMilliseconds)")
        try check(heartbeatIntervalSeconds > 0, "heartbeatIntervalSeconds", "must be positive, got \(heartbeatIntervalSeconds)")
        try check(statusIntervalSeconds > 0, "statusIntervalSeconds", "must be positive, got \(statusIntervalSeconds)")
    }
}

public enum PublisherError: Error, Equatable, CustomStringConvertible {
    case invalidSetting(field: String, reason: String)
    case invalidPipelineName(String)
    case unknownPipeline(String, endpoint: String)
    case bindFailed(endpoint: String, reason: String)
    case connectFailed(endpoint: String, reason: String)
    case socketFailed(endpoint: String, operation: String, reason: String)
    case closed(endpoint: String)

    public var description: String {
        switch self {
        case .invalidSetting(let f, let r): return "invalid publisher setting \(f): \(r)"
        case .invalidPipelineName(let n): return "invalid pipeline name '\(n)': use lowercase letters, digits, '_' and '-'"
        case .unknownPipeline(let n, let e): return "pipeline '\(n)' is not registered with the publisher on \(e)"
        case .bindFailed(let e, let r): return "cannot bind the event publisher to \(e): \(r)"
        case .connectFailed(let e, let r): return "cannot connect to \(e): \(r)"
        case .socketFailed(let e, let op, let r): return "\(e): \(op) failed: \(r)"
        case .closed(let e): return "the event publisher on \(e) is closed"
        }
    }
}
