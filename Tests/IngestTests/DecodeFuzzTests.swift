import Foundation
import XCTest
@testable import Ingest

/// Several pipelines share a process, so no file a pipeline is given may reach a trap or hang its decoder:
/// byte-mutated and truncated copies of a real video, PNG and JPEG, empty files, odd picture sizes and unusual
/// pixel formats each either give 224x224 RGB frames or end with an error naming the file, within a deadline.
final class DecodeFuzzTests: XCTestCase {
    private static let deadline: TimeInterval = 30

    /// The originals, made once by the ffmpeg command line.
    enum Originals {
        static let prepared: Result<URL, Error> = Result {
            let dir = try Media.temporaryDirectory("fuzz")
            XCTestObservationCenter.shared.addTestObserver(RemoveWhenDone(dir))
            func make(_ name: String, _ input: String, _ output: [String]) throws {
                try Media.ffmpeg(["-f", "lavfi", "-i", input] + output + [dir.appendingPathComponent(name).path])
            }
            let pattern = "testsrc2=s=160x120:r=10:d=1"
            try make("clip.mp4", pattern, ["-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-pix_fmt", "yuv420p"])
            try make("still.png", pattern, ["-frames:v", "1"])
            try make("still.jpg", pattern, ["-frames:v", "1", "-q:v", "5"])
            // Sizes at the edges: one pixel, fewer pixels than one output row, and far wider than tall.
            for (w, h) in [(1, 1), (3, 3), (4097, 17), (17, 4097)] {
                let gradient = "nullsrc=s=\(w)x\(h):r=5:d=0.6,format=rgb24,geq=r='X*255/W':g='Y*255/H':b=128"
                try make("\(w)x\(h).png", gradient, ["-frames:v", "1"])
                try make("\(w)x\(h).mkv", gradient, ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
            }
            // Pixel formats a camera or an operator's file may bring: deep grey, deep RGB, alpha, a palette.
            try make("gray16.png", pattern, ["-frames:v", "1", "-pix_fmt", "gray16be"])
            try make("rgb48.png", pattern, ["-frames:v", "1", "-pix_fmt", "rgb48be"])
            try make("pal8.png", pattern, ["-frames:v", "1", "-pix_fmt", "pal8"])
            try make("pal8.gif", pattern, ["-pix_fmt", "pal8"])
            try make("yuva444p.mkv", pattern, ["-c:v", "ffv1", "-pix_fmt", "yuva444p"])
            try make("gray16.mkv", pattern, ["-c:v", "ffv1", "-pix_fmt", "gray16le"])
            try make("rgb48.nut", pattern, ["-c:v", "rawvideo", "-pix_fmt", "rgb48le"])
            try make("gray16.nut", pattern, ["-c:v", "rawvideo", "-pix_fmt", "gray16le"])
            try make("pal8.nut", pattern, ["-c:v", "rawvideo", "-pix_fmt", "pal8"])
            try make("yuva444p.nut", pattern, ["-c:v", "rawvideo", "-pix_fmt", "yuva444p"])
            return dir
        }

        static func path(_ name: String) throws -> URL { try prepared.get().appendingPathComponent(name) }
    }

