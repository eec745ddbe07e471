import Foundation
import XCTest

/// `train`, `score` and `eval` on generated conveyor-belt footage: normal boxes only for training, and a test clip
/// with novel objects at known times.
final class DetectorCommandTests: XCTestCase {
    func render(_ path: String, seconds: Int, novel: String) throws -> [String: Any] {
        let r = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                               [path, "--seconds", "\(seconds)", "--novel", novel, "--width", "320", "--height", "180"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func testTrainScoreAndEvalOnBeltFootage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let normal = dir.appendingPathComponent("normal.mp4").path, test = dir.appendingPathComponent("test.mp4").path
        _ = try render(normal, seconds: 24, novel: "")
        let truth = try render(test, seconds: 16, novel: "4")
        let novel = (truth["novel"] as! [[String: Any]])[0]
        let (start, end) = (novel["start"] as! Double, novel["end"] as! Double)

        let bundle = dir.appendingPathComponent("model").path
        let train = try CLI.run(["train", "--teacher", CLI.teacher, "--normal", normal, "--sample-fps", "4", "--out", bundle,
                                 "--student-depth", "2", "--epochs", "4", "--holdout-block", "4"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("epoch 4/4"), train.stderr)
        for file in ["student.safetensors", "gaussian.safetensors", "calibration.json", "metadata.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(bundle)/\(file)"), file)
        }
        let metadata = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(bundle)/metadata.json"))) as! [String: Any]
        let loss = try XCTUnwrap(metadata["trainingLoss"] as? [Double] ?? metadata["training_loss"] as? [Double])
        XCTAssertEqual(loss.count, 4)
        XCTAssertLessThan(loss.last!, loss.first!, "the distillation loss falls")

        let score = try CLI.run(["score", "--teacher", CLI.teacher, "--model", bundle, "--sample-fps", "4", test])
        XCTAssertEqual(score.status, 0, score.stderr)
        let frames = try score.stdout.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(frames.count, 64)
        // Frames well inside the novel object's time in view score above every frame well outside it.
        let inside = frames.filter { ($0["pts_seconds"] as! Double) > start + 0.5 && ($0["pts_seconds"] as! Double) < end - 0.5 }
        let outside = frames.filter { let t = $0["pts_seconds"] as! Double; return (t < start - 1.5 || t > end + 0.5) }
        XCTAssertFalse(inside.isEmpty)
        let minInside = inside.map { $0["raw_score"] as! Double }.min()!
        let maxOutside = outside.map { $0["raw_score"] as! Double }.max()!
        XCTAssertGreaterThan(minInside, maxOutside, score.stdout)
        XCTAssertTrue(inside.allSatisfy { $0["anomalous"] as! Bool })
        XCTAssertNotNil(inside[0]["peak_cell"] as? [Int])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(inside[0]["peak_error"] as? Double), try XCTUnwrap(inside[0]["mkd"] as? Double),
                                    "the peak cell's error is at least the map's mean")

        // eval on labelled frames: the normal clip against frames of the novel object.
        let anomalousDir = dir.appendingPathComponent("anomalous")
        let normalDir = dir.appendingPathComponent("normal")
        for (d, args) in [(anomalousDir, ["-ss", "\(start + 0.3)", "-t", "\(end - start - 0.6)", "-i", test]),
                          (normalDir, ["-ss", "1", "-t", "10", "-i", normal])] {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            let ff = Process()
            ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            ff.arguments = ["-v", "error"] + args + ["-vf", "fps=3", d.appendingPathComponent("f%03d.png").path]
            try ff.run()
            ff.waitUntilExit()
            XCTAssertEqual(ff.terminationStatus, 0)
        }
        let roc = dir.appendingPathComponent("roc.csv").path
        let eval = try CLI.run(["eval", "--teacher", CLI.teacher, "--model", bundle, "--normal", normalDir.path,
                                "--anomalous", anomalousDir.path, "--roc", roc])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let auroc = eval.stdout.split(separator: "\n").first { $0.hasPrefix("AUROC fused:") }.flatMap { Double($0.split(separator: " ").last!) }
        XCTAssertGreaterThan(try XCTUnwrap(auroc), 0.95, eval.stdout)
        XCTAssertTrue(eval.stdout.contains("AUROC mkd:") && eval.stdout.contains("AUROC gaussian:"))
        XCTAssertTrue(try String(contentsOfFile: roc, encoding: .utf8).hasPrefix("threshold,fpr,tpr"))
    }
}
