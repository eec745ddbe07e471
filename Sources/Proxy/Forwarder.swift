import CZMQ
import Foundation
import Logging
import Publisher

/// The fan-in forwarder: an XSUB frontend connected to every upstream publisher and an XPUB backend bound for
/// subscribers, joined by libzmq's own `zmq_proxy_steerable` on a dedicated thread. Subscriptions travel
/// upstream through it, messages downstream, unchanged (topic, JSON, JPEG frames; each pipeline's seq intact).
/// `stop()` steers the proxy to TERMINATE, so a SIGTERM ends it at once.
///
/// Frames from peers are bounded as the daemon's own sockets bound them (ZMQ_MAXMSGSIZE): a message part from an
/// upstream up to `EventPublisher.maxMessagePartBytes`, a frame from a subscriber up to
/// `EventPublisher.maxSubscriptionFrameBytes`; a larger one ends that connection at its header. The number of
/// subscriptions is not bounded here (`zmq_proxy` keeps them all): expose the backend with CURVE and
/// `--authorized-keys` only.
// @unchecked Sendable: raw libzmq handles; the proxy thread owns the data sockets, `steering` and the flags are used
// under `lock` only.
public final class Forwarder: @unchecked Sendable {
    /// The bound backend endpoint, with the actual port when the settings asked for "*".
    public let endpoint: String
    public let settings: ProxySettings

    private let logger: Logger
    private let context: UnsafeMutableRawPointer
    private let frontend: UnsafeMutableRawPointer
    private let backend: UnsafeMutableRawPointer
    /// The proxy's end of the steering pair, and ours.
    private let control: UnsafeMutableRawPointer
    private let steering: UnsafeMutableRawPointer
    private let zap: ZAPHandler?
    private let lock = NSLock()
    private var stopRequested = false
    private var running = false
    private var closed = false

    /// Binds the backend (and the ZAP handler before it) and connects the frontend. Errors name the endpoint.
    public init(settings: ProxySettings, logger: Logger) throws {
        try settings.validate()
        if settings.curve != nil || settings.upstreamCurve != nil { try Curve.requireAvailable() }
        guard let context = zmq_ctx_new() else {
            throw ProxyError.socketFailed(endpoint: settings.endpoint, operation: "creating a ZeroMQ context", reason: zmqError())
        }
        var sockets: [UnsafeMutableRawPointer] = []
        var zap: ZAPHandler?
        func open(_ type: Int32, _ what: String) throws -> UnsafeMutableRawPointer {
            guard let s = zmq_socket(context, type) else {
                throw ProxyError.socketFailed(endpoint: settings.endpoint, operation: "creating the \(what) socket", reason: zmqError())
            }
            sockets.append(s)
            return s
        }
        do {
            let frontend = try open(ZMQ_XSUB, "frontend")
            let backend = try open(ZMQ_XPUB, "backend")
            let control = try open(ZMQ_PAIR, "control")
            let steering = try open(ZMQ_PAIR, "steering")

            // ZMTP heartbeats: a peer that vanished without closing (power loss, a NAT dropping the flow) is
            // noticed within 15 s and the frontend reconnects, instead of silently missing that daemon forever.
            let upstreams = settings.upstreams.joined(separator: ",")
            for (socket, endpoint) in [(frontend, upstreams), (backend, settings.endpoint)] {
                try option(socket, ZMQ_HEARTBEAT_IVL, 5000, endpoint)
                try option(socket, ZMQ_HEARTBEAT_TIMEOUT, 15000, endpoint)
            }
            // The frontend only ever sends subscriptions; nothing worth flushing at exit.
            try option(frontend, ZMQ_LINGER, 0, upstreams)
            try maxMessageSize(frontend, EventPublisher.maxMessagePartBytes, upstreams)
            try settings.upstreamCurve?.apply(to: frontend, endpoint: upstreams)
            for upstream in settings.upstreams {
                guard zmq_connect(frontend, upstream) == 0 else {
                    throw Self.endpointError("--upstream", upstream, operation: "connect", code: zmq_errno())
                }
            }

            try option(backend, ZMQ_SNDHWM, Int32(clamping: settings.sendHighWaterMark), settings.endpoint)
            try option(backend, ZMQ_LINGER, Int32(clamping: settings.lingerMilliseconds), settings.endpoint)
            try maxMessageSize(backend, EventPublisher.maxSubscriptionFrameBytes, settings.endpoint)
            if let keys = settings.curve {
                if let authorized = settings.authorizedKeys {
                    zap = try ZAPHandler(context: context, authorized: authorized, logger: logger)
                    try setString(backend, ZMQ_ZAP_DOMAIN, "anomalyd", settings.endpoint)
                }
                try CurveSecurity.server(keys).apply(to: backend, endpoint: settings.endpoint)
            }
            guard zmq_bind(backend, settings.endpoint) == 0 else {
                throw Self.endpointError("--bind", settings.endpoint, operation: "bind", code: zmq_errno())
            }

            // A unique name: several forwarders may share a process (the tests).
            let controlEndpoint = "inproc://anomalyd-proxy-control-\(UUID().uuidString)"
            guard zmq_bind(control, controlEndpoint) == 0, zmq_connect(steering, controlEndpoint) == 0 else {
                throw ProxyError.socketFailed(endpoint: controlEndpoint, operation: "connecting the control pair", reason: zmqError())
            }
            // stop() waits this long at most for the statistics reply (if the proxy never started, there is none).
            try option(steering, ZMQ_RCVTIMEO, 1000, controlEndpoint)

            self.endpoint = Self.lastEndpoint(backend) ?? settings.endpoint
            self.frontend = frontend
            self.backend = backend
            self.control = control
            self.steering = steering
        } catch {
            for s in sockets {
                var zero: Int32 = 0
                zmq_setsockopt(s, ZMQ_LINGER, &zero, MemoryLayout<Int32>.size)
                zmq_close(s)
            }
            zmq_ctx_shutdown(context)
            zap?.join()
            zmq_ctx_term(context)
            throw error
        }
        self.context = context
        self.settings = settings
        self.logger = logger
        self.zap = zap
    }

