import Foundation

/// A second transport fed by `EventPublisher` with the very bytes it sends over ZeroMQ (e.g. MQTT), so every
/// transport carries the same JSON, seq included. Both calls are made on the publisher's actor and must return at
/// once: a mirror queues or drops, it never waits on its network.
public protocol MessageMirror: Sendable {
    /// A pipeline was registered with the publisher.
    func register(pipeline: String)
    /// An event, status or model message, as encoded for ZeroMQ (heartbeats stay on ZeroMQ).
    func forward(_ json: Data, kind: TopicKind, pipeline: String)
}
