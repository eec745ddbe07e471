import Foundation
import TestSupport
import XCTest

/// The daemon publishing to a real mosquitto broker beside ZeroMQ, watched by a real `mosquitto_sub` and the pyzmq
/// subscriber. Events arrive on MQTT with the very JSON of ZeroMQ; the broker is killed and restarted mid-run,
/// which costs a reconnect, not detection (events keep coming on ZeroMQ meanwhile) and not the events of the outage
/// (they wait in the bounded queue); availability is `online` while the daemon runs and `offline` once it stops.
final class MQTTDaemonTests: XCTestCase {
    /// A broker on `port`, persisting every second into `dir`, so that the subscriber's session (and what is queued
    /// for it) survives a kill -9 as it would on a real site.
    private func broker(_ dir: URL, port: Int) throws -> Process {
        let conf = dir.appendingPathComponent("mosquitto.conf").path
        try """
        listener \(port) 127.0.0.1
        allow_anonymous true
        persistence true
        persistence_location \(dir.path)/
        autosave_interval 1
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        p.arguments = ["-c", conf]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while !ServiceHarness.accepts(port: port) && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(ServiceHarness.accepts(port: port), "mosquitto did not start on \(port)")
        return p
    }

    /// What `mosquitto_sub -F %j` wrote: one JSON object per message (topic, payload as text, retain).
    private func mqttMessages(_ path: String) -> [(topic: String, payload: String, retained: Bool)] {
        CLI.messages(path).compactMap { m in
            guard let topic = m["topic"] as? String, let payload = m["payload"] as? String else { return nil }
            return (topic, payload, (m["retain"] as? Int) == 1)
        }
    }

    func testEventsReachMQTTWithTheZeroMQJSONAndABrokerRestartCostsOnlyAReconnect() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-mqtt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 20 s of belt, looped: learning takes the first 8 s, novel objects enter at 10 s and 15 s of every pass.
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "20", "--novel", "10,15", "--width", "320", "--height", "180"])
        XCTAssertEqual(render.status, 0, render.stderr)

        let mqttPort = freeLocalPort(), zmqPort = freeLocalPort()
        var broker = try broker(dir, port: mqttPort)
        defer { if broker.isRunning { broker.terminate(); broker.waitUntilExit() } }
        let config = dir.appendingPathComponent("mqtt.yaml").path
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1}
        mqtt:
          host: 127.0.0.1
          port: \(mqttPort)
          client_id: anomalyd-test
          qos: 1
          keepalive_s: 5
        pipelines:
          belt:
            source: \(video)
            loop: true
            realtime: true
            teacher: \(CLI.teacher)
            sample_fps: 5
            state_dir: \(dir.path)/state
            learning: {frames: 40}
            detector: {student_depth: 1, epochs: 2, patch_memory: 0}
            decision: {frames_to_start: 2, frames_to_end: 3}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let zmqOut = dir.appendingPathComponent("zmq.jsonl").path, mqttOut = dir.appendingPathComponent("mqtt.jsonl").path
        let zmq = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                  "tcp://127.0.0.1:\(zmqPort)", zmqOut])
        XCTAssertTrue(zmq.waitFor("READY"))
        // A persistent session (-c, fixed id, QoS 1): what the broker holds for it while it reconnects is delivered.
        _ = FileManager.default.createFile(atPath: mqttOut, contents: nil)
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(mqttPort)", "-q", "1", "-c", "-i", "anomalyd-test-sub",
                         "-t", "anomalyd/#", "-t", "homeassistant/#", "-F", "%j"]
        sub.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: mqttOut))
        sub.standardError = FileHandle.nullDevice
        try sub.run()
        let daemon = try ServiceHarness.Daemon(config: config, environment: [:], log: dir.appendingPathComponent("daemon.log").path)
        defer {
            daemon.stop()
            zmq.stop()
            if sub.isRunning { sub.terminate(); sub.waitUntilExit() }
        }

        func zmqEvents() -> [[String: Any]] { CLI.messages(zmqOut).filter { ($0["topic"] as? String) == "anomaly/belt/event" } }
        func mqttEvents() -> [(topic: String, payload: String, retained: Bool)] {
            mqttMessages(mqttOut).filter { $0.topic == "anomalyd/belt/event" }
        }
        func availability() -> [String] { mqttMessages(mqttOut).filter { $0.topic == "anomalyd/available" }.map(\.payload) }
        func waitUntil(_ seconds: TimeInterval, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while !condition() && Date() < deadline && daemon.process.isRunning { usleep(100_000) }
            return condition()
        }

        XCTAssertTrue(waitUntil(15) { availability().last == "online" }, "availability: \(availability())\n\(daemon.output)")
        XCTAssertTrue(waitUntil(75) { !mqttEvents().isEmpty }, "no event on MQTT\n\(daemon.output)")

        // The broker dies (no will from it: it is gone) and comes back 3 s later.
        kill(broker.processIdentifier, SIGKILL)
        broker.waitUntilExit()
        let killedAt = Date()
        let zmqAtKill = zmqEvents().count
        let statusesAtKill = CLI.messages(zmqOut).filter { ($0["topic"] as? String) == "anomaly/belt/status" }.count
        Thread.sleep(forTimeInterval: 3)
        broker = try self.broker(dir, port: mqttPort)
        let restartedAt = Date()
        func connects() -> Int { daemon.output.components(separatedBy: "MQTT connected").count - 1 }
        XCTAssertTrue(waitUntil(35) { connects() >= 2 }, "the daemon did not reconnect\n\(daemon.output)")
        let reconnectSeconds = Date().timeIntervalSince(restartedAt)
        XCTAssertLessThan(reconnectSeconds, 32, "the back-off is capped at 30 s")

        // Detection went on: the pipeline kept publishing on ZeroMQ, and after the restart events reach MQTT again.
        XCTAssertTrue(waitUntil(45) { zmqEvents().count > zmqAtKill + 1 }, "no event on ZeroMQ after the broker restart")
        let lastZMQSeq = zmqEvents().last.flatMap { ($0["message"] as? [String: Any])?["seq"] as? Int } ?? 0
        XCTAssertTrue(waitUntil(15) {
            mqttEvents().contains { ((try? JSONSerialization.jsonObject(with: Data($0.payload.utf8))) as? [String: Any])?["seq"] as? Int == lastZMQSeq }
        }, "the event after the restart did not reach MQTT")
        XCTAssertGreaterThan(CLI.messages(zmqOut).filter { ($0["topic"] as? String) == "anomaly/belt/status" }.count, statusesAtKill)

        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0, "a SIGTERM shutdown exits cleanly\n\(daemon.output)")
        let stopped = Date().addingTimeInterval(5)
        while availability().last != "offline" && Date() < stopped { usleep(100_000) }
        XCTAssertEqual(availability().last, "offline", "availability after the daemon stopped: \(availability())")

        // The same JSON, byte for byte, for every event; none lost across the outage (QoS 1, queued meanwhile).
        let zmqByText = Set(zmqEvents().compactMap { $0["raw"] as? String })
        let mqttByText = mqttEvents().map(\.payload)
        XCTAssertFalse(zmqByText.isEmpty)
        for payload in mqttByText { XCTAssertTrue(zmqByText.contains(payload), "an MQTT event differs from every ZeroMQ one: \(payload)") }
        let lost = zmqByText.subtracting(mqttByText)
        XCTAssertTrue(lost.isEmpty, "\(lost.count) of \(zmqByText.count) events never reached MQTT")
        XCTAssertFalse(mqttEvents().contains { $0.retained }, "events are not retained")
        print("mqtt: broker down \(String(format: "%.1f", restartedAt.timeIntervalSince(killedAt))) s, reconnected "
              + "\(String(format: "%.1f", reconnectSeconds)) s after its restart; \(zmqByText.count) events, \(lost.count) lost on MQTT")

        // Home Assistant discovery: a binary sensor on the event topic, retained, available with the daemon.
        let discovery = mqttMessages(mqttOut).last { $0.topic == "homeassistant/binary_sensor/anomalyd_belt/config" }
        let sensor = discovery.flatMap { try? JSONSerialization.jsonObject(with: Data($0.payload.utf8)) as? [String: Any] }
        XCTAssertEqual(discovery?.retained, true)
        XCTAssertEqual(sensor?["state_topic"] as? String, "anomalyd/belt/event")
        XCTAssertEqual(sensor?["availability_topic"] as? String, "anomalyd/available")
        // Statuses are retained, with the same schema as on ZeroMQ.
        let status = mqttMessages(mqttOut).last { $0.topic == "anomalyd/belt/status" }
        XCTAssertTrue(status?.payload.contains("\"schema\":\"anomalyd.status/1\"") == true)
    }
}
