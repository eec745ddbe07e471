import Foundation
import XCTest
import Config

/// Values `anomalyd check` used to accept and the runtime then rejected, crashed on or grew without bound on
/// (issues 13 and 14): each is now a configuration error naming its file, line and field.
final class CheckAgreesWithRunTests: XCTestCase {
    /// `FeatureGaussian.fit` refuses to keep all the variance (it would whiten the features' null space): learning
    /// failed after minutes, on every restart.
    func testVarianceKeptOfOneIsRejected() {
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    detector: {variance_kept: 1}\n",
                       line: 4, field: "pipelines.a.detector.variance_kept", contains: "expected a share in (0, 1), got 1.0")
        XCTAssertNoThrow(try parse("pipelines:\n  a:\n    source: x.mp4\n    detector: {variance_kept: 0.99}\n"))
    }

    /// The pipeline refuses to learn from fewer than 40 frames; the check allowed 20.
    func testLearningFramesBelowThePipelinesMinimumAreRejected() throws {
        for frames in [20, 39] {
            assertRejected("pipelines:\n  a:\n    source: x.mp4\n    learning: {frames: \(frames)}\n",
                           line: 4, field: "pipelines.a.learning.frames", contains: "40...10000 frames")
        }
        XCTAssertNoThrow(try parse("pipelines:\n  a:\n    source: x.mp4\n    learning: {frames: 40}\n"))
    }

    /// Each of these passed the check, then crashed the process (a Double to Int conversion, a Duration, an
    /// allocation of 2^64 bytes), grew its memory without bound, or restarted a pipeline for ever.
    func testValuesTheRuntimeCannotUseAreRejectedByName() {
        let cases: [(yaml: String, line: Int, field: String, contains: String)] = [
            ("pipelines:\n  a: {source: x.mp4, batch: {max_wait_ms: .inf}}", 2, "pipelines.a.batch.max_wait_ms", "got inf"),
            ("pipelines:\n  a: {source: x.mp4, batch: {max_wait_ms: 1e300}}", 2, "pipelines.a.batch.max_wait_ms", "[0, 10000] ms"),
            ("publisher: {heartbeat_s: .inf}\npipelines:\n  a: {source: x.mp4}", 1, "publisher.heartbeat_s", "got inf"),
            ("publisher: {status_s: .inf}\npipelines:\n  a: {source: x.mp4}", 1, "publisher.status_s", "got inf"),
            ("pipelines:\n  a: {source: x.mp4, detector: {student_depth: 9223372036854775807}}", 2,
             "pipelines.a.detector.student_depth", "0 (no student) to 48 blocks"),
            ("pipelines:\n  a: {source: x.mp4, learning: {frames: 9223372036854775807}}", 2,
             "pipelines.a.learning.frames", "150528 bytes each"),
            ("pipelines:\n  a: {source: x.mp4, stall_timeout_s: .nan}", 2, "pipelines.a.stall_timeout_s", "got nan"),
            ("publisher: {send_high_water_mark: 0}\npipelines:\n  a: {source: x.mp4}", 1, "publisher.send_high_water_mark", "got 0"),
            ("pipelines:\n  a: {source: x.mp4, decision: {max_duration_s: .nan}}", 2, "pipelines.a.decision.max_duration_s", "got nan"),
            ("pipelines:\n  a: {source: x.mp4, detector: {learning_rate: .inf}}", 2, "pipelines.a.detector.learning_rate", "got inf"),
        ]
        for c in cases { assertRejected(c.yaml, line: c.line, field: c.field, contains: c.contains) }
    }

    /// One pipeline would run the other's model after a restart.
    func testPipelinesSharingAStateDirectoryAreRejected() {
        assertRejected("""
            pipelines:
              a: {source: x.mp4, state_dir: /srv/state/a}
              b: {source: y.mp4, state_dir: /srv/state/./a/}
            """, line: 3, field: "pipelines.b.state_dir", contains: "pipelines 'a' and 'b' share the state directory /srv/state/a")
        assertRejected("""
            defaults:
              state_dir: /srv/state
            pipelines:
              a: {source: x.mp4}
              b: {source: y.mp4}
            """, line: 2, field: "defaults.state_dir", contains: "share the state directory /srv/state")
        XCTAssertNoThrow(try parse("defaults: {state_dir: /srv/state}\npipelines:\n  a: {source: x.mp4}\n"))
        XCTAssertNoThrow(try parse("pipelines:\n  a: {source: x.mp4}\n  b: {source: y.mp4}\n"), "the default is per name")
    }

    func testAnEmptyPipelineNameSaysSo() {
        assertRejected("pipelines:\n  \"\": {source: x.mp4}\n", line: 2, field: "pipelines", contains: "a pipeline's name is empty")
        assertRejected("pipelines:\n  ? [a, b]\n  : {source: x.mp4}\n", line: 2, field: "pipelines", contains: "a pipeline's name is a list")
        assertRejected("pipelines:\n  \(String(repeating: "a", count: 65)): {source: x.mp4}\n", line: 2, field: "pipelines",
                       contains: "names are 1 to 64 of a-z")
    }

    /// A NUL cut the path short and another file was read.
    func testANULInAnyPathIsRejected() {
        let cases: [(yaml: String, field: String)] = [
            ("pipelines:\n  a: {source: \"x\\0.mp4\"}", "pipelines.a.source"),
            ("pipelines:\n  a: {source: x.mp4, teacher: \"t\\0.safetensors\"}", "pipelines.a.teacher"),
            ("pipelines:\n  a: {source: x.mp4, state_dir: \"/srv/\\0a\"}", "pipelines.a.state_dir"),
            ("pipelines:\n  a: {source: \"rtsp://cam/s\", credentials_file: \"/run/c\\0\"}", "pipelines.a.credentials_file"),
            ("publisher: {curve_secret_key_file: \"/etc/k\\0\"}\npipelines:\n  a: {source: x.mp4}", "publisher.curve_secret_key_file"),
            ("publisher: {endpoint: \"ipc:///run/a\\0\"}\npipelines:\n  a: {source: x.mp4}", "publisher.endpoint"),
            ("metrics: {listen: \"127.0.0.1\\0:9108\"}\npipelines:\n  a: {source: x.mp4}", "metrics.listen"),
        ]
        for c in cases {
            XCTAssertThrowsError(try parse(c.yaml)) { error in
                guard let e = error as? ConfigError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.field, c.field, "\(e)")
                XCTAssertNotNil(e.line, "\(e)")
                XCTAssertFalse(e.description.contains("\0"), "the NUL is escaped in the message")
            }
        }
    }

    func testEmptyAndOverlongStringsAreRejected() {
        assertRejected("pipelines:\n  a: {source: x.mp4, teacher: ''}\n", line: 2, field: "pipelines.a.teacher", contains: "empty")
        assertRejected("pipelines:\n  a: {source: x.mp4, state_dir: ''}\n", line: 2, field: "pipelines.a.state_dir", contains: "empty")
        assertRejected("pipelines:\n  a: {source: ''}\n", line: 2, field: "pipelines.a.source", contains: "empty")
        assertRejected("publisher: {endpoint: ''}\npipelines:\n  a: {source: x.mp4}\n", line: 1, field: "publisher.endpoint",
                       contains: "expected a ZeroMQ endpoint")
        let long = "/srv/" + String(repeating: "v", count: 5000) + ".mp4"
        assertRejected("pipelines:\n  a: {source: \(long)}\n", line: 2, field: "pipelines.a.source", contains: "at most 4096 bytes")
        assertRejected("pipelines:\n  a: {source: x.mp4, rtsp_transport: \(String(repeating: "u", count: 5000))}\n", line: 2,
                       field: "pipelines.a.rtsp_transport", contains: "expected 'tcp' or 'udp'")
        XCTAssertThrowsError(try parse("pipelines:\n  a: {source: x.mp4, rtsp_transport: \(String(repeating: "u", count: 5000))}\n")) {
            XCTAssertLessThan("\($0)".count, 400, "a long value is cut in the message")
        }
    }

    func testAFileThatIsNotUTF8IsRejectedAtItsLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("pipelines:\n  a: {source: \"x\u{e9}".utf8 + [0xFF] + "\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ConfigLoader.load(path: path)) { error in
            guard let e = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.line, 2, "\(e)")
            XCTAssertEqual(e.column, 18, "\(e)")
            XCTAssertTrue(e.message.contains("not UTF-8"), "\(e)")
        }
    }

    /// 8,000 pipelines took 13.5 s and 32,000 over 120 s: each key lookup in the `pipelines` mapping scanned it.
    /// The work (this thread's CPU time, not the wall clock) must grow linearly: 8x the pipelines, at most 16x the
    /// work (quadratic growth would be 64x).
    func testCheckWorkGrowsLinearlyWithThePipelines() throws {
        func yaml(_ n: Int) -> String {
            "defaults:\n  sample_fps: 5\n  detector: {epochs: 3}\npipelines:\n"
                + (0..<n).map { "  p\($0): {source: /v/\($0).mp4}\n" }.joined()
        }
        func work(_ text: String, pipelines: Int) throws -> Double {
            var best = Double.infinity
            for _ in 0..<2 {
                var start = timespec(), end = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
                let c = try ConfigLoader.parse(text, file: configFile)
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
                XCTAssertEqual(c.pipelines.count, pipelines)
                best = min(best, Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9)
            }
            return best
        }
        let small = try work(yaml(500), pipelines: 500), large = try work(yaml(4000), pipelines: 4000)
        XCTAssertLessThan(large / small, 16, "500 pipelines: \(small) s, 4000: \(large) s of CPU time")
    }
}
