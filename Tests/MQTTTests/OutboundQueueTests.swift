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
