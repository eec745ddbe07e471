import Foundation
import MQTT
import XCTest
@testable import Config

/// The `mqtt:` section: optional, its keys and values checked where declared, its files checked at load, and every
/// error naming the file, line and field with what was expected.
final class MQTTConfigTests: XCTestCase {
    private let pipelines = "pipelines:\n  a:\n    source: x.mp4\n"

    func testAbsentIsOffAndDefaultsAreFrigateLike() throws {
        XCTAssertNil(try parse(pipelines).mqtt)
        let m = try XCTUnwrap(try parse("mqtt: {host: broker.lan}\n" + pipelines).mqtt)
        XCTAssertEqual(m.effectivePort, 1883)
        XCTAssertEqual(m.topicPrefix, "anomalyd")
        XCTAssertEqual(m.qos, 1)
        XCTAssertEqual(m.discoveryPrefix, "homeassistant")
        XCTAssertNil(m.password)
    }

    func testDiscoveryCanBeTurnedOffButNotOnWithTrue() throws {
        XCTAssertNil(try parse("mqtt: {host: h, discovery_prefix: false}\n" + pipelines).mqtt?.discoveryPrefix)
        XCTAssertEqual(try parse("mqtt: {host: h, discovery_prefix: ha}\n" + pipelines).mqtt?.discoveryPrefix, "ha")
        assertRejected("mqtt:\n  host: h\n  discovery_prefix: true\n" + pipelines, line: 3, field: "mqtt.discovery_prefix",
                       contains: "or false, got true")
    }

    func testBadValuesNameTheirField() {
        assertRejected("mqtt:\n  port: 1883\n" + pipelines, line: nil, field: "mqtt.host", contains: "expected the broker's host")
        assertRejected("mqtt:\n  host: h\n  qos: 3\n" + pipelines, line: 3, field: "mqtt.qos", contains: "expected 0, 1 or 2, got 3")
        assertRejected("mqtt:\n  host: h\n  topic_prefix: site/#\n" + pipelines, line: 3, field: "mqtt.topic_prefix",
                       contains: "without wildcards")
        assertRejected("mqtt:\n  host: h\n  hots: x\n" + pipelines, line: 3, field: "mqtt.hots", contains: "expected one of: client_id")
        assertRejected("mqtt:\n  host: h\n  qos: one\n" + pipelines, line: 3, field: "mqtt.qos", contains: "expected")
        assertRejected("mqtt:\n  host: h\n  password_file: /x\n" + pipelines, line: 3, field: "mqtt.password_file",
                       contains: "expected username beside password_file")
    }

    func testTLSIsASectionOfItsOwn() throws {
        let ca = try temporaryFile("ca")
        defer { try? FileManager.default.removeItem(atPath: ca) }
        XCTAssertEqual(try parse("mqtt:\n  host: h\n  tls: {ca_file: \(ca)}\n" + pipelines).mqtt?.effectivePort, 8883)
        assertRejected("mqtt:\n  host: h\n  tls:\n    ca_file: \(ca)\n    cafile: x\n" + pipelines, line: 5, field: "mqtt.tls.cafile",
                       contains: "unknown key")
        assertRejected("mqtt:\n  host: h\n  tls:\n    ca_file: \(ca)\n    cert_file: \(ca)\n" + pipelines, line: nil,
                       field: "mqtt.tls.key_file", contains: "cert_file and key_file together")
        assertRejected("mqtt:\n  host: h\n  tls:\n    cert_file: \(ca)\n" + pipelines, line: nil, field: "mqtt.tls.ca_file",
                       contains: "required key is missing")
        assertRejected("mqtt:\n  host: h\n  tls:\n    ca_file: /nonexistent/ca.pem\n" + pipelines, line: 4, field: "mqtt.tls.ca_file",
                       contains: "/nonexistent/ca.pem does not exist; expected the PEM certificate")
    }

    func testThePasswordComesFromItsFile() throws {
        let file = try temporaryFile("s3cret\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let m = try parse("mqtt:\n  host: h\n  username: anomalyd\n  password_file: \(file)\n" + pipelines).mqtt
        XCTAssertEqual(m?.password, "s3cret")
        assertRejected("mqtt:\n  host: h\n  username: u\n  password_file: /nonexistent/pw\n" + pipelines, line: 4,
                       field: "mqtt.password_file", contains: "/nonexistent/pw does not exist; expected a file holding the broker password")
        let empty = try temporaryFile("\n")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        assertRejected("mqtt:\n  host: h\n  username: u\n  password_file: \(empty)\n" + pipelines, line: 4,
                       field: "mqtt.password_file", contains: "is empty; expected the broker password")
    }
}
