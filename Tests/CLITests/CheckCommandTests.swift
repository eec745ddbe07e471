import Foundation
import TestSupport
import XCTest

final class CheckCommandTests: XCTestCase {
    func write(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testValidConfigPasses() throws {
        let path = try write("pipelines:\n  line3:\n    source: rtsp://${U}:${P}@127.0.0.1:8554/cam\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["check", "--config", path]
        p.environment = ["U": "user", "P": "hunter2"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(text.contains("line3: rtsp://***@127.0.0.1:8554/cam"), text)
        XCTAssertFalse(text.contains("hunter2"), "credentials must never be printed")
    }

    func testInvalidConfigsExitWith78AndNameTheProblem() throws {
        let cases: [(String, String)] = [
            ("pipelines:\n  a:\n    source: x.mp4\n    sample_fsp: 3\n", ":4:5: pipelines.a.sample_fsp: unknown key"),
            ("pipelines:\n  a:\n    source: x.mp4\n    loop: often\n", ":4:11: pipelines.a.loop: expected true or false"),
            ("pipelines:\n  a: {source: 'rtsp://user:pw@cam/s'}\n", ":2:15: pipelines.a.source: inline credentials are not allowed"),
        ]
        for (yaml, expected) in cases {
            let path = try write(yaml)
            let r = try CLI.run(["check", "--config", path])
            XCTAssertEqual(r.status, 78, r.stderr)
            XCTAssertTrue(r.stderr.contains(path + expected), r.stderr)
        }
        let missing = try CLI.run(["check", "--config", "/nonexistent/x.yaml"])
        XCTAssertEqual(missing.status, 78)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/x.yaml: cannot read the configuration file"), missing.stderr)
    }

    /// `run` refused a high-water mark of 0 only when binding, with exit 1 and no file or line; `check` passed it.
    func testCheckAndRunRejectWhatTheRuntimeCannotUse() throws {
        let path = try write("publisher: {send_high_water_mark: 0}\npipelines:\n  a: {source: x.mp4}\n")
        for command in ["check", "run"] {
            let r = try CLI.run([command, "--config", path])
            XCTAssertEqual(r.status, 78, r.stderr)
            XCTAssertTrue(r.stderr.contains(path + ":1:35: publisher.send_high_water_mark: expected 1...1000000"), r.stderr)
        }
    }

    /// The publisher's CURVE key: a missing file fails the check, a file that is not a key fails the start (before
    /// READY, exit 78); both name the field and the file.
    func testABadPublisherKeyFileIsAConfigError() throws {
        let missing = try write("publisher: {curve_secret_key_file: /nonexistent/daemon.key}\npipelines:\n  a: {source: x.mp4}\n")
        let check = try CLI.run(["check", "--config", missing])
        XCTAssertEqual(check.status, 78, check.stderr)
        XCTAssertTrue(check.stderr.contains("publisher.curve_secret_key_file: /nonexistent/daemon.key does not exist"), check.stderr)

        let key = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-key-\(UUID().uuidString).key").path
        try "this is not a Z85 key\n".write(toFile: key, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: key) }
        let malformed = try write("""
            publisher: {endpoint: "tcp://127.0.0.1:\(freeLocalPort())", curve_secret_key_file: \(key)}
            pipelines:
              a: {source: x.mp4, teacher: \(CLI.teacher)}
            """)
        XCTAssertEqual(try CLI.run(["check", "--config", malformed]).status, 0, "readable: the content is checked at bind")
        let run = try CLI.run(["run", "--config", malformed])
        XCTAssertEqual(run.status, 78, run.stderr)
        XCTAssertTrue(run.stderr.contains("publisher.curve_secret_key_file: invalid CURVE key in \(key): expected 40 Z85 characters"),
                      run.stderr)
    }

    /// The student's depth is bounded by the teacher's, which only its checkpoint tells: `check` reads the header and
    /// `run` applies the same rule when it loads the teacher, both exit 78 naming the field (before, `check` passed
    /// and every restart failed the learning phase).
    func testStudentDeeperThanTheTeacherIsRejectedByCheckAndRun() throws {
        let path = try write("""
            publisher: {endpoint: "tcp://127.0.0.1:\(freeLocalPort())"}
            pipelines:
              a: {source: x.mp4, teacher: \(CLI.teacher), detector: {student_depth: 13}}
            """)
        let expected = "pipelines.a.detector.student_depth: 13 blocks, but the teacher \(CLI.teacher) has 12"
        for command in ["check", "run"] {
            let r = try CLI.run([command, "--config", path])
            XCTAssertEqual(r.status, 78, "\(command): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(path + ": " + expected), "\(command): \(r.stderr)")
        }
        let missing = try write("pipelines:\n  a: {source: x.mp4, teacher: /nonexistent/vit.safetensors, detector: {student_depth: 13}}\n")
        let r = try CLI.run(["check", "--config", missing])
        XCTAssertEqual(r.status, 0, "a teacher not installed yet is a warning: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("pipelines.a.teacher: /nonexistent/vit.safetensors does not exist"), r.stderr)
    }
}
