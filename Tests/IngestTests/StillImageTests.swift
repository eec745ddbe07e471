import Foundation
import XCTest
@testable import Ingest

final class StillImageTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try Media.temporaryDirectory("still-\(name.hashValue)") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testPNGFromFFmpegDecodesToItsColours() throws {
        let path = dir.appendingPathComponent("red-blue.png")
        try Media.png(path, width: 320, height: 240, r: "if(lt(X,160),255,0)", g: "0", b: "if(lt(X,160),0,255)")
        let frame = try StillImage.load(path: path.path)
        XCTAssertEqual(frame.size, 224)
        XCTAssertEqual(frame.sourceWidth, 320)
        XCTAssertEqual(frame.sourceHeight, 240)
        XCTAssertEqual(frame.pixels.count, 224 * 224 * 3)
        XCTAssertColor(frame.rgb(x: 10, y: 10), [255, 0, 0])
        XCTAssertColor(frame.rgb(x: 100, y: 200), [255, 0, 0])
        XCTAssertColor(frame.rgb(x: 124, y: 10), [0, 0, 255])
        XCTAssertColor(frame.rgb(x: 223, y: 223), [0, 0, 255])
    }

    func testCropKeepsTheCentreSquareWhileSquashKeepsEverything() throws {
        // Three equal vertical bands: red | green | blue.
        let path = dir.appendingPathComponent("bands.png")
        try Media.png(path, width: 300, height: 100,
                      r: "if(lt(X,100),255,0)", g: "if(between(X,100,199),255,0)", b: "if(gte(X,200),255,0)")
        let squash = try StillImage.load(path: path.path, resize: .squash)
        let crop = try StillImage.load(path: path.path, resize: .crop)
        XCTAssertColor(squash.rgb(x: 5, y: 112), [255, 0, 0])
        XCTAssertColor(squash.rgb(x: 112, y: 112), [0, 255, 0])
        XCTAssertColor(squash.rgb(x: 218, y: 112), [0, 0, 255])
        for x in [0, 112, 223] { XCTAssertColor(crop.rgb(x: x, y: 112), [0, 255, 0], "crop at x=\(x)") }
        XCTAssertEqual(crop.sourceWidth, 300, "the source size is reported before cropping")
    }

    func testDownscaleIsAntialiased() throws {
        // One-pixel black/white stripes: point sampling would give pure black or white, a filter gives grey.
        let path = dir.appendingPathComponent("stripes.png")
        try Media.png(path, width: 896, height: 896, r: "255*mod(X,2)", g: "255*mod(X,2)", b: "255*mod(X,2)")
        let frame = try StillImage.load(path: path.path)
        let values = frame.pixels.map(Int.init)
        XCTAssertEqual(values.min()!, 127, accuracy: 4)
        XCTAssertEqual(values.max()!, 128, accuracy: 4)
    }

    func testJPEGMatchesTheFFmpegCommandLine() throws {
        let photo = Media.sharedData.appendingPathComponent("imagenet-samples/n01514668_10054.JPEG")
        let frame = try StillImage.load(path: photo.path)
        XCTAssertGreaterThan(frame.sourceWidth, 224)
        let reference = try Media.ffmpeg(["-i", photo.path, "-vf", "scale=224:224:flags=area",
                                          "-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        XCTAssertEqual(reference.count, frame.pixels.count)
        let meanDifference = zip(reference, frame.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
            / frame.pixels.count
        XCTAssertLessThanOrEqual(meanDifference, 3, "mean absolute difference to ffmpeg's own scaling")
    }

    func testPNGWriterRoundTripsExactly() throws {
        let photo = Media.sharedData.appendingPathComponent("imagenet-samples/n01687978_10071.JPEG")
        let frame = try StillImage.load(path: photo.path, resize: .crop)
        let path = dir.appendingPathComponent("written.png")
        try PNGWriter.write(frame, to: path.path)
        let probe = try Media.run("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width,height",
                                                       "-of", "csv=p=0", path.path])
        XCTAssertEqual(String(decoding: probe, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "png,224,224")
        XCTAssertEqual(try StillImage.load(path: path.path).pixels, frame.pixels)
    }

    func testMissingFileNamesTheFile() {
        let path = dir.appendingPathComponent("nope.png").path
        XCTAssertThrowsError(try StillImage.load(path: path)) { error in
            XCTAssertEqual(error as? IngestError, .notFound(source: path))
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    func testNonImageFilesGiveErrorsNamingTheFile() throws {
        for name in ["notes.txt", "fake.png", "fake.jpg"] {
            let path = dir.appendingPathComponent(name)
            try Data("this is not a picture\n".utf8).write(to: path)
            XCTAssertThrowsError(try StillImage.load(path: path.path), name) { error in
                XCTAssertNotNil(error as? IngestError, "\(type(of: error))")
                XCTAssertTrue("\(error)".contains(path.path), "\(error)")
            }
        }
    }
}
