import Foundation
import MQTT
import XCTest

final class MQTTTopicsTests: XCTestCase {
    func testTopicsAndAvailabilityFollowTheProcessScope() {
        var settings = MQTTSettings(host: "broker")
        settings.topicPrefix = "site/anomalyd"
        let all = MQTTTopics(settings: settings, pipeline: nil)
        XCTAssertEqual(all.topic(pipeline: "belt", kind: "event"), "site/anomalyd/belt/event")
        XCTAssertEqual(all.availability, "site/anomalyd/available")
        // One process per pipeline: each has its own will, so its own availability topic.
        XCTAssertEqual(MQTTTopics(settings: settings, pipeline: "belt").availability, "site/anomalyd/belt/available")
        XCTAssertEqual(settings.clientID(host: "box", pipeline: "belt"), "anomalyd-box-belt")
        XCTAssertEqual(settings.clientID(host: "box", pipeline: nil), "anomalyd-box")
    }

    func testDiscoveryConfigIsABinarySensorOnTheEventTopic() throws {
        let topics = MQTTTopics(settings: MQTTSettings(host: "broker"), pipeline: nil)
        XCTAssertEqual(topics.discoveryTopic(pipeline: "belt"), "homeassistant/binary_sensor/anomalyd_belt/config")
        let config = try JSONSerialization.jsonObject(with: topics.discoveryConfig(pipeline: "belt")) as! [String: Any]
        XCTAssertEqual(config["state_topic"] as? String, "anomalyd/belt/event")
        XCTAssertEqual(config["availability_topic"] as? String, "anomalyd/available")
        XCTAssertEqual(config["unique_id"] as? String, "anomalyd_belt")
        XCTAssertEqual(config["device_class"] as? String, "problem")
        XCTAssertEqual(config["value_template"] as? String, "{{ 'OFF' if value_json.type == 'end' else 'ON' }}")
        XCTAssertEqual((config["device"] as? [String: Any])?["identifiers"] as? [String], ["anomalyd_belt"])

        var off = MQTTSettings(host: "broker")
        off.discoveryPrefix = nil
        XCTAssertNil(MQTTTopics(settings: off, pipeline: nil).discoveryTopic(pipeline: "belt"))
    }
}
