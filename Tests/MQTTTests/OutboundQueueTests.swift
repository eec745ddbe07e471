import Foundation
import Logging
import MQTT
import Publisher
import TestSupport
import XCTest

/// The bound in front of the broker, without one: what is held never exceeds `queue`, the rest is counted as
/// dropped, waiting messages keep their order, and a send never waits for a broker that is not there.
final class OutboundQueueTests: XCTestCase {
    private func message(_ i: Int) -> OutboundMessage {
        OutboundMessage(topic: "anomalyd/cam/event", payload: Data("{\"seq\":\(i)}".utf8), retain: false)
    }

    func testOffersPastTheBoundAreDroppedAndCounted() {
        var q = OutboundQueue(bound: 3)
        let accepted = (1...5).map { q.offer(message($0)) }
        XCTAssertEqual(accepted, [true, true, true, false, false])
        XCTAssertEqual(q.dropped[.queueFull], 2)
        XCTAssertEqual(q.held, 3)
        // In order, and what is in flight still counts against the bound until confirmed.
        XCTAssertEqual(q.take(), message(1))
        XCTAssertEqual(q.take(), message(2))
        XCTAssertFalse(q.offer(message(6)), "two in flight and one waiting fill a bound of 3")
        q.confirmed()
        XCTAssertTrue(q.offer(message(7)))
        XCTAssertEqual(q.take(), message(3))
        XCTAssertEqual(q.take(), message(7))
        XCTAssertNil(q.take())
        XCTAssertEqual(q.dropped[.queueFull], 3)
    }

    func testAMessageWithoutAConnectionWaitsFirstInLine() {
        var q = OutboundQueue(bound: 10)
        for i in 1...3 { _ = q.offer(message(i)) }
        let first = q.take()!
        q.putBack(first)
        XCTAssertEqual(q.inFlight, 0)
        XCTAssertEqual((0..<3).compactMap { _ in q.take() }, [message(1), message(2), message(3)])
    }

    func testQoS0MessagesUnwrittenAtADisconnectAreCountedLost() {
        var q = OutboundQueue(bound: 10)
        for i in 1...4 { _ = q.offer(message(i)) }
        for _ in 1...3 { _ = q.take() }
        q.confirmed()
        q.disconnected(qos: 0)
        XCTAssertEqual(q.dropped[.disconnected], 2)
        XCTAssertEqual(q.held, 1)
        // QoS 1 messages stay with libmosquitto, which resends them: nothing lost, still held.
        _ = q.take()
        q.disconnected(qos: 1)
        XCTAssertEqual(q.held, 1)
        XCTAssertEqual(q.droppedTotal, 2)
    }

    func testAnnouncementsGoFirstPastTheBound() {
        var q = OutboundQueue(bound: 2)
        _ = q.offer(message(1))
        _ = q.offer(message(2))
        let online = OutboundMessage(topic: "anomalyd/available", payload: Data("online".utf8), retain: true)
        q.putFirst(online)
        XCTAssertEqual(q.take(), online)
        XCTAssertEqual(q.take(), message(1))
    }

    /// The real client with no broker listening: forwarding returns at once, `queue` messages are held and the rest
    /// are counted as dropped.
    func testNoBrokerNeverBlocksAndDropsPastTheBound() throws {
        var settings = MQTTSettings(host: "127.0.0.1")
        settings.port = freeLocalPort()  // nothing listens there
        settings.queue = 50
        let client = try MQTTPublisher(settings: settings, pipeline: nil, logger: Logger(label: "test"))
        client.start()
        defer { client.close() }
        client.register(pipeline: "cam")
        let started = Date()
        for i in 1...200 { client.forward(Data("{\"seq\":\(i)}".utf8), kind: .event, pipeline: "cam") }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 0.5, "200 sends to a dead broker took \(elapsed) s")
        XCTAssertFalse(client.isConnected)
        XCTAssertEqual(client.held, 50)
        XCTAssertEqual(client.dropped(.queueFull), 150)
        // Heartbeats stay on ZeroMQ: neither held nor dropped.
        client.forward(Data("{}".utf8), kind: .heartbeat, pipeline: "cam")
        XCTAssertEqual(client.dropped(.queueFull), 150)
    }
}

