import Foundation

/// The daemon's MQTT topic tree, Frigate's layout under another prefix: `<prefix>/<pipeline>/event|status|model`
/// and the availability topic `<prefix>/available` (`frigate/available`), or `<prefix>/<pipeline>/available` when
/// the process runs a single pipeline (`--pipeline`, one process per camera): each process has one last will, so
/// several processes sharing one availability topic would mark each other offline.
public struct MQTTTopics: Sendable, Equatable {
    public let prefix: String
    public let availability: String
    public let discoveryPrefix: String?

    public static let online = Data("online".utf8)
    public static let offline = Data("offline".utf8)

    public init(settings: MQTTSettings, pipeline only: String?) {
        let prefix = settings.topicPrefix
        self.prefix = prefix
        availability = only.map { "\(prefix)/\($0)/available" } ?? "\(prefix)/available"
        discoveryPrefix = settings.discoveryPrefix
    }

    /// `<prefix>/<pipeline>/<kind>`.
    public func topic(pipeline: String, kind: String) -> String { "\(prefix)/\(pipeline)/\(kind)" }

    /// Home Assistant's discovery topic for the pipeline's binary sensor, nil when discovery is off.
    public func discoveryTopic(pipeline: String) -> String? {
        discoveryPrefix.map { "\($0)/binary_sensor/anomalyd_\(pipeline)/config" }
    }

    /// The retained discovery config: one binary sensor per pipeline (device class `problem`), on while an episode is
    /// open. Its state comes from the event JSON itself: `new` and `update` turn it on, `end` off. Pipeline names are
    /// unique within a topic tree, so `anomalyd_<pipeline>` is a unique id within a broker.
    public func discoveryConfig(pipeline: String) -> Data {
        let config = DiscoveryConfig(
            name: "Anomaly", uniqueID: "anomalyd_\(pipeline)", objectID: "anomalyd_\(pipeline)",
            stateTopic: topic(pipeline: pipeline, kind: "event"),
            valueTemplate: "{{ 'OFF' if value_json.type == 'end' else 'ON' }}",
            jsonAttributesTopic: topic(pipeline: pipeline, kind: "event"),
            availabilityTopic: availability,
            device: .init(identifiers: ["anomalyd_\(pipeline)"], name: "anomalyd \(pipeline)"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain strings only: encoding cannot fail.
        return try! encoder.encode(config)
    }
}

/// Home Assistant's MQTT binary sensor discovery payload (the keys it documents, unabbreviated).
struct DiscoveryConfig: Encodable {
    struct Device: Encodable {
        var identifiers: [String]
        var name: String
        var manufacturer = "anomalyd"
        var model = "camera anomaly detector"
    }
    var name: String
    var uniqueID: String
    var objectID: String
    var stateTopic: String
    var valueTemplate: String
    var payloadOn = "ON"
    var payloadOff = "OFF"
    var deviceClass = "problem"
    var jsonAttributesTopic: String
    var availabilityTopic: String
    var payloadAvailable = "online"
    var payloadNotAvailable = "offline"
    var device: Device

    enum CodingKeys: String, CodingKey {
        case name, uniqueID = "unique_id", objectID = "object_id", stateTopic = "state_topic"
        case valueTemplate = "value_template", payloadOn = "payload_on", payloadOff = "payload_off"
        case deviceClass = "device_class", jsonAttributesTopic = "json_attributes_topic"
        case availabilityTopic = "availability_topic", payloadAvailable = "payload_available"
        case payloadNotAvailable = "payload_not_available", device
    }
}
