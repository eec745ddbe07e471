import CZMQ
import Foundation

/// A ZeroMQ SUB socket for `anomalyd subscribe` (and for Swift consumers): connects to a publisher or forwarder
/// and receives whole multipart messages [topic, JSON(, JPEG)].
public final class EventSubscriber {
    public let endpoint: String
    private var context: UnsafeMutableRawPointer?
    private var socket: UnsafeMutableRawPointer?

    /// Subscribes to each prefix (use `Topic.prefix(pipeline:)`, or "anomaly/" for everything). `receive()`
    /// returns nil after `timeoutMilliseconds` without a message, so callers can check for shutdown. With `curve`
    /// (a `.client`), it reads from a CURVE server such as `anomalyd proxy --curve-secret-key`.
    public init(endpoint: String, prefixes: [String], timeoutMilliseconds: Int32 = 200, curve: CurveSecurity? = nil) throws {
        self.endpoint = endpoint
        guard let ctx = zmq_ctx_new() else { throw PublisherError.connectFailed(endpoint: endpoint, reason: zmqError()) }
        guard let sock = zmq_socket(ctx, ZMQ_SUB) else {
            let reason = zmqError()
            zmq_ctx_term(ctx)
            throw PublisherError.connectFailed(endpoint: endpoint, reason: reason)
        }
        context = ctx
        socket = sock
        // A subscriber has nothing worth flushing on exit.
        try setOption(sock, ZMQ_LINGER, 0, endpoint)
        try setOption(sock, ZMQ_RCVTIMEO, timeoutMilliseconds, endpoint)
        // A part larger than any the daemon sends ends that connection (libzmq reconnects) instead of being buffered.
        try setMaxMessageSize(sock, EventPublisher.maxMessagePartBytes, endpoint)
        try curve?.apply(to: sock, endpoint: endpoint)
        guard zmq_connect(sock, endpoint) == 0 else {
            throw PublisherError.connectFailed(endpoint: endpoint, reason: zmqError())
        }
        for prefix in prefixes {
            guard zmq_setsockopt(sock, ZMQ_SUBSCRIBE, prefix, prefix.utf8.count) == 0 else {
                throw PublisherError.socketFailed(endpoint: endpoint, operation: "subscribing to '\(prefix)'", reason: zmqError())
            }
        }
    }

    deinit { close() }

    /// The next message's parts, or nil on timeout or when a signal interrupted the wait.
    public func receive() throws -> [Data]? {
        guard let socket else { throw PublisherError.closed(endpoint: endpoint) }
        do {
            return try receiveMultipart(socket)
        } catch {
            // Parts of one message arrive together, so a timeout or signal can only hit the first part.
            if error.beforeFirstPart && (error.code == EAGAIN || error.code == EINTR) { return nil }
            throw PublisherError.socketFailed(endpoint: endpoint, operation: "receive", reason: zmqError(error.code))
        }
    }

    public func close() {
        if let socket { zmq_close(socket) }
        if let context { zmq_ctx_term(context) }
        socket = nil
        context = nil
    }
}

/// Follows each pipeline's `seq` and describes the gaps (lost messages) and restarts (seq going back).
public struct SeqTracker {
    private var last: [String: UInt64] = [:]

    public init() {}

    /// Returns a line for stderr when this message does not follow the previous one of its pipeline,
    /// e.g. "gap: pipeline line3 seq 17 -> 20 (2 lost)". The first message of a pipeline only sets the start.
    public mutating func observe(pipeline: String, seq: UInt64) -> String? {
        defer { last[pipeline] = seq }
        guard let previous = last[pipeline] else { return nil }
        if seq > previous + 1 { return "gap: pipeline \(pipeline) seq \(previous) -> \(seq) (\(seq - previous - 1) lost)" }
        if seq <= previous { return "restart: pipeline \(pipeline) seq \(previous) -> \(seq) (publisher restarted)" }
        return nil
    }
}
