import Foundation
import TestSupport
import XCTest

/// The daemon publishing to a real mosquitto broker beside ZeroMQ, watched by a real `mosquitto_sub` and the pyzmq
/// subscriber. Events arrive on MQTT with the very JSON of ZeroMQ; the broker is killed and restarted mid-run,
/// which costs a reconnect, not detection (events keep coming on ZeroMQ meanwhile) and not the events of the outage
/// (they wait in the bounded queue); availability is `online` while the daemon runs and `offline` once it stops.
final class MQTTDaemonTests: XCTestCase {
    /// A broker on `port`, persisting every second into `dir`, so that the subscriber's session (and what is queued
    /// for it) survives a kill -9 as it would on a real site. As this user: started by root, mosquitto would switch to
    /// user `mosquitto`, who cannot write `dir`.
    private func broker(_ dir: URL, port: Int) throws -> Process {
        let conf = dir.appendingPathComponent("mosquitto.conf").path
        try """
        listener \(port) 127.0.0.1
        allow_anonymous true
        persistence true
        persistence_location \(dir.path)/
        autosave_interval 1
        user \(NSUserName())
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

    /// Writes `<name>.yaml` in `dir`: the daemon-level `sections` and one pipeline `cam` on `video`, looped and paced,
    /// learning with the defaults in `dir/state`.
    private func camConfig(_ dir: URL, _ name: String, video: String, sections: String) throws -> String {
        let config = dir.appendingPathComponent("\(name).yaml").path
        try """
        \(sections)
        pipelines:
          cam:
            source: \(video)
            loop: true
            realtime: true
            teacher: \(CLI.teacher)
            state_dir: \(dir.path)/state
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
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
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1, status_s: 2}
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
        // The broker dies (no will from it: it is gone) as soon as an episode's `new` has reached MQTT, and comes
        // back once the episode's next event has gone out on ZeroMQ: that one waits in the queue meanwhile.
        XCTAssertTrue(waitUntil(75) { mqttEvents().contains { $0.payload.contains("\"type\":\"new\"") } }, "no event on MQTT\n\(daemon.output)")
        kill(broker.processIdentifier, SIGKILL)
        broker.waitUntilExit()
        let killedAt = Date()
        let zmqAtKill = zmqEvents().count
        XCTAssertTrue(waitUntil(30) { zmqEvents().count > zmqAtKill }, "detection stopped with the broker")
        let statusesAtKill = CLI.messages(zmqOut).filter { ($0["topic"] as? String) == "anomaly/belt/status" }.count
        broker = try self.broker(dir, port: mqttPort)
        let restartedAt = Date()
        func connects() -> Int { daemon.output.components(separatedBy: "MQTT connected").count - 1 }
        XCTAssertTrue(waitUntil(35) { connects() >= 2 }, "the daemon did not reconnect\n\(daemon.output)")
        let reconnectSeconds = Date().timeIntervalSince(restartedAt)
        let duringOutage = zmqEvents().count - zmqAtKill
        XCTAssertLessThan(reconnectSeconds, 32, "the back-off is capped at 30 s")

