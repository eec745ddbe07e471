import Publisher

/// What `anomalyd proxy` forwards, from where to where, and with which keys (CONVENTIONS.md §3: fan-in through a
/// forwarder, XSUB frontend, XPUB backend, the forwarder as CURVE server).
public struct ProxySettings: Sendable {
    /// Publisher endpoints the XSUB frontend connects to: each daemon binds its XPUB at `publisher.endpoint`, so
    /// the proxy connects to them (and to other proxies' backends, for a site-level forwarder). It reconnects
    /// on its own when a daemon restarts.
    public var upstreams: [String]
    /// Where the XPUB backend binds for subscribers.
    public var endpoint: String
    /// The backend's key pair: with it, subscribers must use CURVE with its public key.
    public var curve: CurveKeyPair?
    /// With CURVE, only subscribers whose public key is in here are let in; without it, anyone who has the
    /// proxy's public key may subscribe (the traffic is still encrypted).
    public var authorizedKeys: AuthorizedKeys?
    /// A `.client` when the upstreams are CURVE servers (another proxy).
    public var upstreamCurve: CurveSecurity?
    /// ZMQ_SNDHWM per subscriber. The backend does not set ZMQ_XPUB_NODROP: a subscriber that falls this far
    /// behind loses messages (it sees the gaps in each pipeline's seq) instead of stalling every other subscriber
    /// and, through the frontend, the daemons.
    public var sendHighWaterMark: Int = 1000
    /// ZMQ_LINGER of the backend, so stopping waits at most this long to flush queued messages.
    public var lingerMilliseconds: Int = 1000

    public init(upstreams: [String], endpoint: String) {
        self.upstreams = upstreams
        self.endpoint = endpoint
    }

    public func validate() throws {
        func check(_ ok: Bool, _ option: String, _ reason: @autoclosure () -> String) throws {
            if !ok { throw ProxyError.invalidSetting(option: option, reason: reason()) }
        }
        try check(!upstreams.isEmpty, "--upstream", "give at least one publisher endpoint, e.g. tcp://127.0.0.1:5556")
        for upstream in upstreams {
            try check(upstream.contains("://"), "--upstream", "must look like tcp://HOST:PORT or ipc://PATH, got '\(upstream)'")
        }
        try check(endpoint.contains("://"), "--bind", "must look like tcp://HOST:PORT or ipc://PATH, got '\(endpoint)'")
        try check(authorizedKeys == nil || curve != nil, "--authorized-keys",
                  "needs --curve-secret-key: client keys are only checked on a CURVE server")
        // 0 would mean "no limit": a stalled subscriber would grow the proxy's memory without bound.
        try check(sendHighWaterMark >= 1, "--send-hwm", "must be at least 1, got \(sendHighWaterMark)")
        try check(lingerMilliseconds >= 0, "--linger-ms", "must be 0 or more (a negative linger waits forever), got \(lingerMilliseconds)")
    }
}

public enum ProxyError: Error, Equatable, CustomStringConvertible {
    case invalidSetting(option: String, reason: String)
    case invalidEndpoint(option: String, endpoint: String, reason: String)
    case invalidAuthorizedKeys(directory: String, reason: String)
    case socketFailed(endpoint: String, operation: String, reason: String)

    /// Errors a restart cannot fix: the service should exit with EX_CONFIG (78).
    public var isConfiguration: Bool {
        if case .socketFailed = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .invalidSetting(let o, let r): return "invalid \(o): \(r)"
        case .invalidEndpoint(let o, let e, let r): return "invalid \(o) endpoint '\(e)': \(r)"
        case .invalidAuthorizedKeys(let d, let r): return "invalid --authorized-keys directory \(d): \(r)"
        case .socketFailed(let e, let op, let r): return "\(e): \(op) failed: \(r)"
        }
    }
}
