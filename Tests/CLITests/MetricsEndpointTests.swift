import Foundation
import TestSupport
import XCTest

/// `metrics.listen` serves Prometheus text with the metric names of CONVENTIONS.md §6, `/healthz` and `/readyz`,
/// scraped over real HTTP from a daemon that learns a tiny model and detects on a looping recording.
final class MetricsEndpointTests: XCTestCase {
    func testMetricsHealthAndReadiness() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try ServiceHarness.video(in: dir)
        let zmqPort = freeLocalPort(), httpPort = freeLocalPort()
        let config = dir.appendingPathComponent("cam.yaml").path
        func write(_ extra: String = "") throws {
            try """
            publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)"}
            metrics: {listen: "127.0.0.1:\(httpPort)"}
            defaults:
              teacher: \(CLI.teacher)
              state_dir: \(dir.path)/state
            pipelines:
              cam:
                source: \(video)
                loop: true
                realtime: true
                sample_fps: 10
                learning: {frames: 40}
                detector: {student_depth: 1, epochs: 1}
            \(extra)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write()
        let daemon = try ServiceHarness.Daemon(config: config, environment: [:], log: dir.appendingPathComponent("daemon.log").path)
        defer { daemon.stop() }

        var health: (status: Int, body: String)?
        let up = Date().addingTimeInterval(60)
        while health == nil && Date() < up && daemon.process.isRunning {
            usleep(200_000)
            health = ServiceHarness.get(port: httpPort, "/healthz")
        }
        XCTAssertEqual(health?.status, 200, daemon.output)

        // Detecting: the model's info appears; then scored frames are counted and grow.
        func scrape() -> String { ServiceHarness.get(port: httpPort, "/metrics")?.body ?? "" }
        let deadline = Date().addingTimeInterval(120)
        var metrics = scrape()
        while ServiceHarness.sample(metrics, "anomalyd_frames_total", ["pipeline": "cam", "stage": "infer"]) ?? 0 < 5
            && Date() < deadline && daemon.process.isRunning {
            usleep(500_000)
            metrics = scrape()
        }
        let scored = try XCTUnwrap(ServiceHarness.sample(metrics, "anomalyd_frames_total", ["pipeline": "cam", "stage": "infer"]),
                                   "no scored frames: \(metrics)\n\(daemon.output)")
        Thread.sleep(forTimeInterval: 2)
        metrics = scrape()
        let later = try XCTUnwrap(ServiceHarness.sample(metrics, "anomalyd_frames_total", ["pipeline": "cam", "stage": "infer"]))
        XCTAssertGreaterThan(later, scored, "frames keep being counted")

        for name in ["anomalyd_frames_total", "anomalyd_frames_dropped_total", "anomalyd_stage_duration_seconds_bucket",
                     "anomalyd_frame_age_seconds_bucket", "anomalyd_queue_depth", "anomalyd_source_up",
                     "anomalyd_source_reconnects_total", "anomalyd_last_frame_timestamp_seconds", "anomalyd_anomaly_score_bucket",
                     "anomalyd_publish_dropped_total", "anomalyd_model_info", "anomalyd_threshold"] {
            XCTAssertNotNil(ServiceHarness.sample(metrics, name, ["pipeline": "cam"]), "\(name) missing:\n\(metrics)")
        }
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
            ServiceHarness.sample(metrics, name, labels.merging(["pipeline": "cam"]) { $1 }) ?? -1
        }
        XCTAssertGreaterThanOrEqual(value("anomalyd_frames_total", ["stage": "learn"]), 40)
        XCTAssertGreaterThanOrEqual(value("anomalyd_frames_total", ["stage": "decode"]), value("anomalyd_frames_total", ["stage": "ingest"]))
        XCTAssertGreaterThanOrEqual(value("anomalyd_frames_total", ["stage": "ingest"]), later)
        XCTAssertEqual(value("anomalyd_source_up"), 1)
        XCTAssertEqual(value("anomalyd_threshold"), 0.5)
        XCTAssertEqual(value("anomalyd_model_info"), 1)
        XCTAssertEqual(value("anomalyd_frames_dropped_total", ["reason": "frames_queue_full"]), 0, "a file source blocks, never drops")
        // Refused publishes by cause; nobody subscribes here, so none.
        for reason in ["subscriber_queue_full", "too_large", "socket_error"] {
            XCTAssertEqual(value("anomalyd_publish_dropped_total", ["reason": reason]), 0, reason)
        }
        XCTAssertLessThan(abs(value("anomalyd_last_frame_timestamp_seconds") - Date().timeIntervalSince1970), 10)
        // Every scored frame lands in the score histogram (+Inf bucket), and inference took measurable time.
        XCTAssertGreaterThanOrEqual(value("anomalyd_anomaly_score_count"), 1)
        XCTAssertEqual(value("anomalyd_anomaly_score_bucket", ["le": "+Inf"]), value("anomalyd_anomaly_score_count"))
        XCTAssertGreaterThan(value("anomalyd_stage_duration_seconds_sum", ["stage": "infer"]), 0)
        XCTAssertTrue(metrics.contains("# TYPE anomalyd_stage_duration_seconds histogram"), metrics)

        let ready = ServiceHarness.get(port: httpPort, "/readyz")
        XCTAssertEqual(ready?.status, 200, ready?.body ?? "")

        // A pipeline whose source is missing makes the process not ready, and says which and why; it stays alive.
        try write("  ghost:\n    source: \(dir.path)/missing.mp4\n    state_dir: \(dir.path)/ghost")
        daemon.signal(SIGHUP)
        var notReady: (status: Int, body: String)?
        let reloaded = Date().addingTimeInterval(20)
        repeat {
            usleep(200_000)
            notReady = ServiceHarness.get(port: httpPort, "/readyz")
        } while notReady?.status != 503 && Date() < reloaded
        XCTAssertEqual(notReady?.status, 503, daemon.output)
        XCTAssertTrue(notReady?.body.contains("ghost: ") ?? false, notReady?.body ?? "")
        XCTAssertFalse(notReady?.body.contains("cam:") ?? true, "cam is streaming: \(notReady?.body ?? "")")
        XCTAssertEqual(ServiceHarness.get(port: httpPort, "/healthz")?.status, 200)
        XCTAssertEqual(ServiceHarness.get(port: httpPort, "/nothing-here")?.status, 404)
        daemon.stop()
        XCTAssertEqual(daemon.process.terminationStatus, 0, daemon.output)
    }

    /// READY=1 waits for the metrics port; a port another process holds is an error naming `metrics.listen`, and
    /// no READY=1 is ever sent (systemd then reports the start as failed instead of a daemon without metrics).
    func testAMetricsPortInUseFailsTheStartBeforeReady() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-metrics-busy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try ServiceHarness.video(in: dir)
        // The port is held by a listening socket of this test for the daemon's whole life.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0
            }
        }
        XCTAssertTrue(listening)
        let busyPort = Int(UInt16(bigEndian: address.sin_port))
        let config = dir.appendingPathComponent("cam.yaml").path
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(freeLocalPort())"}
        metrics: {listen: "127.0.0.1:\(busyPort)"}
        pipelines:
          cam:
            source: \(video)
            teacher: \(CLI.teacher)
            state_dir: \(dir.path)/state
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let notify = ServiceHarness.NotifySocket()
        defer { notify.close() }
        let daemon = try ServiceHarness.Daemon(config: config, environment: ["NOTIFY_SOCKET": notify.path],
                                               log: dir.appendingPathComponent("daemon.log").path)
        defer { daemon.stop() }
        let deadline = Date().addingTimeInterval(60)
        while daemon.process.isRunning && Date() < deadline { usleep(100_000) }
        XCTAssertFalse(daemon.process.isRunning, "the daemon kept running without its metrics port: \(daemon.output)")
        XCTAssertNotEqual(daemon.process.terminationStatus, 0)
        XCTAssertTrue(daemon.output.contains("metrics.listen 127.0.0.1:\(busyPort): cannot listen"), daemon.output)
        XCTAssertNil(notify.waitFor("READY=1", timeout: 0), "READY=1 was sent: \(notify.datagrams.map(\.text))")
    }
}