        // Detection went on: the pipeline kept publishing on ZeroMQ, and after the restart events reach MQTT again.
        XCTAssertTrue(waitUntil(45) { zmqEvents().count > zmqAtKill + duringOutage }, "no event on ZeroMQ after the broker restart")
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
              + "\(String(format: "%.1f", reconnectSeconds)) s after its restart; \(zmqByText.count) events (\(duringOutage) while it was down), "
              + "\(lost.count) lost on MQTT")

        // What a subscriber arriving now gets, retained: availability `offline`, the Home Assistant discovery config
        // (a binary sensor on the event topic) and the last status, with the same schema as on ZeroMQ.
        let late = Process(), out = Pipe()
        late.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        late.arguments = ["-h", "127.0.0.1", "-p", "\(mqttPort)", "-t", "anomalyd/available", "-t", "anomalyd/belt/status",
                          "-t", "homeassistant/binary_sensor/anomalyd_belt/config", "-C", "3", "-W", "5", "-F", "%j"]
        late.standardOutput = out
        try late.run()
        late.waitUntilExit()
        let retained = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let byTopic = Dictionary(retained.map { ($0["topic"] as? String ?? "", $0) }) { a, _ in a }
        XCTAssertTrue(retained.allSatisfy { ($0["retain"] as? Int) == 1 }, "\(retained)")
        XCTAssertEqual(byTopic["anomalyd/available"]?["payload"] as? String, "offline")
        let sensor = (byTopic["homeassistant/binary_sensor/anomalyd_belt/config"]?["payload"] as? String)
            .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(sensor?["state_topic"] as? String, "anomalyd/belt/event")
        XCTAssertEqual(sensor?["availability_topic"] as? String, "anomalyd/available")
        XCTAssertTrue((byTopic["anomalyd/belt/status"]?["payload"] as? String)?.contains("\"schema\":\"anomalyd.status/1\"") == true)
    }

    /// A daemon killed outright leaves it to the broker: its last will marks it `offline`. Run with `--pipeline`,
    /// its availability topic is the pipeline's own. `/metrics` says it is connected.
    func testTheWillMarksAKilledDaemonOffline() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-mqtt-will-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try ServiceHarness.video(in: dir)
        let mqttPort = freeLocalPort(), metricsPort = freeLocalPort()
        let broker = try broker(dir, port: mqttPort)
        defer { broker.terminate(); broker.waitUntilExit() }
        let config = try camConfig(dir, "will", video: video, sections: """
        publisher: {endpoint: "tcp://127.0.0.1:\(freeLocalPort())"}
        mqtt: {host: 127.0.0.1, port: \(mqttPort), discovery_prefix: false}
        metrics: {listen: "127.0.0.1:\(metricsPort)"}
        """)
        let out = dir.appendingPathComponent("mqtt.jsonl").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let sub = Process()
        sub.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        sub.arguments = ["-h", "127.0.0.1", "-p", "\(mqttPort)", "-t", "anomalyd/#", "-t", "homeassistant/#", "-F", "%j"]
        sub.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        try sub.run()
        defer { sub.terminate(); sub.waitUntilExit() }
        let daemon = try CLI.Child(CLI.binary, ["run", "--config", config, "--pipeline", "cam"])
        defer { daemon.stop() }
        func availability() -> [String] { mqttMessages(out).filter { $0.topic == "anomalyd/cam/available" }.map(\.payload) }
        func wait(for payload: String) -> Bool {
            let deadline = Date().addingTimeInterval(15)
            while availability().last != payload && Date() < deadline { usleep(100_000) }
            return availability().last == payload
        }
        XCTAssertTrue(wait(for: "online"), "\(mqttMessages(out))")
        let metrics = ServiceHarness.get(port: metricsPort, "/metrics")?.body ?? ""
        XCTAssertEqual(ServiceHarness.sample(metrics, "anomalyd_mqtt_connected"), 1, metrics)
        XCTAssertEqual(ServiceHarness.sample(metrics, "anomalyd_mqtt_connects_total"), 1)
        XCTAssertEqual(ServiceHarness.sample(metrics, "anomalyd_mqtt_dropped_total", ["reason": "queue_full"]), 0)
        daemon.stop(SIGKILL)
        XCTAssertTrue(wait(for: "offline"), "the broker did not publish the will: \(availability())")
        XCTAssertFalse(mqttMessages(out).contains { $0.topic.hasPrefix("homeassistant/") }, "discovery_prefix: false publishes none")
        XCTAssertFalse(mqttMessages(out).contains { $0.topic == "anomalyd/available" }, "one pipeline per process: its own topic")
    }

    /// No broker at all: the daemon runs and publishes on ZeroMQ as ever, and what MQTT cannot hold past `queue` is
    /// counted as dropped in /metrics.
    func testADeadBrokerCostsCountedDropsNotTheDaemon() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-mqtt-dead-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try ServiceHarness.video(in: dir)
        let zmqPort = freeLocalPort(), metricsPort = freeLocalPort()
        let config = try camConfig(dir, "dead", video: video, sections: """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", status_s: 0.2}
        mqtt: {host: 127.0.0.1, port: \(freeLocalPort()), queue: 3}
        metrics: {listen: "127.0.0.1:\(metricsPort)"}
        """)
        let zmqOut = dir.appendingPathComponent("zmq.jsonl").path
        let zmq = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                  "tcp://127.0.0.1:\(zmqPort)", zmqOut])
        XCTAssertTrue(zmq.waitFor("READY"))
        let daemon = try ServiceHarness.Daemon(config: config, environment: [:], log: dir.appendingPathComponent("daemon.log").path)
        defer {
            daemon.stop()
            zmq.stop()
        }
        func statuses() -> Int { CLI.messages(zmqOut).filter { ($0["topic"] as? String) == "anomaly/cam/status" }.count }
        func dropped() -> Double {
            ServiceHarness.sample(ServiceHarness.get(port: metricsPort, "/metrics")?.body ?? "", "anomalyd_mqtt_dropped_total",
                                  ["reason": "queue_full"]) ?? 0
        }
        let deadline = Date().addingTimeInterval(20)
        while (statuses() < 20 || dropped() < 10) && Date() < deadline { usleep(200_000) }
        XCTAssertGreaterThanOrEqual(statuses(), 20, "ZeroMQ statuses every 0.2 s\n\(daemon.output)")
        XCTAssertGreaterThanOrEqual(dropped(), 10, "statuses past the 3 held are dropped and counted")
        XCTAssertTrue(daemon.process.isRunning)
        XCTAssertTrue(daemon.output.contains("MQTT broker not reachable"), daemon.output)
        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0, "stops at once without a broker\n\(daemon.output)")
    }
}