/// The real client and a real broker that is not there yet when the client starts: the client keeps trying, and
/// what was sent meanwhile goes out once the broker is up.
final class LateBrokerTests: XCTestCase {
    func testMessagesQueuedBeforeTheBrokerStartsArriveAfterwards() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-late-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeLocalPort()
        var settings = MQTTSettings(host: "127.0.0.1")
        settings.port = port
        let client = try MQTTPublisher(settings: settings, pipeline: nil, logger: Logger(label: "test"))
        client.start()
        defer { client.close() }
        // Statuses are retained, so a subscriber that comes after the client connected still gets them.
        for name in ["a", "b", "c"] {
            client.register(pipeline: name)
            client.forward(Data("{\"pipeline\":\"\(name)\"}".utf8), kind: .status, pipeline: name)
        }
        XCTAssertEqual(client.held, 3)

        let conf = dir.appendingPathComponent("mosquitto.conf").path
        try "listener \(port) 127.0.0.1\nallow_anonymous true\nuser \(NSUserName())\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        broker.arguments = ["-c", conf]
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        defer { broker.terminate(); broker.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while !client.isConnected && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(client.isConnected, "no connect within 10 s of the broker starting")
        while client.held > 0 && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(client.held, 0, "everything acknowledged")

        let sub = Process(), out = Pipe()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", "anomalyd/#", "-t", "homeassistant/#", "-C", "7", "-W", "5", "-v"]
        sub.standardOutput = out
        try sub.run()
        sub.waitUntilExit()
        let lines = Set(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init))
        XCTAssertTrue(lines.contains("anomalyd/available online"), "\(lines)")
        for name in ["a", "b", "c"] {
            XCTAssertTrue(lines.contains("anomalyd/\(name)/status {\"pipeline\":\"\(name)\"}"), "\(lines)")
            XCTAssertTrue(lines.contains { $0.hasPrefix("homeassistant/binary_sensor/anomalyd_\(name)/config {") }, "\(lines)")
        }
        XCTAssertEqual(client.dropped(.queueFull), 0)
    }
}

/// QoS 1 messages the broker never acknowledged (it froze, then died) are sent again after the reconnect, and the
/// bound they held is freed once the new broker acknowledges them.
final class UnacknowledgedMessagesTests: XCTestCase {
    func testUnacknowledgedMessagesAreResentAfterAReconnect() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-resend-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freeLocalPort()
        let conf = dir.appendingPathComponent("mosquitto.conf").path
        try "listener \(port) 127.0.0.1\nallow_anonymous true\nuser \(NSUserName())\n".write(toFile: conf, atomically: true, encoding: .utf8)
        func broker() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
            p.arguments = ["-c", conf]
            p.standardError = FileHandle.nullDevice
            try p.run()
            let up = Date().addingTimeInterval(10)
            while !localPortAccepts(port) && Date() < up { usleep(50_000) }
            return p
        }
        var first = try broker()
        var settings = MQTTSettings(host: "127.0.0.1")
        settings.port = port
        settings.keepaliveSeconds = 5
        let client = try MQTTPublisher(settings: settings, pipeline: nil, logger: Logger(label: "test"))
        client.start()
        defer { client.close() }
        let deadline = Date().addingTimeInterval(10)
        while (!client.isConnected || client.held > 0) && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(client.isConnected)

        kill(first.processIdentifier, SIGSTOP)
        for i in 1...5 { client.forward(Data("{\"seq\":\(i)}".utf8), kind: .event, pipeline: "cam") }
        usleep(300_000)
        XCTAssertEqual(client.held, 5, "sent, never acknowledged")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()

        let sub = Process(), out = Pipe()
        first = try broker()
        defer { first.terminate(); first.waitUntilExit() }
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", "anomalyd/cam/event", "-C", "5", "-W", "20"]
        sub.standardOutput = out
        try sub.run()
        sub.waitUntilExit()
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, (1...5).map { "{\"seq\":\($0)}" }, "resent in order")
        let acknowledged = Date().addingTimeInterval(5)
        while client.held > 0 && Date() < acknowledged { usleep(50_000) }
        XCTAssertEqual(client.held, 0, "acknowledged: the bound is free again")
        XCTAssertEqual(client.dropped(.queueFull) + client.dropped(.disconnected), 0)
    }
}
