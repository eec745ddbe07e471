import Foundation
import Ingest
import XCTest

final class JPEGEncoderTests: XCTestCase {
    /// Left half red, right half blue, `w`×`h` RGB24.
    private func halves(_ w: Int, _ h: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let i = (y * w + x) * 3
                if x < w / 2 { rgb[i] = 220; rgb[i + 1] = 30; rgb[i + 2] = 30 } else { rgb[i] = 20; rgb[i + 1] = 40; rgb[i + 2] = 200 }
            }
        }
        return rgb
    }

    private func decode(_ jpeg: Data) throws -> Frame {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jpeg-test-\(getpid())-\(UUID()).jpg")
        defer { try? FileManager.default.removeItem(at: path) }
        try jpeg.write(to: path)
        return try StillImage.load(path: path.path, size: 224)
    }

    private func assertColor(_ f: Frame, x: Int, y: Int, _ expected: [Int], file: StaticString = #filePath, line: UInt = #line) {
        let i = (y * f.size + x) * 3
        let actual = [Int(f.pixels[i]), Int(f.pixels[i + 1]), Int(f.pixels[i + 2])]
        // JPEG is lossy and 4:2:0 halves chroma resolution; far from the edge the colour must survive closely.
        XCTAssertTrue(zip(actual, expected).allSatisfy { abs($0 - $1) <= 12 }, "\(actual) is not ≈ \(expected)", file: file, line: line)
    }

    func testEncodesAJPEGThatDecodesWithItsColours() throws {
        let encoder = try JPEGEncoder(width: 320, height: 180)
        let jpeg = try encoder.encode(rgb: halves(320, 180))
        XCTAssertEqual(Array(jpeg.prefix(2)), [0xFF, 0xD8], "JPEG start-of-image marker")
        XCTAssertEqual(Array(jpeg.suffix(2)), [0xFF, 0xD9], "JPEG end-of-image marker")
        let f = try decode(jpeg)
        XCTAssertEqual([f.sourceWidth, f.sourceHeight], [320, 180])
        assertColor(f, x: 40, y: 112, [220, 30, 30])
        assertColor(f, x: 184, y: 112, [20, 40, 200])
        // The context is reused: the same picture again gives the same bytes.
        XCTAssertEqual(try encoder.encode(rgb: halves(320, 180)), jpeg)
    }

    func testQualityTradesSizeAndFramesMustMatch() throws {
        var noisy = halves(224, 224)
        for i in noisy.indices where i % 7 == 0 { noisy[i] = UInt8(truncatingIfNeeded: i * 31) }
        let best = try JPEGEncoder(width: 224, height: 224, quality: 2).encode(rgb: noisy)
        let small = try JPEGEncoder(width: 224, height: 224, quality: 31).encode(rgb: noisy)
        XCTAssertLessThan(small.count, best.count)
        let frame = Frame(pixels: noisy, size: 224, sourceWidth: 1920, sourceHeight: 1080)
        XCTAssertEqual(try JPEGEncoder(width: 224, height: 224, quality: 2).encode(frame), best)
        XCTAssertThrowsError(try JPEGEncoder(width: 320, height: 180).encode(frame)) {
            XCTAssertTrue("\($0)".contains("224x224"), "\($0)")
        }
        XCTAssertThrowsError(try JPEGEncoder(width: 10, height: 10, quality: 1)) { XCTAssertTrue("\($0)".contains("quality"), "\($0)") }
    }
}
