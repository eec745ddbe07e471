import CZMQ
import Decisions
import Foundation
import Timestamps

/// Whether a message was queued for the subscribers or refused because a subscriber's queue was full.
public enum Delivery: Sendable, Equatable {
    case queued
    /// Counted in `publishDropped(pipeline:)`; the message's seq is used up, so subscribers see the gap.
    case dropped
}

/// Publishes events, status and heartbeats of several pipelines on one ZeroMQ XPUB socket (CONVENTIONS.md §3).
///
/// Messages are multipart [topic, JSON] or [topic, JSON, JPEG]. Sends never block: the socket has
/// ZMQ_XPUB_NODROP=1 and every send uses ZMQ_DONTWAIT, so when any subscriber's queue (ZMQ_SNDHWM) is full the
/// whole message is refused with EAGAIN and counted as dropped for its pipeline. With no subscriber at all
/// libzmq discards messages without error: nobody missed them, so nothing is counted. An actor because the
/// socket is not thread-safe and the pipelines sharing it run concurrently.
public actor EventPublisher {
    /// The bound endpoint, with the actual port when the settings asked for "*".
    public nonisolated let endpoint: String
    public nonisolated let settings: PublisherSettings
    public nonisolated let host: String
    /// The public key subscribers need, when the socket is a CURVE server.
    public nonisolated let curvePublicKey: CurveKey?

    private var context: UnsafeMutableRawPointer?
    private var socket: UnsafeMutableRawPointer?
    private var pipelines: [String: PipelineRecord] = [:]
    private var subscriptions = 0
    private var timer: Task<Void, Never>?
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        // Keys in a stable (sorted) order and "anomalyd.event/1" rather than "anomalyd.event\/1": the same
        // JSON either way, but readable, greppable and diffable in logs.
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    private struct PipelineRecord {
        var seq: UInt64 = 0
        var dropped: UInt64 = 0
        let registered: Date
        var status: PipelineStatus?
        /// The last status that was actually queued, for change detection; a dropped change is retried.
        var sentStatus: PipelineStatus?
        var statusSentAt = Date.distantPast
        var heartbeatSentAt = Date.distantPast
    }

    /// Binds the socket. Errors name the endpoint and say why (e.g. "Address already in use").
    public init(settings: PublisherSettings, host: String = ProcessInfo.processInfo.hostName) throws {
        try settings.validate()
        // Read before any socket exists, so a bad key file leaves nothing to clean up.
        let curve = try settings.curveSecretKeyFile.map { try CurveKeyPair(secretKeyFile: $0) }
        self.settings = settings
        self.host = host
        curvePublicKey = curve?.publicKey
        guard let ctx = zmq_ctx_new() else {
            throw PublisherError.bindFailed(endpoint: settings.endpoint, reason: zmqError())
        }
        guard let sock = zmq_socket(ctx, ZMQ_XPUB) else {
            let reason = zmqError()
            zmq_ctx_term(ctx)
            throw PublisherError.bindFailed(endpoint: settings.endpoint, reason: reason)
        }
        do {
            try setOption(sock, ZMQ_XPUB_NODROP, 1, settings.endpoint)
            // Every subscribe and unsubscribe reaches us, so subscriptionCount() counts subscribers, not prefixes.
            try setOption(sock, ZMQ_XPUB_VERBOSER, 1, settings.endpoint)
            try setOption(sock, ZMQ_SNDHWM, Int32(clamping: settings.sendHighWaterMark), settings.endpoint)
            try setOption(sock, ZMQ_LINGER, Int32(clamping: settings.lingerMilliseconds), settings.endpoint)
            if let curve { try CurveSecurity.server(curve).apply(to: sock, endpoint: settings.endpoint) }
            guard zmq_bind(sock, settings.endpoint) == 0 else {
                let code = zmq_errno()
                var reason = zmqError(code)
                if code == EADDRINUSE { reason += " (another process, or another publisher, is bound to it)" }
                throw PublisherError.bindFailed(endpoint: settings.endpoint, reason: reason)
            }
        } catch {
            var zero: Int32 = 0
            zmq_setsockopt(sock, ZMQ_LINGER, &zero, MemoryLayout<Int32>.size)
            zmq_close(sock)
            zmq_ctx_term(ctx)
            throw error
        }
        var buf = [CChar](repeating: 0, count: 512)
        var len = buf.count
        endpoint = zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, &buf, &len) == 0 ? String(cString: buf) : settings.endpoint
        context = ctx
        socket = sock
    }

    deinit {
        // Bounded by ZMQ_LINGER; normally close() has already done this.
        if let socket { zmq_close(socket) }
        if let context { zmq_ctx_term(context) }
    }

    /// Adds a pipeline; its seq starts at 1. Registering it again changes nothing.
    public func register(pipeline: String) throws {
        guard Topic.isValidPipelineName(pipeline) else { throw PublisherError.invalidPipelineName(pipeline) }
        if pipelines[pipeline] == nil { pipelines[pipeline] = PipelineRecord(registered: Date()) }
    }

    /// Publishes an episode message, with the frame as JPEG evidence if given.
    @discardableResult
    public func publish(_ decision: EpisodeDecision, pipeline: String, model: ModelInfo, latency: Latency,
                        evidence jpeg: Data? = nil) throws -> Delivery {
        var event = AnomalyEvent(decision, seq: try nextSeq(pipeline), pipeline: pipeline, host: host,
                                 model: model, latency: latency)
        event.latencyMs.endToEnd = Date().timeIntervalSince(decision.time) * 1000
        return try send(pipeline, .event, try encoder.encode(event), jpeg)
    }

    /// Announces a model change (`anomalyd.model/1` on `anomaly/<pipeline>/model`).
    @discardableResult
    public func announce(_ change: ModelChange, pipeline: String) throws -> Delivery {
        let message = ModelMessage(change, seq: try nextSeq(pipeline), pipeline: pipeline, host: host, time: Date())
        return try send(pipeline, .model, try encoder.encode(message), nil)
    }

    /// Records a pipeline's status. It is sent at once when it differs materially from the last one sent
    /// (state, detail, source state, model, sensitivity) and otherwise kept for the periodic send, which
    /// carries the latest counters. Returns nil when it was only kept.
    @discardableResult
    public func report(_ status: PipelineStatus, pipeline: String) throws -> Delivery? {
        guard var record = pipelines[pipeline] else { throw PublisherError.unknownPipeline(pipeline, endpoint: endpoint) }
        record.status = status
        pipelines[pipeline] = record
        if let sent = record.sentStatus, !status.differsMaterially(from: sent) { return nil }
        return try sendStatus(pipeline)
    }

    /// Sends one heartbeat for every registered pipeline now (the timer calls this).
    public func publishHeartbeats() throws {
        for name in pipelines.keys.sorted() { try sendHeartbeat(name) }
    }

    /// Starts the periodic heartbeats and status re-sends; close() stops them.
    public func startTimers() {
        guard timer == nil, socket != nil else { return }
        let period = min(settings.heartbeatIntervalSeconds, settings.statusIntervalSeconds)
        timer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(period * 1e9))
                guard !Task.isCancelled, let self else { return }
                await self.tick(period: period)
            }
        }
    }

    public func publishDropped(pipeline: String) -> UInt64 { pipelines[pipeline]?.dropped ?? 0 }

    /// Active subscriptions (one per subscriber and prefix) as of the subscription messages received so far.
    public func subscriptionCount() -> Int {
        drainSubscriptions()
        return subscriptions
    }

    /// Stops the timers and closes the socket; waits at most `lingerMilliseconds` for queued messages.
    public func close() {
        timer?.cancel()
        timer = nil
        if let socket { zmq_close(socket) }
        if let context { zmq_ctx_term(context) }
        socket = nil
        context = nil
    }

    // MARK: - Internals

    private func tick(period: Double) {
        let now = Date()
        // Half a period of slack so timer jitter cannot push a due message to the next tick.
        let slack = period / 2
        for name in pipelines.keys.sorted() {
            guard let record = pipelines[name] else { continue }
            // A send error here means the socket is gone (close() cancels this timer first), so there is
            // nothing to retry; the next explicit publish reports it.
            if now.timeIntervalSince(record.heartbeatSentAt) >= settings.heartbeatIntervalSeconds - slack {
                _ = try? sendHeartbeat(name)
            }
            if record.status != nil, now.timeIntervalSince(record.statusSentAt) >= settings.statusIntervalSeconds - slack {
                _ = try? sendStatus(name)
            }
        }
    }

    private func sendStatus(_ pipeline: String) throws -> Delivery {
        guard let status = pipelines[pipeline]?.status else { throw PublisherError.unknownPipeline(pipeline, endpoint: endpoint) }
        var message = StatusMessage(status, seq: try nextSeq(pipeline), pipeline: pipeline, host: host, time: Date())
        message.counters.publishDropped = pipelines[pipeline]!.dropped
        let delivery = try send(pipeline, .status, try encoder.encode(message), nil)
        pipelines[pipeline]!.statusSentAt = Date()
        if delivery == .queued { pipelines[pipeline]!.sentStatus = status }
        return delivery
    }

    @discardableResult
    private func sendHeartbeat(_ pipeline: String) throws -> Delivery {
        let seq = try nextSeq(pipeline)
        let record = pipelines[pipeline]!
        let now = Date()
        let message = HeartbeatMessage(seq: seq, pipeline: pipeline, host: host, time: Timestamp.rfc3339(now),
                                       state: record.status?.state ?? .starting,
                                       uptimeSeconds: now.timeIntervalSince(record.registered),
                                       intervalSeconds: settings.heartbeatIntervalSeconds, publishDropped: record.dropped)
        pipelines[pipeline]!.heartbeatSentAt = now
        return try send(pipeline, .heartbeat, try encoder.encode(message), nil)
    }

    /// Every message of a pipeline takes the next seq, sent or dropped, so gaps show losses.
    private func nextSeq(_ pipeline: String) throws -> UInt64 {
        guard socket != nil else { throw PublisherError.closed(endpoint: endpoint) }
        guard pipelines[pipeline] != nil else { throw PublisherError.unknownPipeline(pipeline, endpoint: endpoint) }
        pipelines[pipeline]!.seq += 1
        return pipelines[pipeline]!.seq
    }

    private func send(_ pipeline: String, _ kind: TopicKind, _ json: Data, _ jpeg: Data?) throws -> Delivery {
        guard let socket else { throw PublisherError.closed(endpoint: endpoint) }
        drainSubscriptions()
        let parts = [Data(Topic.name(pipeline: pipeline, kind: kind).utf8), json] + (jpeg.map { [$0] } ?? [])
        for (i, part) in parts.enumerated() {
            let flags = ZMQ_DONTWAIT | (i < parts.count - 1 ? ZMQ_SNDMORE : 0)
            let rc = part.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            guard rc < 0 else { continue }
            let code = zmq_errno()
            // XPUB checks the high-water mark on the first part only and then takes the rest of the message,
            // so EAGAIN can only come here, before anything was queued.
            if code == EAGAIN && i == 0 {
                pipelines[pipeline]!.dropped += 1
                return .dropped
            }
            throw PublisherError.socketFailed(endpoint: endpoint, operation: "send", reason: zmqError(code))
        }
        return .queued
    }

    /// XPUB hands subscription messages (0x01 or 0x00 + prefix) up to us; reading them keeps them from piling up.
    private func drainSubscriptions() {
        guard let socket else { return }
        var first: UInt8 = 0
        while zmq_recv(socket, &first, 1, ZMQ_DONTWAIT) >= 0 {
            if first == 1 { subscriptions += 1 } else if first == 0 { subscriptions -= 1 }
        }
    }
}

func setOption(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32, _ endpoint: String) throws {
    var v = value
    guard zmq_setsockopt(socket, option, &v, MemoryLayout<Int32>.size) == 0 else {
        throw PublisherError.socketFailed(endpoint: endpoint, operation: "setting socket option \(option)", reason: zmqError())
    }
}

