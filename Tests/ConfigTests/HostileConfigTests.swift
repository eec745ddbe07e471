import Foundation
import XCTest
@testable import Config

/// Kept cases of issue 14 for configuration files: YAML alias bombs (anchors referring to anchors, also through
/// merge keys, which the loader expands itself) end quickly, and hostile pipeline names are refused at their line.
/// The 50 MB configuration is in benchmarks/hostile/run.sh.
final class HostileConfigTests: XCTestCase {
    /// Nine levels of ten aliases each: 10^9 leaves if expanded.
    private func bomb(levels: Int = 9) -> String {
        var lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a, a]"]
        for i in 1...levels { lines.append("x\(i): &x\(i) [" + Array(repeating: "*x\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        return lines.joined(separator: "\n")
    }

    func testAliasBombsEndQuickly() {
        var nested = ["&x0 [a, a, a, a, a, a, a, a, a, a]"]
        for i in 1...9 { nested.append("&x\(i) [" + Array(repeating: "*x\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        let placed = [
            // At the top, as unknown keys.
            bomb() + "\npipelines:\n  a: {source: x.mp4}\n",
            // Under defaults, which is merged into every pipeline.
            "defaults:\n" + bomb().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\npipelines:\n  a: {source: x.mp4}\n",
            // As the value of a known key, which the error message describes.
            "pipelines:\n  a:\n    source: x.mp4\n    batch: {max_frames: [" + nested.joined(separator: ", ") + "]}\n",
        ]
        for yaml in placed {
            let started = Date()
            XCTAssertThrowsError(try parse(yaml)) { XCTAssertTrue($0 is ConfigError, "\($0)") }
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, String(yaml.prefix(80)))
        }
    }

    /// Merge keys are expanded by the loader: each level merges the one below ten times, 10^8 if nothing stops it.
    func testMergeKeyBombsEndQuickly() throws {
        var lines = ["defaults:", "  detector: &m0 {epochs: 1}"]
        for i in 1...8 {
            lines.append("  decision_\(i): &m\(i)")
            lines.append("    <<: [" + Array(repeating: "*m\(i - 1)", count: 10).joined(separator: ", ") + "]")
        }
        lines += ["pipelines:", "  a:", "    source: x.mp4", "    <<: *m8"]
        let started = Date()
        XCTAssertThrowsError(try parse(lines.joined(separator: "\n") + "\n")) { error in
            guard let e = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertTrue(e.message.contains("merge keys (<<) expand to more than 10000 entries"), "\(e)")
            XCTAssertNotNil(e.line, "\(e)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        // Merge keys within the limit still merge.
        let fine = try parse("pipelines:\n  a: &b {source: x.mp4, sample_fps: 5}\n  c:\n    <<: *b\n    source: y.mp4\n    state_dir: /s/c\n")
        XCTAssertEqual(fine.pipelines.map(\.sourceOptions.sampleFPS), [5, 5])
    }

    /// A pipeline merged over `defaults` where both are the same graph of ten keys per level: merging walks both.
    func testADefaultsBombMergedIntoAPipelineEndsQuickly() {
        var lines = ["defaults: &d", "  z0: &z0 {" + (0..<10).map { "a\($0): 1" }.joined(separator: ", ") + "}"]
        for i in 1...8 { lines.append("  z\(i): &z\(i) {" + (0..<10).map { "a\($0): *z\(i - 1)" }.joined(separator: ", ") + "}") }
        lines += ["pipelines:", "  a: *d"]
        let started = Date()
        XCTAssertThrowsError(try parse(lines.joined(separator: "\n") + "\n")) { XCTAssertTrue($0 is ConfigError, "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    /// The bound counts what merge keys add, not a mapping's own entries: a 50 MB file of 600,000 pipelines was
    /// refused as an alias bomb by the first version of the bound.
    func testAMappingsOwnEntriesDoNotCountAgainstTheBound() throws {
        let n = ConfigLoader.mergeExpansionLimit + 10
        let yaml = "pipelines:\n" + (0..<n).map { "  p\($0): {source: /v/\($0).mp4}\n" }.joined()
        XCTAssertEqual(try parse(yaml).pipelines.count, n)
    }

    /// check accepted any state_dir up to PATH_MAX, and the model store's paths inside one near it failed to save
    /// with ENAMETOOLONG on every restart (found by config_sweep.sh).
    func testAStateDirLeavesRoomForWhatIsWrittenInside() throws {
        let fits = "/srv/" + String(repeating: "s", count: PipelineConfig.maximumStateDirBytes - 5)
        XCTAssertEqual(try parse("pipelines:\n  a: {source: x.mp4, state_dir: \(fits)}\n").pipelines[0].stateDir, fits)
        assertRejected("pipelines:\n  a: {source: x.mp4, state_dir: \(fits)s}\n", line: 2, field: "pipelines.a.state_dir",
                       contains: "expected at most 3840 bytes")
    }

    func testHostilePipelineNamesAreRefusedAtTheirLine() {
        let names = ["../etc", "a/b", "\"a\\0b\"", "A", "cam 1", "\"🎥\"", String(repeating: "a", count: 65), "\"\"", "'*'",
                     "'#'", "\"a\\nb\"", "\"a\\tb\"", "\"%s%n\"", "'${HOME}'", "\"\\u202Eevil\"", "'cam.1'", "'anomaly/x'"]
        for name in names {
            XCTAssertThrowsError(try parse("pipelines:\n  \(name): {source: x.mp4}\n"), name) { error in
                guard let e = error as? ConfigError else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual(e.line, 2, "\(name): \(e)")
                XCTAssertFalse(e.description.contains("\0") || e.description.contains("\n"), "\(name): the message is one clean line")
            }
        }
        XCTAssertEqual(try parse("pipelines:\n  \(String(repeating: "a", count: 64)): {source: x.mp4}\n").pipelines.count, 1)
    }
}
