import Foundation
import XCTest
@testable import Config

final class ConfigLoaderTests: XCTestCase {
    func testDefaultsMergeFieldByFieldIntoPipelines() throws {
        let c = try parse("""
        defaults:
          sample_fps: 5
          decision: {sensitivity: 0.4, frames_to_start: 2}
        publisher:
          endpoint: tcp://127.0.0.1:7000
        pipelines:
          line3:
            source: /videos/a.mp4
            decision: {frames_to_start: 4}
          dock:
            source: rtsp://10.0.0.5/stream1
            sample_fps: 2
        """)
        XCTAssertEqual(c.pipelines.map(\.name), ["dock", "line3"])
        let line3 = c.pipelines[1], dock = c.pipelines[0]
        XCTAssertEqual(line3.sourceOptions.sampleFPS, 5)
        XCTAssertEqual(dock.sourceOptions.sampleFPS, 2)
        XCTAssertEqual(line3.decision.sensitivity, 0.4)
        XCTAssertEqual(line3.decision.framesToStart, 4)
        XCTAssertEqual(dock.decision.framesToStart, 2)
        XCTAssertEqual(line3.stateDir, "/var/lib/anomalyd/line3")
        XCTAssertEqual(line3.batch.maxFrames, 4)
        XCTAssertEqual(c.publisher.endpoint, "tcp://127.0.0.1:7000")
        XCTAssertNil(c.metrics.listen)
    }

    func testUnknownKeysAreRejectedWithTheirLine() {
        assertRejected("""
        pipelines:
          line3:
            source: /videos/a.mp4
            sample_fsp: 5
        """, line: 4, field: "pipelines.line3.sample_fsp", contains: "unknown key 'sample_fsp'")
        assertRejected("""
        publisher:
          endpoint: tcp://127.0.0.1:7000
          hwm: 10
        pipelines:
          a: {source: x.mp4}
        """, line: 3, field: "publisher.hwm", contains: "send_high_water_mark")
        assertRejected("cameras: {}\npipelines:\n  a: {source: x.mp4}\n", line: 1, field: "cameras", contains: "unknown key")
    }

    func testEveryFieldTypeIsChecked() {
        let cases: [(String, String, String)] = [
            ("sample_fps: fast", "pipelines.a.sample_fps", "expected a number"),
            ("realtime: maybe", "pipelines.a.realtime", "expected true or false"),
            ("loop: 3", "pipelines.a.loop", "expected true or false"),
            ("batch: 4", "pipelines.a.batch", "mapping"),
            ("batch: {max_frames: 2.5}", "pipelines.a.batch.max_frames", "expected an integer"),
            ("learning: {frames: many}", "pipelines.a.learning.frames", "expected an integer"),
            ("detector: {epochs: [1, 2]}", "pipelines.a.detector.epochs", "expected a single value, found a list"),
            ("decision: {sensitivity: high}", "pipelines.a.decision.sensitivity", "expected a number"),
            ("source: [a, b]", "pipelines.a.source", "expected a single value, found a list"),
        ]
        for (line, field, message) in cases {
            assertRejected("pipelines:\n  a:\n    source: x.mp4\n    \(line)\n".replacingOccurrences(of: "    source: x.mp4\n    source: [a, b]", with: "    source: [a, b]"),
                           line: nil, field: field, contains: message)
        }
    }