    /// Decodes `path` as a pipeline would; fails the test on a wrong frame, an error not naming the file, or
    /// a decode still going at the deadline. Returns the frame count, nil when it ended with an error.
    @discardableResult
    private func decode(_ path: String, resize: ResizeMode = .squash, file: StaticString = #filePath, line: UInt = #line) async throws -> Int? {
        var options = SourceOptions()
        options.sampleFPS = SourceOptions.configuredSampleFPS
        options.resize = resize
        let source = try FrameSource(path, options: options)
        let outcome = await withTaskGroup(of: (Int, Error?)?.self) { group in
            group.addTask {
                var count = 0
                do {
                    for try await frame in source {
                        XCTAssertEqual(frame.size, 224, path, file: file, line: line)
                        XCTAssertEqual(frame.pixels.count, 224 * 224 * 3, path, file: file, line: line)
                        XCTAssertGreaterThan(frame.sourceWidth, 0, path, file: file, line: line)
                        XCTAssertGreaterThan(frame.sourceHeight, 0, path, file: file, line: line)
                        count += 1
                    }
                } catch {
                    return (count, error)
                }
                return (count, nil)
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(Self.deadline))
                return nil
            }
            let first = await group.next()!
            source.stop()
            group.cancelAll()
            return first
        }
        guard let (count, error) = outcome else {
            XCTFail("\(path): still decoding after \(Self.deadline) s", file: file, line: line)
            return nil
        }
        if let error {
            XCTAssertNotNil(error as? IngestError, "\(path): \(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(path), "the error names the file: \(error)", file: file, line: line)
            return nil
        }
        return count
    }

    /// xorshift: the same mutations on every run, so a failure names a reproducible case.
    private struct Seeded {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    func testMutatedAndTruncatedMediaGiveFramesOrAnErrorNamingTheFile() async throws {
        let out = try Media.temporaryDirectory("fuzz-cases")
        defer { try? FileManager.default.removeItem(at: out) }
        var random = Seeded(state: 0x9E37_79B9_7F4A_7C15)
        var cases = 0
        for name in ["clip.mp4", "still.png", "still.jpg"] {
            let original = [UInt8](try Data(contentsOf: try Originals.path(name)))
            let intact = try await decode(try Originals.path(name).path)
            XCTAssertGreaterThan(intact ?? 0, 0, "\(name) itself decodes")
            var copies: [(String, [UInt8])] = []
            // A few bytes anywhere (headers included), or a run of bytes, or one byte set to an extreme.
            for k in 0..<16 {
                var bytes = original
                switch k % 3 {
                case 0: for _ in 0..<(1 + random.below(8)) { bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next()) }
                case 1:
                    let start = random.below(bytes.count), length = min(bytes.count - start, 1 + random.below(256))
                    for i in start..<start + length { bytes[i] = UInt8(truncatingIfNeeded: random.next()) }
                default: bytes[random.below(min(bytes.count, 512))] = random.below(2) == 0 ? 0xFF : 0x00
                }
                copies.append(("mutated-\(k)-\(name)", bytes))
            }
            for fraction in [0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.9, 0.99] {
                copies.append(("cut-\(fraction)-\(name)", Array(original.prefix(max(1, Int(Double(original.count) * fraction))))))
            }
            for (copy, bytes) in copies {
                let path = out.appendingPathComponent(copy).path
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                try await decode(path, resize: cases % 2 == 0 ? .squash : .crop)
                cases += 1
            }
        }
        XCTAssertEqual(cases, 75)
    }

    func testEmptyFilesEndWithAnErrorNamingTheFile() async throws {
        let out = try Media.temporaryDirectory("fuzz-empty")
        defer { try? FileManager.default.removeItem(at: out) }
        for name in ["empty.mp4", "empty.png", "empty.jpg", "empty"] {
            let path = out.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
            let frames = try await decode(path)
            XCTAssertNil(frames, "\(name): an empty file has no picture")
        }
    }

    func testOddSizesAndPixelFormatsDecodeToTheModelsInput() async throws {
        let names = ["1x1.png", "3x3.png", "4097x17.png", "17x4097.png", "1x1.mkv", "3x3.mkv", "4097x17.mkv", "17x4097.mkv",
                     "gray16.png", "rgb48.png", "pal8.png", "pal8.gif", "yuva444p.mkv", "gray16.mkv",
                     "rgb48.nut", "gray16.nut", "pal8.nut", "yuva444p.nut"]
        for name in names {
            for resize in ResizeMode.allCases {
                let frames = try await decode(try Originals.path(name).path, resize: resize)
                XCTAssertGreaterThan(frames ?? 0, 0, "\(name), \(resize): a valid picture decodes")
            }
        }
    }
}
