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

    /// With --roi and --tiles: one PNG per tile, the layout printed once, and each tile showing its part of the picture
    /// (a magenta rectangle at x 403...530, y 201...280 of a grey 640x360 video).
    func testWritesOnePNGPerTileAndPrintsTheLayout() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-frames-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = dir.appendingPathComponent("in.mp4").path
        let inside = "between(X,403,530)*between(Y,201,280)"
        try ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=640x360:r=10:d=0.5,format=rgb24,"
                        + "geq=r='if(\(inside),255,128)':g='if(\(inside),0,128)':b='if(\(inside),255,128)'",
                    "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", video])

        let out = dir.appendingPathComponent("tiles").path
        let r = try CLI.run(["frames", video, "--count", "2", "--roi", "301,121,339,239", "--tiles", "3,2", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, """
            layout of 640x360 pictures: roi [301, 121, 339, 239] as 3x2 tiles
              t00 [301, 121, 113, 119]
              t01 [414, 121, 113, 119]
              t02 [527, 121, 113, 119]
              t03 [301, 240, 113, 120]
              t04 [414, 240, 113, 120]
              t05 [527, 240, 113, 120]
            wrote 2 frames of \(video) to \(out)

            """)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(pngs, (0..<2).flatMap { f in (0..<6).map { String(format: "frame-%06d-t%02d.png", f, $0) } })
        // Tile 4 spans y 240...359: the rectangle's rows 240...280 are its top third. Tile 2 (x 527...639) holds
        // only the rectangle's last 4 columns, at its left edge.
        let t4 = try rgb(URL(fileURLWithPath: out).appendingPathComponent("frame-000000-t04.png").path)
        XCTAssertEqual(t4.count, 224 * 224 * 3)
        assertColor(t4, x: 112, y: 30, [255, 0, 255])
        assertColor(t4, x: 112, y: 150, [128, 128, 128])
        let t2 = try rgb(URL(fileURLWithPath: out).appendingPathComponent("frame-000000-t02.png").path)
        assertColor(t2, x: 112, y: 200, [128, 128, 128])
        assertColor(t2, x: 2, y: 200, [255, 0, 255])

        let outside = try CLI.run(["frames", video, "--count", "1", "--roi", "600,300,64,64", "--out", out])
        XCTAssertNotEqual(outside.status, 0)
        XCTAssertTrue(outside.stderr.contains("\(video): roi [600, 300, 64, 64] does not fit the 640x360 picture"), outside.stderr)
        let malformed = try CLI.run(["frames", video, "--count", "1", "--tiles", "3", "--out", out])
        XCTAssertNotEqual(malformed.status, 0)
        XCTAssertTrue(malformed.stderr.contains("--tiles: expected c,r (2 integers), got '3'"), malformed.stderr)
    }

    private func ffmpeg(_ arguments: [String]) throws {
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-v", "error", "-y"] + arguments
        try ff.run()
        ff.waitUntilExit()
        XCTAssertEqual(ff.terminationStatus, 0)
    }

    /// A PNG's pixels as packed RGB24, decoded by the ffmpeg command line.
    private func rgb(_ png: String) throws -> [UInt8] {
        let raw = png + ".rgb"
        try ffmpeg(["-i", png, "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
    }

    private func assertColor(_ rgb: [UInt8], x: Int, y: Int, _ expected: [Int], file: StaticString = #filePath, line: UInt = #line) {
        let i = (y * 224 + x) * 3
        let actual = rgb[i..<i + 3].map(Int.init)
        XCTAssertTrue(zip(actual, expected).allSatisfy { abs($0 - $1) <= 12 }, "(\(x), \(y)): \(actual) is not \(expected)", file: file, line: line)
    }

    func testMissingSourceIsNamed() throws {
        let r = try CLI.run(["frames", "/nonexistent/cam.mp4", "--count", "1", "--out", FileManager.default.temporaryDirectory.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("/nonexistent/cam.mp4"), r.stderr)
    }
}
