import Foundation
import XCTest

final class FramesCommandTests: XCTestCase {
    /// `anomalyd frames` on a generated 640x360 video writes N 224x224 PNGs, sampled at the asked rate.
    func testWritesSampledFramesAsPNG() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-frames-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = dir.appendingPathComponent("in.mp4").path
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=2",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", video]
        try ff.run()
        ff.waitUntilExit()
        XCTAssertEqual(ff.terminationStatus, 0)

        let out = dir.appendingPathComponent("frames").path
        let r = try CLI.run(["frames", video, "--count", "6", "--sample-fps", "5", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }.sorted()
        XCTAssertEqual(pngs.count, 6)
        for name in pngs {
            let data = try Data(contentsOf: URL(fileURLWithPath: out).appendingPathComponent(name))
            XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            // IHDR width and height, big-endian, at bytes 16..<24.
            let w = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
            XCTAssertEqual([w, h], [224, 224])
        }
    }

    func testMissingSourceIsNamed() throws {
        let r = try CLI.run(["frames", "/nonexistent/cam.mp4", "--count", "1", "--out", FileManager.default.temporaryDirectory.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent/cam.mp4"), r.stderr)
    }
}
