import CMosquitto
import CoreMetrics
import Foundation
import Logging
import Publisher
import Synchronization

public enum MQTTError: Error, Equatable, CustomStringConvertible {
    /// A setting libmosquitto refused; `field` as the configuration file writes it (under `mqtt.`).
    case invalidSetting(field: String, reason: String)

    public var description: String {
        switch self {
        case .invalidSetting(let f, let r): return "invalid mqtt setting \(f): \(r)"
        }
    }
}

/// One libmosquitto client per daemon, publishing what `EventPublisher` mirrors to it (the same JSON as ZeroMQ) on
/// `<prefix>/<pipeline>/event|status|model`, with an availability topic: the will is a retained `offline`, every
/// connect publishes a retained `online` and the Home Assistant discovery configs, a clean stop a retained
/// `offline`. Statuses are retained (a late subscriber sees the last one); events are not.
///
/// A thread of the client's own runs libmosquitto's loop, which connects, reconnects with exponential back-off
/// (1 s doubling to 30 s, as the cameras) and runs the callbacks. Sends never wait for the broker: they go through
/// `OutboundQueue`, whose bound counts messages waiting for a connection and those sent but not yet confirmed; past
/// it they are dropped and counted in `anomalyd_mqtt_dropped_total`. While the broker is down messages wait, in
/// order, and go out on reconnect.
public final class MQTTPublisher: MessageMirror {
    public let settings: MQTTSettings
    public let topics: MQTTTopics
    public let clientID: String
    private nonisolated(unsafe) let client: OpaquePointer
    private let logger: Logger
    private let state: Mutex<State>
    private let droppedCounters: [MQTTDropReason: Counter]
    private let connectedGauge = Gauge(label: "anomalyd_mqtt_connected")
    private let connectsCounter = Counter(label: "anomalyd_mqtt_connects_total")

    private struct State {
        var queue: OutboundQueue
        var connected = false
        /// Connects so far: a send that failed for want of a connection only marks the client disconnected when no
        /// connect came since it started.
        var generation = 0
        /// One thread at a time sends from the queue, so messages keep their order.
        var draining = false
        var pipelines: [String] = []
        var closed = false
    }

    private enum Lifecycle { case idle, running, closed }
    /// Apart from `state`: a connect attempt may block (name resolution) while holding it, and sends must not wait.
    private let lifecycle = Mutex(Lifecycle.idle)
    private let loopEnded = DispatchSemaphore(value: 0)

    private static let libraryReady: Bool = mosquitto_lib_init() == MOSQ_ERR_SUCCESS.rawValue

