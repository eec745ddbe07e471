/// Where and how events are published (CONVENTIONS.md §3): the configuration's `publisher:` section. Absent keys
/// keep the defaults below; `firstInvalid` holds the ranges, which the configuration loader and the publisher enforce.
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

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoint, sendHighWaterMark = "send_high_water_mark", lingerMilliseconds = "linger_ms"
        case heartbeatIntervalSeconds = "heartbeat_s", statusIntervalSeconds = "status_s"
        case curveSecretKeyFile = "curve_secret_key_file"
    }

    /// The keys a configuration file may set: the linger only bounds how long stopping waits.
    public static let configKeys = CodingKeys.allCases.filter { $0 != .lingerMilliseconds }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint) ?? endpoint
        sendHighWaterMark = try c.decodeIfPresent(Int.self, forKey: .sendHighWaterMark) ?? sendHighWaterMark
        lingerMilliseconds = try c.decodeIfPresent(Int.self, forKey: .lingerMilliseconds) ?? lingerMilliseconds
        heartbeatIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .heartbeatIntervalSeconds) ?? heartbeatIntervalSeconds
        statusIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .statusIntervalSeconds) ?? statusIntervalSeconds
        curveSecretKeyFile = try c.decodeIfPresent(String.self, forKey: .curveSecretKeyFile)
    }

    /// The first setting the socket or its timers cannot use, and what it must be; nil when all are usable. NaN
    /// fails every comparison, so it is out of every range.
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        func expect(_ ok: Bool, _ key: CodingKeys, _ range: String, _ value: Any) -> (key: CodingKeys, problem: String)? {
            ok ? nil : (key, "expected \(range), got \(value)")
        }
        let checks: [(key: CodingKeys, problem: String)?] = [
            Self.endpointProblem(endpoint).map { (.endpoint, $0) },
            // 0 would mean "no limit": a stalled subscriber would grow memory without bound instead of dropping.
            expect((1...1_000_000).contains(sendHighWaterMark), .sendHighWaterMark, "1...1000000 messages", sendHighWaterMark),
            expect((0...60_000).contains(lingerMilliseconds), .lingerMilliseconds,
                   "0...60000 ms (a negative linger waits forever)", lingerMilliseconds),
            expect(heartbeatIntervalSeconds >= 0.1 && heartbeatIntervalSeconds <= 3600, .heartbeatIntervalSeconds,
                   "a period in [0.1, 3600] seconds", heartbeatIntervalSeconds),
            expect(statusIntervalSeconds >= 0.1 && statusIntervalSeconds <= 86_400, .statusIntervalSeconds,
                   "a period in [0.1, 86400] seconds", statusIntervalSeconds),
            curveSecretKeyFile.flatMap { file in
                expect(!file.isEmpty && !file.contains("\0") && file.utf8.count <= 4096, .curveSecretKeyFile,
                       "a file path (not empty, no NUL, at most 4096 bytes)", "'\(file.prefix(80))'")
            },
        ]
        return checks.lazy.compactMap { $0 }.first
    }

    /// tcp://HOST:PORT (PORT 1...65535, or * for a free one) or ipc://PATH (at most 107 bytes: a socket address's
    /// sun_path); what is wrong, or nil.
    static func endpointProblem(_ e: String) -> String? {
        let shown = "'\(e.prefix(80))'"
        if e.contains("\0") { return "expected a ZeroMQ endpoint without NUL characters, got \(shown)" }
        if e.hasPrefix("tcp://") {
            let hostPort = e.dropFirst(6)
            guard let colon = hostPort.lastIndex(of: ":"), colon > hostPort.startIndex else {
                return "expected tcp://HOST:PORT, got \(shown)"
            }
            let port = hostPort[hostPort.index(after: colon)...]
            guard port == "*" || Int(port).map({ (1...65535).contains($0) }) == true else {
                return "expected tcp://HOST:PORT with PORT in 1...65535 (or *), got \(shown)"
            }
            return nil
        }
        if e.hasPrefix("ipc://") {
            let path = e.dropFirst(6).utf8.count
            return path >= 1 && path <= 107 ? nil : "expected ipc://PATH with a path of 1...107 bytes, got \(shown)"
        }
        return "expected a ZeroMQ endpoint tcp://HOST:PORT or ipc://PATH, got \(shown)"
    }

    /// For settings built in code; the error names the key, as the configuration file writes it.
    public func validate() throws {
        if let (key, problem) = firstInvalid { throw PublisherError.invalidSetting(field: key.stringValue, reason: problem) }
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
