import Foundation
import TestSupport
import XCTest

/// `check` and `run` agree at the edges: every numeric field at the minimum and at the maximum `check` accepts
/// (benchmarks/hostile/config_edges.txt), and strings at their longest and in Unicode, run on a short clip
/// without a crash, a hang or unbounded growth: the daemon ends by itself or stops cleanly on SIGTERM. The fields
/// are grouped (all minima in one run, all maxima in another) to keep this quick; benchmarks/hostile/config_sweep.sh
/// runs each field on its own and says which ones fail their pipeline.
final class ConfigEdgeRunTests: XCTestCase {
    struct Edge { let section: String; let key: String; let minimum: String; let maximum: String }

    static func edges() throws -> [Edge] {
        let text = try String(contentsOf: CLI.root.appendingPathComponent("benchmarks/hostile/config_edges.txt"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let f = line.split(separator: " ").map(String.init)
            return Edge(section: f[0], key: f[1], minimum: f[2], maximum: f[3])
        }
    }

    /// The configuration with every field set by `value` (nil keeps the base), on one pipeline.
    static func yaml(name: String, source: String, stateDir: String, port: Int, edges: [Edge], _ value: (Edge) -> String?) -> String {
        var sections: [String: [String]] = [:]
        for e in edges { if let v = value(e) { sections[e.section, default: []].append("\(e.key): \(v)") } }
        let publisher = (["endpoint: \"tcp://127.0.0.1:\(port)\""] + (sections["publisher"] ?? [])).joined(separator: ", ")
        // Looping, so a rate at its minimum still gathers its learning frames rather than end the clip first.
        var pipeline = ["source: \"\(source)\"", "loop: true", "teacher: \(CLI.teacher)", "state_dir: \"\(stateDir)\""]
            + (sections["pipeline"] ?? [])
        // A base that learns quickly, so the edges are exercised while detecting too; the fields override it.
        var base: [String: [String: String]] = [
            "learning": ["frames": "40"], "detector": ["student_depth": "1", "epochs": "1"], "refit": ["enabled": "true"],
        ]
        for section in ["batch", "learning", "detector", "decision", "refit"] {
            var entries = base[section, default: [:]]
            for item in sections[section] ?? [] {
                let kv = item.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                entries[kv[0]] = kv[1]
            }
            base[section] = entries
            if !entries.isEmpty {
                pipeline.append("\(section): {\(entries.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}")
            }
        }
        return "publisher: {\(publisher)}\npipelines:\n  \(name):\n" + pipeline.map { "    \($0)\n" }.joined()
    }

    struct Outcome { let exitedBySelf: Bool; let status: Int32; let peakRSSMiB: Int; let seconds: Double; let log: String }

    /// Runs the daemon until it ends or `budget` seconds pass, then SIGTERM; samples its RSS every 0.2 s.
    static func run(config: String, log: String, budget: TimeInterval) throws -> Outcome {
        let daemon = try ServiceHarness.Daemon(config: config, environment: [:], log: log)
        let started = Date()
        var peak = 0
        while daemon.process.isRunning, Date().timeIntervalSince(started) < budget {
            peak = max(peak, rssKiB(daemon.process.processIdentifier))
            usleep(200_000)
        }
        let bySelf = !daemon.process.isRunning
        if !bySelf {
            daemon.signal(SIGTERM)
            let deadline = Date().addingTimeInterval(20)
            while daemon.process.isRunning, Date() < deadline { usleep(100_000) }
            if daemon.process.isRunning { daemon.signal(SIGKILL) }
        }
        daemon.process.waitUntilExit()
        return Outcome(exitedBySelf: bySelf, status: daemon.process.terminationStatus, peakRSSMiB: peak / 1024,
                       seconds: Date().timeIntervalSince(started), log: daemon.output)
    }

    static func rssKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func testEveryFieldAtItsMinimumAndMaximumAndLongUnicodeStringsRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-edges-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try ServiceHarness.video(in: dir, seconds: 7)   // 7 s: the minimum rate (a frame every 100 s) sees 7 scenes, not 2
        let edges = try Self.edges()
        XCTAssertGreaterThanOrEqual(edges.count, 30)

        // Strings: a Unicode source path, a state_dir of Unicode components at the longest check accepts (3840
        // bytes), the longest pipeline name.
        let unicodeClip = dir.appendingPathComponent("Förderband 🎥 ライン.mp4").path
        try FileManager.default.copyItem(atPath: clip, toPath: unicodeClip)
        let component = String(repeating: "é", count: 100)   // 200 bytes, under NAME_MAX
        var longState = dir.path + "/state"
        while longState.utf8.count + 201 <= 3840 { longState += "/" + component }
        longState += "/" + String(repeating: "x", count: 3840 - 1 - longState.utf8.count)
        let longName = String(repeating: "a", count: 48) + "-0123456789_xyz"

        let cases: [(String, String, String, String, (Edge) -> String?)] = [
            // Two maxima stand in for the table's: the student's depth is bounded by the teacher's (12; `check`
            // reads it from the checkpoint), and 10000 learning frames wait in memory, 1.5 GB by design.
            ("minimum", "cam", clip, dir.path + "/min", { $0.minimum }),
            ("maximum", "cam", clip, dir.path + "/max", {
                ["detector.student_depth": "12", "learning.frames": "2000"]["\($0.section).\($0.key)"] ?? $0.maximum
            }),
            ("strings", longName, unicodeClip, longState, { _ in nil }),
        ]
        for (label, name, source, state, value) in cases {
            let config = dir.appendingPathComponent("\(label).yaml").path
            try Self.yaml(name: name, source: source, stateDir: state, port: freeLocalPort(), edges: edges, value)
                .write(toFile: config, atomically: true, encoding: .utf8)
            let check = try CLI.run(["check", "--config", config])
            XCTAssertEqual(check.status, 0, "\(label): check accepts the edges: \(check.stderr)")
            let outcome = try Self.run(config: config, log: dir.appendingPathComponent("\(label).log").path, budget: 20)
            print("config edges \(label): \(outcome.exitedBySelf ? "ended by itself" : "stopped by SIGTERM") after "
                  + "\(String(format: "%.1f", outcome.seconds)) s, exit \(outcome.status), peak RSS \(outcome.peakRSSMiB) MiB")
            XCTAssertEqual(outcome.status, 0, "\(label): no crash, and a clean stop: \(outcome.log.suffix(3000))")
            XCTAssertLessThan(outcome.peakRSSMiB, 1500, "\(label): bounded memory")
            XCTAssertFalse(outcome.log.contains("Fatal error"), "\(label): \(outcome.log.suffix(3000))")
            // At the minimum rate (a frame every 100 s of the looping clip) the learning frames are near-identical,
            // which learning refuses by name (the student: "the held-out frames are probably identical"; without one,
            // at the minimum depth 0, the Gaussian: "total variance 0.0, so there is nothing to whiten"): that run
            // may fail its pipeline and restart; the others must not.
            if label != "minimum" {
                XCTAssertFalse(outcome.log.contains("pipeline failed"), "\(label): the pipeline runs: \(outcome.log.suffix(3000))")
            } else if outcome.log.contains("pipeline failed") {
                XCTAssertTrue(outcome.log.contains("the held-out frames are probably identical")
                              || outcome.log.contains("total variance 0.0, so there is nothing to whiten"), "\(outcome.log.suffix(3000))")
            }
            XCTAssertTrue(outcome.log.contains("pipeline started"), "\(label): \(outcome.log.suffix(3000))")
        }
    }
}