    deinit { close() }

    /// Forwards until `stop()`. The proxy blocks its thread, so it gets one of its own rather than a thread of
    /// the cooperative pool.
    public func run() async throws {
        guard lock.withLock({ () -> Bool in running = !closed; return running }) else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, Error>) in
            Thread.detachNewThread { [self] in
                let rc = zmq_proxy_steerable(frontend, backend, nil, control)
                let code = zmq_errno()
                close()
                if rc == 0 {
                    done.resume()
                } else {
                    done.resume(throwing: ProxyError.socketFailed(endpoint: endpoint, operation: "forwarding", reason: zmqError(code)))
                }
            }
        }
    }

    /// Asks the proxy to terminate, logging what it forwarded. Safe to call more than once and from any thread.
    public func stop() {
        lock.withLock {
            guard !stopRequested, !closed else { return }
            stopRequested = true
            var metadata: Logger.Metadata = [:]
            if running, let stats = statistics() {
                metadata = ["messages_forwarded": "\(stats.forwarded)", "bytes_forwarded": "\(stats.forwardedBytes)",
                            "subscriptions_upstream": "\(stats.subscriptions)"]
            }
            _ = zmq_send(steering, "TERMINATE", 9, 0)
            logger.notice("proxy stopping", metadata: metadata)
        }
    }

    /// What `zmq_proxy_steerable` counted: whole messages and their bytes.
    struct Statistics {
        var forwarded: UInt64, forwardedBytes: UInt64, subscriptions: UInt64
    }

    /// STATISTICS replies with eight uint64 frames: frontend messages/bytes in/out, then the backend's.
    private func statistics() -> Statistics? {
        guard zmq_send(steering, "STATISTICS", 10, 0) == 10 else { return nil }
        var values: [UInt64] = []
        var more = true
        while more {
            var value: UInt64 = 0
            guard zmq_recv(steering, &value, 8, 0) == 8 else { return nil }
            values.append(value)
            var flag: Int32 = 0, size = MemoryLayout<Int32>.size
            more = zmq_getsockopt(steering, ZMQ_RCVMORE, &flag, &size) == 0 && flag == 1
        }
        guard values.count == 8 else { return nil }
        return Statistics(forwarded: values[0], forwardedBytes: values[1], subscriptions: values[4])
    }

    /// Closes the sockets (the backend lingers at most `lingerMilliseconds`), ends the ZAP thread, frees the context.
    private func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            for socket in [frontend, backend, control, steering] { zmq_close(socket) }
            zmq_ctx_shutdown(context)
            zap?.join()
            zmq_ctx_term(context)
        }
    }

    // MARK: - Socket helpers

    private static func lastEndpoint(_ socket: UnsafeMutableRawPointer) -> String? {
        var buf = [CChar](repeating: 0, count: 512)
        var len = buf.count
        return zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buf, &len) == 0 ? String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self) : nil
    }

    /// A malformed endpoint or unknown transport is a configuration error (exit 78); anything else, such as an
    /// address in use, may pass and is worth a restart.
    private static func endpointError(_ option: String, _ endpoint: String, operation: String, code: Int32) -> ProxyError {
        var reason = zmqError(code)
        if code == EINVAL || code == EPROTONOSUPPORT || code == ENOCOMPATPROTO {
            return .invalidEndpoint(option: option, endpoint: endpoint, reason: reason + " (expected tcp://HOST:PORT or ipc://PATH)")
        }
        if code == EADDRINUSE { reason += " (another process, or another proxy, is bound to it)" }
        return .socketFailed(endpoint: endpoint, operation: operation, reason: reason)
    }
}

private func option(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32, _ endpoint: String) throws {
    var v = value
    guard zmq_setsockopt(socket, option, &v, MemoryLayout<Int32>.size) == 0 else {
        throw ProxyError.socketFailed(endpoint: endpoint, operation: "setting socket option \(option)", reason: zmqError())
    }
}

/// ZMQ_MAXMSGSIZE (an int64_t): a larger frame from a peer ends its connection before anything is allocated for it.
private func maxMessageSize(_ socket: UnsafeMutableRawPointer, _ bytes: Int, _ endpoint: String) throws {
    var v = Int64(bytes)
    guard zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size) == 0 else {
        throw ProxyError.socketFailed(endpoint: endpoint, operation: "setting ZMQ_MAXMSGSIZE", reason: zmqError())
    }
}

private func setString(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ value: String, _ endpoint: String) throws {
    guard zmq_setsockopt(socket, option, value, value.utf8.count) == 0 else {
        throw ProxyError.socketFailed(endpoint: endpoint, operation: "setting socket option \(option)", reason: zmqError())
    }
}