    func testValuesOutOfRangeNameTheirField() {
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    decision: {sensitivity: 1.5}\n",
                       line: 4, field: "pipelines.a.decision.sensitivity", contains: "[0, 1]")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    sample_fps: 0\n", line: 4, field: "pipelines.a.sample_fps", contains: "[0.01, 120]")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    resize: stretch\n", line: 4, field: "pipelines.a.resize",
                       contains: "expected 'squash' or 'crop', got 'stretch'")
        assertRejected("pipelines:\n  Line3: {source: x.mp4}\n", line: 2, field: "pipelines", contains: "pipeline name 'Line3': names are 1 to 64 of a-z")
        assertRejected("pipelines:\n  a: {sample_fps: 3}\n", line: 2, field: "pipelines.a", contains: "no 'source'")
        assertRejected("pipelines: {}\n", line: 1, field: "pipelines", contains: "no pipelines")
        assertRejected("publisher: {endpoint: 'localhost:5556'}\npipelines:\n  a: {source: x.mp4}\n",
                       line: 1, field: "publisher.endpoint", contains: "tcp://HOST:PORT")
        assertRejected("metrics: {listen: nine}\npipelines:\n  a: {source: x.mp4}\n", line: 1, field: "metrics.listen", contains: "HOST:PORT")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    detector: {gaussian_feature: patches}\n",
                       line: 4, field: "pipelines.a.detector.gaussian_feature", contains: "expected 'cls' or 'cls+patch_mean', got 'patches'")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    detector: {gaussian_covariance: diagonal}\n",
                       line: 4, field: "pipelines.a.detector.gaussian_covariance", contains: "expected 'pca' or 'ledoit_wolf', got 'diagonal'")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    detector: {student_score: max}\n",
                       line: 4, field: "pipelines.a.detector.student_score", contains: "expected 'mean' or 'channel_profile', got 'max'")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    detector: {fusion: stouffer}\n",
                       line: 4, field: "pipelines.a.detector.fusion", contains: "expected 'min_p' or 'fisher', got 'stouffer'")
        assertRejected("pipelines:\n  a:\n    source: x.mp4\n    detector: {variance_kept: 1.5}\n",
                       line: 4, field: "pipelines.a.detector.variance_kept", contains: "(0, 1)")
    }

    func testMissingPipelinesKeyAndSyntaxErrors() {
        assertRejected("publisher: {endpoint: 'tcp://127.0.0.1:1'}\n", line: 1, field: "pipelines", contains: "required key 'pipelines' is missing")
        XCTAssertThrowsError(try parse("pipelines:\n  a: {source: x.mp4\n")) { error in
            let e = error as! ConfigError
            XCTAssertNotNil(e.line)
            XCTAssertTrue(e.message.contains("YAML syntax error"), "\(e)")
        }
        XCTAssertThrowsError(try parse("")) { XCTAssertTrue("\($0)".contains("empty")) }
    }

    func testMissingFileIsNamed() {
        XCTAssertThrowsError(try ConfigLoader.load(path: "/nonexistent/anomalyd.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/anomalyd.yaml"), "\(error)")
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }

    func testCredentialsOnlyFromEnvironmentOrFile() throws {
        let yaml = "pipelines:\n  a:\n    source: rtsp://${CAM_USER}:${CAM_PASS}@10.0.0.5:554/stream1\n"
        let c = try parse(yaml, env: ["CAM_USER": "admin", "CAM_PASS": "p@ss:w"])
        XCTAssertEqual(c.pipelines[0].source, "rtsp://admin:p%40ss%3Aw@10.0.0.5:554/stream1")
        XCTAssertEqual(c.pipelines[0].displaySource, "rtsp://***@10.0.0.5:554/stream1")
        assertRejected(yaml, line: 3, field: "pipelines.a.source", contains: "CAM_USER", env: [:])
        assertRejected("pipelines:\n  a:\n    source: rtsp://admin:secret@10.0.0.5/s\n",
                       line: 3, field: "pipelines.a.source", contains: "inline credentials are not allowed")
        assertRejected("pipelines:\n  a:\n    source: rtsp://10.0.0.5/${PATH}\n", line: 3, field: "pipelines.a.source", contains: "only expanded")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-cred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cred = dir.appendingPathComponent("camera").path
        try "viewer:s3cret\n".write(toFile: cred, atomically: true, encoding: .utf8)
        let fromFile = try parse("pipelines:\n  a:\n    source: rtsp://10.0.0.5/s\n    credentials_file: \(cred)\n")
        XCTAssertEqual(fromFile.pipelines[0].source, "rtsp://viewer:s3cret@10.0.0.5/s")
        XCTAssertFalse(fromFile.pipelines[0].displaySource.contains("s3cret"))
        assertRejected("pipelines:\n  a:\n    source: rtsp://10.0.0.5/s\n    credentials_file: \(dir.path)/missing\n",
                       line: 3, field: "pipelines.a.source", contains: "cannot read credentials_file")
    }

    func testBadURLsAreRejected() {
        assertRejected("pipelines:\n  a: {source: 'rtsp://'}\n", line: nil, field: "pipelines.a.source", contains: "not a valid URL")
        assertRejected("pipelines:\n  a: {source: 'gopher://x/y'}\n", line: nil, field: "pipelines.a.source", contains: "unsupported URL scheme")
    }

    func testExitCodeIsEXConfig() { XCTAssertEqual(ConfigError.exitCode, 78) }
}
