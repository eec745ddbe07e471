import CZMQ
import Decisions
import Foundation
import Timestamps

/// Whether a message was handed to the socket for its subscribers, or refused before any subscriber got it.
public enum Delivery: Sendable, Equatable {
    /// Queued for every subscriber, except any whose queue was full (counted as `.subscriberQueueFull`).
    case queued
    /// Counted in `publishDropped(pipeline:reason:)`; the message's seq is used up, so subscribers see the gap.
    case dropped
}

/// Why a send did not reach every subscriber: the `reason` of `anomalyd_publish_dropped_total`.
public enum PublishDropReason: String, Sendable, CaseIterable {
    /// A subscriber's queue (ZMQ_SNDHWM) was full: it missed the message, the others got it. libzmq then skips that
    /// subscriber without a word until it has caught up, so this counts the times a subscriber fell behind, not the
    /// messages it lost; those it sees as gaps in `seq`.
    case subscriberQueueFull = "subscriber_queue_full"
    /// A part was larger than `EventPublisher.maxMessagePartBytes`, which subscribers refuse: nobody got it.
    case tooLarge = "too_large"
    /// libzmq refused the send (e.g. a signal interrupted it): nobody got it, and the call throws.
    case socketError = "socket_error"
}

/// Publishes events, status and heartbeats of several pipelines on one ZeroMQ XPUB socket (CONVENTIONS.md §3).
///
/// Messages are multipart [topic, JSON] or [topic, JSON, JPEG]. Sends never block and a slow subscriber loses only
/// its own messages: every send uses ZMQ_DONTWAIT with ZMQ_XPUB_NODROP=1, so a subscriber's full queue (ZMQ_SNDHWM)
/// shows as EAGAIN and is counted, and that one message then goes again without NODROP, so libzmq drops it for the
/// full queue only and delivers it to everyone else. With no subscriber at all libzmq discards messages without
/// error: nobody missed them, so nothing is counted.
///
/// What peers can make it hold is bounded (issue 14): frames from peers up to `maxSubscriptionFrameBytes`,
/// `maxSubscriptions` in all (see `SubscriptionLimit`). An actor because the socket is not thread-safe and the
/// pipelines sharing it run concurrently.
public actor EventPublisher {
    /// The largest message part sent, and accepted by `EventSubscriber` and the proxy (ZMQ_MAXMSGSIZE): an event's
    /// JSON and its 224x224 evidence JPEG take tens of KB, so 1 MiB only refuses what no subscriber should buffer.
    public static let maxMessagePartBytes = 1 << 20
    /// The largest frame a peer may send (ZMQ_MAXMSGSIZE on the XPUB): a subscription to a topic prefix, or a
    /// handshake command (a CURVE INITIATE is under 400 bytes). A longer one ends the connection at its header.
    public static let maxSubscriptionFrameBytes = 512
    /// Subscriptions held for all peers together (a subscriber usually holds one or two); past it, the address
    /// holding the most is disconnected. With frames of at most 512 bytes, this bounds libzmq's trie of prefixes.
    public static let maxSubscriptions = 1000
    /// ZMQ_RCVHWM: subscription messages queued from one peer before libzmq stops reading from it.
    static let subscriptionQueue: Int32 = 100
    /// Messages taken per call. libzmq moves what peers sent from its bounded per-peer queues into one unbounded
    /// list whenever we call the socket, so each call must take all of it; the cap only keeps a pathological flood
    /// from holding the actor (a receive is about a microsecond).
    static let subscriptionsPerDrain = 50_000

    /// The bound endpoint, with the actual port when the settings asked for "*".
    public nonisolated let endpoint: String
    public nonisolated let settings: PublisherSettings
    public nonisolated let host: String
    /// The public key subscribers need, when the socket is a CURVE server.
    public nonisolated let curvePublicKey: CurveKey?
    /// Gets every event, status and model message too (MQTT), whatever ZeroMQ did with it.
    private let mirror: (any MessageMirror)?

    // nonisolated(unsafe): deinit closes them too, when nothing else can be using them (Swift 6 sees deinit as
    // nonisolated); everything else uses them on the actor.
    private nonisolated(unsafe) var context: UnsafeMutableRawPointer?
    private nonisolated(unsafe) var socket: UnsafeMutableRawPointer?
    private nonisolated(unsafe) let limit: SubscriptionLimit
    private var pipelines: [String: PipelineRecord] = [:]
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
        var dropped: [PublishDropReason: UInt64] = [:]
        var droppedTotal: UInt64 { dropped.values.reduce(0, +) }
        let registered: Date
        var status: PipelineStatus?
        /// The last status that was actually queued, for change detection; a dropped change is retried.
        var sentStatus: PipelineStatus?
        var statusSentAt = Date.distantPast
        var heartbeatSentAt = Date.distantPast
    }

    /// Binds the socket. Errors name the endpoint and say why (e.g. "Address already in use").
    public init(settings: PublisherSettings, host: String = ProcessInfo.processInfo.hostName,
                mirror: (any MessageMirror)? = nil) throws {
        try settings.validate()
        self.mirror = mirror
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
        var limit: SubscriptionLimit?
        do {
            try setOption(sock, ZMQ_XPUB_NODROP, 1, settings.endpoint)
            // Every subscribe and unsubscribe reaches us, so the limit counts subscriptions per subscriber.
            try setOption(sock, ZMQ_XPUB_VERBOSER, 1, settings.endpoint)
            try setOption(sock, ZMQ_SNDHWM, Int32(clamping: settings.sendHighWaterMark), settings.endpoint)
            try setOption(sock, ZMQ_LINGER, Int32(clamping: settings.lingerMilliseconds), settings.endpoint)
            try setMaxMessageSize(sock, Self.maxSubscriptionFrameBytes, settings.endpoint)
            try setOption(sock, ZMQ_RCVHWM, Self.subscriptionQueue, settings.endpoint)
            if let curve {
                try CurveSecurity.server(curve).apply(to: sock, endpoint: settings.endpoint)
            } else {
                // A ZAP domain makes libzmq refuse ZMTP 1.0 peers, as CURVE does. Without it any byte stream not
                // starting with 0xFF is read as 1.0 frames: 64 KiB of garbage became about 150 messages queued for
                // us, and 60,000 such connections grew the daemon by 870 MB. No ZAP handler runs in this context,
                // so NULL-mechanism subscribers connect as before.
                guard zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "anomalyd", 8) == 0 else {
                    throw PublisherError.socketFailed(endpoint: settings.endpoint, operation: "set ZMQ_ZAP_DOMAIN", reason: zmqError())
                }
            }
            limit = try SubscriptionLimit(context: ctx, socket: sock, limit: Self.maxSubscriptions, endpoint: settings.endpoint)
            guard zmq_bind(sock, settings.endpoint) == 0 else {
                let code = zmq_errno()
                var reason = zmqError(code)
                if code == EADDRINUSE { reason += " (another process, or another publisher, is bound to it)" }
                throw PublisherError.bindFailed(endpoint: settings.endpoint, reason: reason)
            }
        } catch {
            limit?.close(socket: sock)
            var zero: Int32 = 0
            zmq_setsockopt(sock, ZMQ_LINGER, &zero, MemoryLayout<Int32>.size)
            zmq_close(sock)
            zmq_ctx_term(ctx)
            throw error
        }
        var buf = [CChar](repeating: 0, count: 512)
        var len = buf.count
        endpoint = zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, &buf, &len) == 0 ? String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self) : settings.endpoint
        limit!.bound(to: endpoint)
        self.limit = limit!
        context = ctx
        socket = sock
    }

    deinit {
        // Bounded by ZMQ_LINGER; normally close() has already done this.
        if let socket {
            limit.close(socket: socket)
            zmq_close(socket)
        }
        if let context { zmq_ctx_term(context) }
    }

    /// Adds a pipeline; its seq starts at 1. Registering it again changes nothing.
    public func register(pipeline: String) throws {
        guard Topic.isValidPipelineName(pipeline) else { throw PublisherError.invalidPipelineName(pipeline) }
        if pipelines[pipeline] == nil {
            pipelines[pipeline] = PipelineRecord(registered: Date())
            mirror?.register(pipeline: pipeline)
        }
    }

    /// Publishes an episode message, with the frame as JPEG evidence if given, naming the episode's clip and the
    /// frame's full-resolution snapshot if given.
    @discardableResult
    public func publish(_ decision: EpisodeDecision, pipeline: String, model: ModelInfo, latency: Latency,
                        evidence jpeg: Data? = nil, clip: String? = nil, snapshot: String? = nil) throws -> Delivery {
        var event = AnomalyEvent(decision, seq: try nextSeq(pipeline), pipeline: pipeline, host: host,
                                 model: model, latency: latency)
        event.clip = clip
        event.snapshot = snapshot
        event.latencyMs.endToEnd = Date().timeIntervalSince(decision.time) * 1000
        return try send(pipeline, .event, try encoder.encode(event), jpeg)
    }

    /// Announces a model change (`anomalyd.model/1` on `anomaly/<pipeline>/model`).
    @discardableResult
    public func announce(_ change: ModelChange, pipeline: String) throws -> Delivery {
        let message = ModelMessage(change, seq: try nextSeq(pipeline), pipeline: pipeline, host: host, time: Date())
        return try send(pipeline, .model, try encoder.encode(message), nil)
    }

    /// Reports what operator feedback did (`anomalyd.feedback/1` on `anomaly/<pipeline>/feedback`).
    @discardableResult
    public func report(_ feedback: FeedbackNotice, pipeline: String, time: Date = Date()) throws -> Delivery {
        let message = FeedbackMessage(feedback, seq: try nextSeq(pipeline), pipeline: pipeline, host: host, time: time)
        return try send(pipeline, .feedback, try encoder.encode(message), nil)
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

    /// Sends of the pipeline that did not reach every subscriber, all reasons together.
    public func publishDropped(pipeline: String) -> UInt64 { pipelines[pipeline]?.droppedTotal ?? 0 }

    public func publishDropped(pipeline: String, reason: PublishDropReason) -> UInt64 {
        pipelines[pipeline]?.dropped[reason] ?? 0
    }

    /// Active subscriptions (one per subscriber and prefix) as of the subscription messages received so far.
    public func subscriptionCount() -> Int {
        drainSubscriptions()
        return limit.held
    }

    /// Connections ended for holding too many subscriptions (from the address holding the most).
    public func subscribersDisconnected() -> Int { limit.disconnected }

    /// Stops the timers and closes the socket; waits at most `lingerMilliseconds` for queued messages.
    public func close() {
        timer?.cancel()
        timer = nil
        if let socket {
            limit.close(socket: socket)
            zmq_close(socket)
        }
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
        message.counters.publishDropped = pipelines[pipeline]!.droppedTotal
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
                                       intervalSeconds: settings.heartbeatIntervalSeconds, publishDropped: record.droppedTotal)
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
        if kind != .heartbeat { mirror?.forward(json, kind: kind, pipeline: pipeline) }
        drainSubscriptions()
        let parts = [Data(Topic.name(pipeline: pipeline, kind: kind).utf8), json] + (jpeg.map { [$0] } ?? [])
        // Subscribers would drop the connection on it (ZMQ_MAXMSGSIZE) and lose everything queued behind it too.
        guard parts.allSatisfy({ $0.count <= Self.maxMessagePartBytes }) else {
            pipelines[pipeline]!.dropped[.tooLarge, default: 0] += 1
            return .dropped
        }
        do {
            if try sendParts(parts, socket) { return .queued }
            // A subscriber's queue is full. This message goes again without NODROP: libzmq drops it for that queue
            // only, and leaves that subscriber out of later sends until it has caught up.
            try setOption(socket, ZMQ_XPUB_NODROP, 0, endpoint)
            defer { try? setOption(socket, ZMQ_XPUB_NODROP, 1, endpoint) }
            _ = try sendParts(parts, socket)
            pipelines[pipeline]!.dropped[.subscriberQueueFull, default: 0] += 1
            return .queued
        } catch {
            pipelines[pipeline]!.dropped[.socketError, default: 0] += 1
            throw error
        }
    }

    /// Sends every part; false when the first one met a full subscriber queue (EAGAIN, possible with NODROP only).
    /// XPUB checks the high-water mark on the first part only and then takes the rest of the message.
    private func sendParts(_ parts: [Data], _ socket: UnsafeMutableRawPointer) throws -> Bool {
        for (i, part) in parts.enumerated() {
            let flags = ZMQ_DONTWAIT | (i < parts.count - 1 ? ZMQ_SNDMORE : 0)
            let rc = part.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            guard rc < 0 else { continue }
            let code = zmq_errno()
            if code == EAGAIN && i == 0 { return false }
            throw PublisherError.socketFailed(endpoint: endpoint, operation: "send", reason: zmqError(code))
        }
        return true
    }

    /// XPUB hands subscription messages (0x01 or 0x00 + prefix) up to us, each with its peer's address; the limit
    /// counts them and disconnects the peer holding the most when there are too many.
    private func drainSubscriptions() {
        guard let socket else { return }
        limit.readEvents()
        for _ in 0..<Self.subscriptionsPerDrain {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            guard zmq_msg_recv(&message, socket, ZMQ_DONTWAIT) >= 0 else { return }
            // Anything else a peer sends upstream (XSUB peers may) is read and dropped; not disconnected, as the
            // address may be shared with real subscribers (loopback is).
            guard zmq_msg_size(&message) > 0, let data = zmq_msg_data(&message) else { continue }
            let first = data.load(as: UInt8.self)
            guard first <= 1 else { continue }
            limit.record(subscribe: first == 1, from: zmq_msg_gets(&message, "Peer-Address").map { String(cString: $0) })
        }
    }
}

func setOption(_ socket: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32, _ endpoint: String) throws {
    var v = value
    guard zmq_setsockopt(socket, option, &v, MemoryLayout<Int32>.size) == 0 else {
        throw PublisherError.socketFailed(endpoint: endpoint, operation: "setting socket option \(option)", reason: zmqError())
    }
}

/// ZMQ_MAXMSGSIZE, which libzmq takes as an int64_t: a peer's frame larger than `bytes` ends its connection at the
/// frame's header, before anything is allocated for it.
func setMaxMessageSize(_ socket: UnsafeMutableRawPointer, _ bytes: Int, _ endpoint: String) throws {
    let option = ZMQ_MAXMSGSIZE
    var v = Int64(bytes)
    guard zmq_setsockopt(socket, option, &v, MemoryLayout<Int64>.size) == 0 else {
        throw PublisherError.socketFailed(endpoint: endpoint, operation: "setting socket option \(option)", reason: zmqError())
    }
}
