import Foundation
import Storage
import XCTest
@testable import Ingest
@testable import Pipeline

/// The full-resolution snapshot of a real decoded frame: stored at the source's size (not the model's), the box
/// outlined in cyan, the peak cell tinted red, a cell under a fifth of the peak untouched.
final class EvidenceSnapshotTests: XCTestCase {
    func testSnapshotIsTheSourcePictureWithTheHeatAndTheBox() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A mid-grey 640x360 picture: any colour in the snapshot comes from the drawing.
        let video = dir.appendingPathComponent("grey.mp4").path
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ffmpeg.arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x808080:s=640x360:r=5:d=1",
                            "-c:v", "libx264", "-pix_fmt", "yuv420p", video]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        XCTAssertEqual(ffmpeg.terminationStatus, 0)

        var options = SourceOptions()
        options.keepSourcePictures = true
        var frame: Frame?
        for try await f in try FrameSource(video, options: options) where frame == nil { frame = f }
        let picture = try XCTUnwrap(frame?.sourcePicture)
        XCTAssertEqual([picture.width, picture.height], [640, 360])

        // A 4x4 map over the picture (cells 160x90): the peak at row 1, column 2; row 3, column 0 at a tenth of it.
        var map = [Float](repeating: 0, count: 16)
        map[1 * 4 + 2] = 1
        map[3 * 4 + 0] = 0.1
        let store = EvidenceSnapshot(directory: dir.path, retention: Retention(maxBytes: 1 << 30, maxAge: 86_400, suffix: ".jpg"))
        let name = try store.write(picture, map: map, geometry: nil, grid: 4, box: [320, 90, 480, 180], episode: "cam-1", frame: 7)
        XCTAssertEqual(name, "snapshots/cam-1-7.jpg")
        let jpeg = dir.appendingPathComponent("cam-1-7.jpg").path
        let stored = try StillImage.load(path: jpeg, size: 64)
        XCTAssertEqual([stored.sourceWidth, stored.sourceHeight], [640, 360], "full resolution, not the model's 224x224")

        // Read back at full size (RGB24 PNG through ffmpeg) and look at single pixels.
        let png = dir.appendingPathComponent("back.rgb").path
        let back = Process()
        back.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        back.arguments = ["-v", "error", "-y", "-i", jpeg, "-f", "rawvideo", "-pix_fmt", "rgb24", png]
        try back.run()
        back.waitUntilExit()
        let rgb = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        XCTAssertEqual(rgb.count, 640 * 360 * 3)
        func pixel(_ x: Int, _ y: Int) -> [Int] { (0..<3).map { Int(rgb[(y * 640 + x) * 3 + $0]) } }
        let edge = pixel(320, 135), peak = pixel(400, 135), faint = pixel(80, 315), plain = pixel(80, 45)
        XCTAssertTrue(edge[0] < 60 && edge[1] > 200 && edge[2] > 200, "the box's edge is cyan: \(edge)")
        XCTAssertTrue(peak[0] > 180 && peak[1] < 90 && peak[2] < 90, "the peak cell is red: \(peak)")
        XCTAssertTrue(faint.allSatisfy { abs($0 - 128) < 8 }, "a cell under a fifth of the peak is untouched: \(faint)")
        XCTAssertTrue(plain.allSatisfy { abs($0 - 128) < 8 }, "a cell without anomaly is untouched: \(plain)")
    }
}
