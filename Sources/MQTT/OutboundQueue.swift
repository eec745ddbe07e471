import Foundation

/// One MQTT message to send.
public struct OutboundMessage: Sendable, Equatable {
    public var topic: String
    public var payload: Data
    public var retain: Bool

    public init(topic: String, payload: Data, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.retain = retain
    }
}

/// Why a message never reached the broker: the `reason` of `anomalyd_mqtt_dropped_total`.
public enum MQTTDropReason: String, Sendable, CaseIterable {
    /// `queue` messages were already held (the broker is down or slow): the new one was refused.
    case queueFull = "queue_full"
    /// A QoS 0 message libmosquitto had not yet written when the connection dropped (it keeps only QoS 1 and 2).
    case disconnected
    /// libmosquitto refused it (e.g. larger than MQTT allows).
    case refused
}

/// The bound in front of the broker: messages waiting for a connection plus those handed to libmosquitto and not yet
/// confirmed (written for QoS 0, acknowledged for QoS 1 and 2) never exceed `bound`; past it a new message is
/// dropped and counted, so a dead broker costs memory up to the bound and never blocks the sender. Waiting messages
/// keep their order. Not thread-safe: `MQTTPublisher` holds it under a lock.
public struct OutboundQueue: Sendable {
    public let bound: Int
    private var waiting: [OutboundMessage] = []
    /// Index of the first waiting message (popping from the front without shifting the array).
    private var head = 0
    /// Handed to libmosquitto, not yet confirmed.
    public private(set) var inFlight = 0
    public private(set) var dropped: [MQTTDropReason: UInt64] = [:]

    public init(bound: Int) { self.bound = bound }

    public var waitingCount: Int { waiting.count - head }
    public var held: Int { waitingCount + inFlight }

    /// Queues a message behind the waiting ones; false (and counted) when `bound` messages are already held.
    public mutating func offer(_ message: OutboundMessage) -> Bool {
        guard held < bound else {
            drop(.queueFull)
            return false
        }
        waiting.append(message)
        return true
    }

    /// The next waiting message, now counted in flight.
    public mutating func take() -> OutboundMessage? {
        guard head < waiting.count else { return nil }
        let message = waiting[head]
        head += 1
        // Compact once the consumed front is most of the array: taking stays O(1) amortised and the memory bounded.
        if head > waiting.count / 2 {
            waiting.removeFirst(head)
            head = 0
        }
        inFlight += 1
        return message
    }

    /// A taken message libmosquitto would not take for want of a connection: it waits again, first in line.
    public mutating func putBack(_ message: OutboundMessage) {
        inFlight = max(0, inFlight - 1)
        putFirst(message)
    }

    /// A message that goes before all waiting ones, past the bound (the availability and discovery announcements
    /// of a connect: a few, and each replaces its predecessor at the broker).
    public mutating func putFirst(_ message: OutboundMessage) {
        if head > 0 {
            head -= 1
            waiting[head] = message
        } else {
            waiting.insert(message, at: 0)
        }
    }

    /// A taken message libmosquitto refused for good.
    public mutating func refused() {
        inFlight = max(0, inFlight - 1)
        drop(.refused)
    }

    /// libmosquitto wrote (QoS 0) or the broker acknowledged (QoS 1, 2) a message.
    public mutating func confirmed() { inFlight = max(0, inFlight - 1) }

    /// The connection dropped: with QoS 0 what libmosquitto held is gone (counted); QoS 1 and 2 messages stay with
    /// libmosquitto, which sends them again after reconnecting.
    public mutating func disconnected(qos: Int) {
        guard qos == 0 else { return }
        if inFlight > 0 { drop(.disconnected, inFlight) }
        inFlight = 0
    }

    public var droppedTotal: UInt64 { dropped.values.reduce(0, +) }

    private mutating func drop(_ reason: MQTTDropReason, _ n: Int = 1) {
        dropped[reason, default: 0] += UInt64(n)
    }
}