    /// Makes the client; nothing connects before `start()`. `pipeline` is the one pipeline the process runs, if so
    /// (it names the client and the availability topic).
    public init(settings: MQTTSettings, pipeline only: String?, host: String = ProcessInfo.processInfo.hostName,
                logger: Logger) throws {
        if let (key, problem) = settings.firstInvalid { throw MQTTError.invalidSetting(field: key.stringValue, reason: problem) }
        self.settings = settings
        self.logger = logger
        topics = MQTTTopics(settings: settings, pipeline: only)
        clientID = settings.clientID(host: host, pipeline: only)
        state = Mutex(State(queue: OutboundQueue(bound: settings.queue)))
        droppedCounters = Dictionary(uniqueKeysWithValues: MQTTDropReason.allCases.map {
            ($0, Counter(label: "anomalyd_mqtt_dropped_total", dimensions: [("reason", $0.rawValue)]))
        })
        guard Self.libraryReady, let client = mosquitto_new(clientID, true, nil) else {
            throw MQTTError.invalidSetting(field: "client_id", reason: "libmosquitto could not make a client: \(String(cString: strerror(errno)))")
        }
        self.client = client
        do {
            try check(mosquitto_will_set(client, topics.availability, Int32(MQTTTopics.offline.count), Array(MQTTTopics.offline),
                                         Int32(settings.qos), true), "topic_prefix")
            if let user = settings.username {
                try check(mosquitto_username_pw_set(client, user, settings.password), "username")
            }
            if let tls = settings.tls {
                try check(mosquitto_tls_set(client, tls.caFile, nil, tls.certFile, tls.keyFile, nil), "tls")
            }
            // Constant arguments libmosquitto accepts (it refuses only out-of-range ones).
            mosquitto_reconnect_delay_set(client, 1, 30, true)
            // The loop runs on a thread of ours, and sends come from others.
            mosquitto_threaded_set(client, true)
        } catch {
            mosquitto_destroy(client)
            throw error
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        mosquitto_user_data_set(client, me)
        mosquitto_connect_callback_set(client) { _, me, rc in MQTTPublisher.from(me).didConnect(rc) }
        mosquitto_disconnect_callback_set(client) { _, me, rc in MQTTPublisher.from(me).didDisconnect(rc) }
        mosquitto_publish_callback_set(client) { _, me, _ in MQTTPublisher.from(me).didPublish() }
    }

    deinit {
        // The client's thread holds this object until it ends, so nothing can call back into it now.
        mosquitto_destroy(client)
    }

    /// Starts connecting in the background. A broker that is down or unknown now is retried, never waited for.
    public func start() {
        guard lifecycle.withLock({ l in
            guard l == .idle else { return false }
            l = .running
            return true
        }) else { return }
        connectedGauge.record(0)
        Thread { self.runLoop() }.start()
    }

    /// The client's thread. `mosquitto_loop_forever` reconnects by itself after a connection is lost, but gives up
    /// on what it takes for fatal (a failed TLS handshake, e.g. with a broker restarting) and a first attempt that
    /// fails at once (refused, unknown host) never starts it: so it is started again here, with the same back-off.
    private func runLoop() {
        defer { loopEnded.signal() }
        var delay = 1
        while true {
            let connects = state.withLock { $0.generation }
            let rc = lifecycle.withLock { l -> Int32? in
                guard l == .running else { return nil }
                return mosquitto_connect_async(client, settings.host, Int32(settings.effectivePort), Int32(settings.keepaliveSeconds))
            }
            guard let rc else { return }
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                let end = mosquitto_loop_forever(client, 1000, 1)
                guard lifecycle.withLock({ $0 == .running }) else { return }
                if state.withLock({ $0.generation }) != connects { delay = 1 }
                logger.warning("MQTT client stopped; starting it again", metadata: [
                    "broker": "\(settings.host):\(settings.effectivePort)", "error": "\(Self.describe(end))", "retry_in_s": "\(delay)"])
            } else {
                logger.warning("MQTT broker not reachable; retrying with back-off", metadata: [
                    "broker": "\(settings.host):\(settings.effectivePort)", "error": "\(Self.describe(rc))", "retry_in_s": "\(delay)"])
            }
            // In steps, so that close() does not wait for the back-off.
            for _ in 0..<(delay * 10) where lifecycle.withLock({ $0 == .running }) { usleep(100_000) }
            delay = min(delay * 2, 30)
        }
    }

    /// Publishes a retained `offline` when connected and disconnects; waits at most 2 s for the client's thread to
    /// write what it holds and end.
    public func close() {
        let running = lifecycle.withLock { l in
            defer { l = .closed }
            return l == .running
        }
        let connected = state.withLock { s in
            s.closed = true
            return s.connected
        }
        guard running else { return }
        if connected {
            _ = MQTTTopics.offline.withUnsafeBytes {
                mosquitto_publish(client, nil, topics.availability, Int32($0.count), $0.baseAddress, Int32(settings.qos), true)
            }
        }
        // Connected, the loop writes what is queued, then the DISCONNECT, and returns; otherwise it returns at the
        // end of its back-off, and the thread keeps this object until then.
        mosquitto_disconnect(client)
        _ = loopEnded.wait(timeout: .now() + 2)
        connectedGauge.record(0)
    }

    // MARK: MessageMirror

    public func register(pipeline: String) {
        let connected = state.withLock { s in
            if !s.pipelines.contains(pipeline) { s.pipelines.append(pipeline) }
            return s.connected
        }
        // When not connected, the next connect announces it with the others.
        if connected, let announcement = discovery(pipeline) { enqueue(announcement) }
    }

    public func forward(_ json: Data, kind: TopicKind, pipeline: String) {
        switch kind {
        case .event, .model, .feedback: enqueue(OutboundMessage(topic: topics.topic(pipeline: pipeline, kind: kind.rawValue), payload: json, retain: false))
        case .status: enqueue(OutboundMessage(topic: topics.topic(pipeline: pipeline, kind: kind.rawValue), payload: json, retain: true))
        case .heartbeat, .score: return  // the availability topic does what heartbeats do on ZeroMQ
        }
    }

    // MARK: Figures

    public var isConnected: Bool { state.withLock { $0.connected } }
    public func dropped(_ reason: MQTTDropReason) -> UInt64 { state.withLock { $0.queue.dropped[reason] ?? 0 } }
    /// Messages waiting or in flight.
    public var held: Int { state.withLock { $0.queue.held } }

    // MARK: Internals

