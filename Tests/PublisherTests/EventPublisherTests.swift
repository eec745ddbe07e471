import Decisions
import Foundation
import XCTest
@testable import Publisher

final class EventPublisherTests: XCTestCase {
    func testSubscriberReceivesTopicsSchemasAndGapFreeSeq() async throws {
        let pub = try EventPublisher.loopback()
        try await pub.register(pipeline: "line3")
        let sub = try PythonSubscriber.start(endpoint: pub.endpoint, prefixes: ["anomaly/line3/"])
        try await pub.waitForSubscriptions(1)
        let episode = try Episodes.full()
        let jpeg = Data([0xFF, 0xD8] + [UInt8](repeating: 7, count: 300) + [0xFF, 0xD9])

        let reported = try await pub.report(Episodes.status, pipeline: "line3")
        XCTAssertEqual(reported, .queued)
        for (i, d) in episode.enumerated() {
            let delivery = try await pub.publish(d, pipeline: "line3", model: Episodes.model, latency: Episodes.latency,
                                                 evidence: i == 0 ? jpeg : nil)
            XCTAssertEqual(delivery, .queued)
            if i == 0 { try await pub.publishHeartbeats() }
        }
        let r = try await sub.waitFor("5 messages") { $0.count >= 5 }.map(Received.init)
        await pub.close()
        XCTAssertTrue(r[1].raw.hasPrefix(#"{"end_time":null,"frame":{"height":1080,"#), "compact, sorted keys: \(r[1].raw)")
        XCTAssertTrue(r[1].raw.contains(#""schema":"anomalyd.event/1""#), "slashes not escaped: \(r[1].raw)")
        XCTAssertFalse(r[1].raw.contains("\n"), "one JSON object per line")

        XCTAssertEqual(r.map(\.topic), ["anomaly/line3/status", "anomaly/line3/event", "anomaly/line3/heartbeat",
                                        "anomaly/line3/event", "anomaly/line3/event"])
        XCTAssertEqual(r.map(\.seq), [1, 2, 3, 4, 5], "seq rises by 1 across event, status and heartbeat")
        XCTAssertEqual(r.map(\.parts), [2, 3, 2, 2, 2], "only the first event carried a JPEG")
        XCTAssertEqual(r[1].jpeg, jpeg.count)
        XCTAssertEqual(r.map { $0.message["schema"] as? String },
                       ["anomalyd.status/1", "anomalyd.event/1", "anomalyd.heartbeat/1", "anomalyd.event/1", "anomalyd.event/1"])

        let new = r[1].message, update = r[3].message, end = r[4].message
        XCTAssertEqual(Set(new.keys), ["schema", "type", "id", "seq", "pipeline", "host", "time", "start_time", "end_time",
                                       "frame", "score", "peak_score", "raw_score", "threshold", "sensitivity", "region",
                                       "model", "latency_ms"])
        XCTAssertEqual(Set(end.keys), Set(new.keys).union(["reason"]))
        XCTAssertEqual([new, update, end].map { $0["type"] as? String }, ["new", "update", "end"])
        XCTAssertEqual(Set([new, update, end].map { $0["id"] as? String }).count, 1, "one id per episode")
        let id = try XCTUnwrap(new["id"] as? String)
        XCTAssertNotNil(id.range(of: #"^line3-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$"#, options: .regularExpression), id)
        XCTAssertTrue(new["end_time"] is NSNull, "end_time is null until the end")
        XCTAssertEqual(end["reason"] as? String, "below_threshold")
        for key in ["time", "start_time"] {
            let t = try XCTUnwrap(new[key] as? String)
            XCTAssertNotNil(t.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression), t)
        }
        XCTAssertNotNil((end["end_time"] as? String)?.range(of: #"\.\d{3}Z$"#, options: .regularExpression))
        XCTAssertEqual(new["host"] as? String, "test-host")
        XCTAssertEqual(new["pipeline"] as? String, "line3")
        XCTAssertEqual(new["threshold"] as? Double, 0.5)
        XCTAssertEqual(new["peak_score"] as? Double, 0.7)
        XCTAssertEqual(update["peak_score"] as? Double, 0.9)
        let frame = try XCTUnwrap(new["frame"] as? [String: Any])
        XCTAssertEqual(frame["index"] as? Int, 98_001)
        XCTAssertEqual(frame["width"] as? Int, 1920)
        XCTAssertEqual(frame["height"] as? Int, 1080)
        XCTAssertEqual(frame["pts_seconds"] as? Double, 0.04)
        let region = try XCTUnwrap(new["region"] as? [String: Any])
        XCTAssertEqual(region["grid"] as? [Int], [14, 14])
        XCTAssertEqual(region["peak_cell"] as? [Int], [6, 9])
        XCTAssertEqual(region["bbox"] as? [Int], [1234, 462, 1371, 540])
        XCTAssertEqual((new["model"] as? [String: Any])?["version"] as? String, "20261122T030000Z-3c9e1a")
        let latency = try XCTUnwrap(new["latency_ms"] as? [String: Any])
        XCTAssertEqual(latency["decode"] as? Double, 6.1)
        XCTAssertEqual(latency["infer"] as? Double, 41)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(latency["end_to_end"] as? Double), 0)

        let status = r[0].message
        XCTAssertEqual(status["state"] as? String, "detecting")
        XCTAssertTrue(status["detail"] is NSNull)
        XCTAssertEqual((status["source"] as? [String: Any])?["state"] as? String, "up")
        XCTAssertTrue((status["source"] as? [String: Any])?["last_frame_time"] is NSNull)
        let counters = try XCTUnwrap(status["counters"] as? [String: Any])
        XCTAssertEqual(counters["frames_decoded"] as? Int, 10)
        XCTAssertEqual(counters["publish_dropped"] as? Int, 0)
        let heartbeat = r[2].message
        XCTAssertEqual(heartbeat["state"] as? String, "detecting")
        XCTAssertEqual(heartbeat["interval_seconds"] as? Double, 5)
        XCTAssertEqual(heartbeat["publish_dropped"] as? Int, 0)
    }

    func testPrefixLine3DoesNotReceiveLine30() async throws {
        let pub = try EventPublisher.loopback()
        try await pub.register(pipeline: "line3")
        try await pub.register(pipeline: "line30")
        let line3 = try PythonSubscriber.start(endpoint: pub.endpoint, prefixes: ["anomaly/line3/"])
        let all = try PythonSubscriber.start(endpoint: pub.endpoint, prefixes: ["anomaly/"])
        try await pub.waitForSubscriptions(2)
        try await pub.publishHeartbeats()  // line3, then line30
        try await pub.report(Episodes.status, pipeline: "line30")
        try await pub.report(Episodes.status, pipeline: "line3")  // the last message: everything before it has arrived
        let mine = try await line3.waitFor("line3's status") { $0.contains { $0.contains("anomaly/line3/status") } }
            .map(Received.init)
        let everything = try await all.waitFor("4 messages") { $0.count >= 4 }.map(Received.init)
        await pub.close()
        XCTAssertEqual(mine.map(\.topic), ["anomaly/line3/heartbeat", "anomaly/line3/status"])
        XCTAssertEqual(everything.map(\.topic), ["anomaly/line3/heartbeat", "anomaly/line30/heartbeat",
                                                 "anomaly/line30/status", "anomaly/line3/status"])
        XCTAssertEqual(everything.map(\.seq), [1, 1, 2, 2], "seq is per pipeline")
    }

    func testStalledSubscriberDropsAreCountedAndPublishingDoesNotBlock() async throws {
        let pub = try EventPublisher.loopback { $0.sendHighWaterMark = 10 }
        try await pub.register(pipeline: "line3")
        let sub = try PythonSubscriber.start(endpoint: pub.endpoint, prefixes: ["anomaly/line3/"], stalled: true)
        try await pub.waitForSubscriptions(1)
        let update = try Episodes.full()[1]
        // 16 KB of evidence per message so 10,000 of them overflow the socket buffers as well as the HWM.
        let jpeg = Data(repeating: 0xAB, count: 16_384)
        let attempts = 10_000
        let burst = try await withTimeout(60) {
            var dropped = 0
            for _ in 0..<attempts {
                let d = try await pub.publish(update, pipeline: "line3", model: Episodes.model, latency: Episodes.latency,
                                              evidence: jpeg)
                if d == .dropped { dropped += 1 }
            }
            return dropped
        }
        let droppedEvents = try XCTUnwrap(burst, "publishing to a subscriber that never reads blocked")
        let counted = await pub.publishDropped(pipeline: "line3")
        XCTAssertGreaterThan(droppedEvents, 0)
        XCTAssertEqual(Int(counted), droppedEvents)

        sub.send("go")
        // A status marks the end; it is retried until the now-reading subscriber has room (a dropped change is
        // not remembered as sent, so reporting it again sends it again).
        let deadline = Date().addingTimeInterval(30)
        while try await pub.report(Episodes.status, pipeline: "line3") != .queued, Date() < deadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let received = try await sub.waitFor("the marker status") { $0.last?.contains("anomaly/line3/status") == true }
            .map(Received.init)
        let totalDropped = Int(await pub.publishDropped(pipeline: "line3"))
        await pub.close()
        let events = received.filter { $0.topic == "anomaly/line3/event" }
        XCTAssertEqual(events.count, attempts - droppedEvents, "delivered = attempts - dropped")
        XCTAssertEqual(events.first?.jpeg, jpeg.count)
        let marker = try XCTUnwrap(received.last)
        XCTAssertEqual(marker.seq - received.count, totalDropped, "the seq gaps are exactly the drops")
        XCTAssertEqual((marker.message["counters"] as? [String: Any])?["publish_dropped"] as? Int, totalDropped,
                       "status reports the drop counter as of its send")
    }

    func testPublishingWithNoSubscriberNeverBlocks() async throws {
        let pub = try EventPublisher.loopback { $0.sendHighWaterMark = 1 }
        try await pub.register(pipeline: "line3")
        let update = try Episodes.full()[1]
        let outcomes = try await withTimeout(60) {
            var queued = 0
            for _ in 0..<10_000 {
                let d = try await pub.publish(update, pipeline: "line3", model: Episodes.model, latency: Episodes.latency)
                if d == .queued { queued += 1 }
            }
            return queued
        }
        XCTAssertEqual(try XCTUnwrap(outcomes, "publishing with no subscriber blocked"), 10_000,
                       "with nobody subscribed nothing is refused")
        let dropped = await pub.publishDropped(pipeline: "line3")
        XCTAssertEqual(dropped, 0)
        await pub.close()
    }

    func testCloseWithPendingMessagesReturnsWithinLinger() async throws {
        let pub = try EventPublisher.loopback { $0.sendHighWaterMark = 10; $0.lingerMilliseconds = 300 }
        try await pub.register(pipeline: "line3")
        let sub = try PythonSubscriber.start(endpoint: pub.endpoint, prefixes: ["anomaly/"], stalled: true)
        try await pub.waitForSubscriptions(1)
        let update = try Episodes.full()[1]
        let jpeg = Data(repeating: 1, count: 16_384)
        // Keep offering messages well past the first drop so the socket buffers fill too, not only the HWM queue.
        for _ in 0..<10_000 {
            try await pub.publish(update, pipeline: "line3", model: Episodes.model, latency: Episodes.latency, evidence: jpeg)
        }
        let dropped = await pub.publishDropped(pipeline: "line3")
        XCTAssertGreaterThan(dropped, 0, "the queue must be full, so messages are pending at close")
        // Linger 0.3 s; the rest of the bound is scheduling slack, not a speed claim. The subscriber stays
        // connected (and stalled) throughout, so the queued messages really are pending.
        let closed: Void? = try await withTimeout(0.3 + 5) { await pub.close() }
        // Stop here if it hung: the actor is still blocked in close(), so any further call would hang too.
        guard closed != nil else { return XCTFail("close() with pending messages did not return within the linger bound") }
        do {
            try await pub.publish(update, pipeline: "line3", model: Episodes.model, latency: Episodes.latency)
            XCTFail("publishing after close must fail")
        } catch let e as PublisherError {
            XCTAssertEqual(e, .closed(endpoint: pub.endpoint))
        }
        XCTAssertTrue(sub.process.isRunning, "the stalled subscriber stayed connected while closing")
    }

    func testBindingAnEndpointInUseNamesItAndSaysWhy() async throws {
        let first = try EventPublisher.loopback()
        var settings = PublisherSettings()
        settings.endpoint = first.endpoint
        XCTAssertThrowsError(try EventPublisher(settings: settings)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(first.endpoint), text)
            XCTAssertTrue(text.contains("Address already in use"), text)
        }
        await first.close()
    }

    func testTimersSendHeartbeatsAndStatusPeriodically() async throws {
        let pub = try EventPublisher.loopback { $0.heartbeatIntervalSeconds = 0.1; $0.statusIntervalSeconds = 0.2 }
        try await pub.register(pipeline: "line3")
        let sub = try PythonSubscriber.start(endpoint: pub.endpoint, prefixes: ["anomaly/line3/"])
        try await pub.waitForSubscriptions(1)
        try await pub.report(Episodes.status, pipeline: "line3")
        await pub.startTimers()
        let lines = try await sub.waitFor("3 heartbeats and 3 statuses") { lines in
            lines.filter { $0.contains("/heartbeat") }.count >= 3 && lines.filter { $0.contains("/status") }.count >= 3
        }.map(Received.init)
        await pub.close()
        XCTAssertEqual(lines.map(\.seq), Array(1...lines.count))
        XCTAssertEqual(lines.first?.topic, "anomaly/line3/status", "the first report goes out at once")
    }

    func testStatusIsSentAtOnceOnlyOnMaterialChange() async throws {
        let pub = try EventPublisher.loopback()
        try await pub.register(pipeline: "line3")
        var status = Episodes.status
        var outcome = try await pub.report(status, pipeline: "line3")
        XCTAssertEqual(outcome, .queued)
        status.counters.framesDecoded += 100
        outcome = try await pub.report(status, pipeline: "line3")
        XCTAssertNil(outcome, "counters alone wait for the periodic status")
        status.state = .reconnecting
        status.source.state = .down
        outcome = try await pub.report(status, pipeline: "line3")
        XCTAssertEqual(outcome, .queued)
        await pub.close()
    }

    func testPipelineNamesAreChecked() async throws {
        let pub = try EventPublisher.loopback()
        do {
            try await pub.register(pipeline: "Line3")
            XCTFail("upper case must be rejected")
        } catch let e as PublisherError {
            XCTAssertEqual("\(e)", "invalid pipeline name 'Line3': use lowercase letters, digits, '_' and '-'")
        }
        do {
            try await pub.report(Episodes.status, pipeline: "line9")
            XCTFail("an unregistered pipeline must be rejected")
        } catch let e as PublisherError {
            XCTAssertEqual(e, .unknownPipeline("line9", endpoint: pub.endpoint))
        }
        await pub.close()
    }

    func testSettingsValidationNamesTheField() {
        var s = PublisherSettings()
        s.sendHighWaterMark = 0
        XCTAssertThrowsError(try EventPublisher(settings: s)) { XCTAssertTrue("\($0)".contains("send_high_water_mark"), "\($0)") }
        s = PublisherSettings()
        s.lingerMilliseconds = -1
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("linger_ms"), "\($0)") }
    }
}

final class MessageTests: XCTestCase {
    func testEventRoundTripsThroughJSON() throws {
        let d = try Episodes.full()
        for decision in d {
            let e = AnomalyEvent(decision, seq: 7, pipeline: "line3", host: "h", model: Episodes.model, latency: Episodes.latency)
            XCTAssertEqual(try JSONDecoder().decode(AnomalyEvent.self, from: JSONEncoder().encode(e)), e)
        }
    }

    func testSeqTrackerReportsGapsAndRestarts() {
        var t = SeqTracker()
        XCTAssertNil(t.observe(pipeline: "line3", seq: 17), "joining midway is not a gap")
        XCTAssertEqual(t.observe(pipeline: "line3", seq: 20), "gap: pipeline line3 seq 17 -> 20 (2 lost)")
        XCTAssertNil(t.observe(pipeline: "line30", seq: 1), "pipelines are tracked separately")
        XCTAssertNil(t.observe(pipeline: "line3", seq: 21))
        XCTAssertEqual(t.observe(pipeline: "line3", seq: 1), "restart: pipeline line3 seq 21 -> 1 (publisher restarted)")
    }
}