    private func enqueue(_ message: OutboundMessage) {
        let accepted = mutate { $0.queue.offer(message) }
        if accepted { drain() }
    }

    /// Hands waiting messages to libmosquitto while connected; one thread at a time.
    private func drain() {
        guard state.withLock({ s in
            guard s.connected, !s.draining else { return false }
            s.draining = true
            return true
        }) else { return }
        while true {
            let next = state.withLock { s -> (OutboundMessage, Int)? in
                guard s.connected, let m = s.queue.take() else {
                    s.draining = false
                    return nil
                }
                return (m, s.generation)
            }
            guard let (message, generation) = next else { return }
            let rc = message.payload.withUnsafeBytes {
                mosquitto_publish(client, nil, message.topic, Int32($0.count), $0.baseAddress, Int32(settings.qos), message.retain)
            }
            guard rc != MOSQ_ERR_SUCCESS.rawValue else { continue }
            mutate { s in
                if rc == MOSQ_ERR_NO_CONN.rawValue {
                    s.queue.putBack(message)
                    if s.generation == generation { s.connected = false }
                } else {
                    s.queue.refused()
                }
            }
            if rc != MOSQ_ERR_NO_CONN.rawValue {
                logger.warning("MQTT publish refused", metadata: ["topic": "\(message.topic)", "error": "\(Self.describe(rc))"])
            }
        }
    }

    /// A state change; drops it made are added to `anomalyd_mqtt_dropped_total`.
    @discardableResult
    private func mutate<T>(_ body: (inout State) -> T) -> T {
        let (result, added) = state.withLock { s in
            let before = s.queue.dropped
            let result = body(&s)
            return (result, s.queue.dropped.map { ($0.key, $0.value - (before[$0.key] ?? 0)) })
        }
        for (reason, n) in added where n > 0 { droppedCounters[reason]?.increment(by: Int64(n)) }
        return result
    }

    private func discovery(_ pipeline: String) -> OutboundMessage? {
        topics.discoveryTopic(pipeline: pipeline).map {
            OutboundMessage(topic: $0, payload: topics.discoveryConfig(pipeline: pipeline), retain: true)
        }
    }

    // Callbacks, on the client's thread.

    private static func from(_ me: UnsafeMutableRawPointer?) -> MQTTPublisher {
        Unmanaged<MQTTPublisher>.fromOpaque(me!).takeUnretainedValue()
    }

    private func didConnect(_ rc: Int32) {
        guard rc == 0 else {
            // The broker refused (e.g. bad credentials); the loop tries again after its back-off.
            logger.error("MQTT broker refused the connection", metadata: [
                "broker": "\(settings.host):\(settings.effectivePort)", "reason": "\(String(cString: mosquitto_connack_string(rc)))"])
            return
        }
        // Availability and discovery go first, ahead of waiting messages and past the bound: a few per pipeline,
        // and a restarted broker without persistence has lost the retained ones.
        let generation = mutate { s -> Int in
            let announcements = [OutboundMessage(topic: topics.availability, payload: MQTTTopics.online, retain: true)]
                + s.pipelines.compactMap(discovery)
            for m in announcements.reversed() { s.queue.putFirst(m) }
            s.connected = true
            s.generation += 1
            return s.generation
        }
        connectedGauge.record(1)
        connectsCounter.increment()
        logger.notice("MQTT connected", metadata: [
            "broker": "\(settings.host):\(settings.effectivePort)", "client_id": "\(clientID)", "connects": "\(generation)"])
        drain()
    }

    private func didDisconnect(_ rc: Int32) {
        let (closing, wasConnected) = mutate { s -> (Bool, Bool) in
            defer { s.connected = false }
            s.queue.disconnected(qos: settings.qos)
            return (s.closed, s.connected)
        }
        connectedGauge.record(0)
        guard !closing else { return }
        logger.warning(wasConnected ? "MQTT connection lost; reconnecting with back-off" : "MQTT broker not reachable; retrying with back-off",
                       metadata: ["broker": "\(settings.host):\(settings.effectivePort)", "error": "\(Self.describe(rc))"])
    }

    private func didPublish() { state.withLock { $0.queue.confirmed() } }

    private static func describe(_ rc: Int32) -> String {
        rc == MOSQ_ERR_ERRNO.rawValue ? String(cString: strerror(errno)) : String(cString: mosquitto_strerror(rc))
    }
}

private func check(_ rc: Int32, _ field: String) throws {
    guard rc == MOSQ_ERR_SUCCESS.rawValue else {
        throw MQTTError.invalidSetting(field: field, reason: String(cString: mosquitto_strerror(rc)))
    }
}
