import Foundation
import XCTest
@testable import Ingest
import Queues

/// Test videos made once per run by the ffmpeg command line, in several containers and codecs.
enum Videos {
    static let prepared: Result<URL, Error> = Result {
        let dir = try Media.temporaryDirectory("videos")
        XCTestObservationCenter.shared.addTestObserver(RemoveWhenDone(dir))
        func make(_ name: String, _ input: String, _ codec: [String]) throws {
            try Media.ffmpeg(["-f", "lavfi", "-i", input] + codec + [dir.appendingPathComponent(name).path])
        }
        let src = "testsrc2=s=320x240:r=30:d=2"
        try make("h264.mp4", src, ["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p",
                                   "-movflags", "+faststart"])
        try make("mpeg4.mkv", "testsrc2=s=320x240:r=25:d=2", ["-c:v", "mpeg4", "-q:v", "5"])
        try make("vp9.webm", "testsrc2=s=160x120:r=30:d=1", ["-c:v", "libvpx-vp9", "-deadline", "realtime",
                                                             "-cpu-used", "8"])
        try make("mjpeg.avi", src, ["-c:v", "mjpeg", "-q:v", "5"])
        try make("h264.mkv", src, ["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p"])
        // Red | green | blue bands, 640x360: checks colours and cropping through a YUV 4:2:0 decode.
        try make("bands.mp4", "nullsrc=s=640x360:r=30:d=0.5,format=rgb24,geq=r='if(lt(X,213),255,0)':"
                    + "g='if(between(X,213,426),255,0)':b='if(gt(X,426),255,0)'",
                 ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p"])
        try make("audio.wav", "sine=d=1", [])

        let mkv = try Data(contentsOf: dir.appendingPathComponent("h264.mkv"))
        try mkv.prefix(mkv.count / 2).write(to: dir.appendingPathComponent("truncated.mkv"))
        // Overwrite bytes at five places in the middle (the mp4 index is at the front and stays intact).
        for name in ["h264.mp4", "mjpeg.avi"] {
            var bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
            var state: UInt32 = 12345
            for k in 3...7 {
                let start = bytes.count * k / 10
                for i in start..<start + 300 {
                    state = state &* 1_103_515_245 &+ 12345
                    bytes[i] = UInt8(truncatingIfNeeded: state >> 16)
                }
            }
            try Data(bytes).write(to: dir.appendingPathComponent("corrupt-" + name))
        }
        // Every JPEG header wiped: the container opens but no picture decodes.
        var wiped = [UInt8](try Data(contentsOf: dir.appendingPathComponent("mjpeg.avi")))
        for i in 0..<(wiped.count - 600) where wiped[i] == 0xFF && wiped[i + 1] == 0xD8 && wiped[i + 2] == 0xFF {
            for j in i + 2..<i + 600 { wiped[j] = 0 }
        }
        try Data(wiped).write(to: dir.appendingPathComponent("undecodable.avi"))
        // An AVI whose FourCC no decoder knows.
        let avi = try Data(contentsOf: dir.appendingPathComponent("mjpeg.avi"))
        try Data(avi).replacing(Data("MJPG".utf8), with: Data("QQQQ".utf8))
            .write(to: dir.appendingPathComponent("unknown-codec.avi"))
        try Data("not a video\n".utf8).write(to: dir.appendingPathComponent("notes.mp4"))
        return dir
    }

    static func path(_ name: String) throws -> String {
        try prepared.get().appendingPathComponent(name).path
    }
}

/// Deletes the shared test videos once the whole test bundle has run.
final class RemoveWhenDone: NSObject, XCTestObservation {
    let directory: URL
    init(_ directory: URL) { self.directory = directory }
    func testBundleDidFinish(_ testBundle: Bundle) { try? FileManager.default.removeItem(at: directory) }
}

/// Collects every frame (with an optional per-frame delay) and the error that ended the sequence.
func collect(_ source: FrameSource, limit: Int = .max, delay: TimeInterval = 0) async -> ([Frame], Error?) {
    var frames: [Frame] = []
    do {
        for try await frame in source {
            frames.append(frame)
            if frames.count >= limit { break }
            if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        }
    } catch {
        return (frames, error)
    }
    return (frames, nil)
}

final class FileSourceTests: XCTestCase {
    func testContainersAndCodecsDecodeEveryFrame() async throws {
        for (name, count, width) in [("h264.mp4", 60, 320), ("mpeg4.mkv", 50, 320), ("vp9.webm", 30, 160),
                                     ("mjpeg.avi", 60, 320)] {
            let source = try FrameSource(try Videos.path(name))
            XCTAssertEqual(source.kind, .file)
            XCTAssertEqual(source.frames.policy, .block)
            let (frames, error) = await collect(source)
            XCTAssertNil(error, name)
            XCTAssertEqual(frames.count, count, name)
            XCTAssertEqual(frames.map(\.index), Array(0..<count), name)
            XCTAssertEqual(frames.first?.sourceWidth, width, name)
            XCTAssertEqual(frames.first?.pixels.count, 224 * 224 * 3, name)
            XCTAssertTrue(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts }, "\(name): pts increase")
            let stats = source.stats
            XCTAssertEqual(stats.state, .ended, name)
            XCTAssertEqual(stats.framesDecoded, count, name)
            XCTAssertEqual(stats.decodeErrors, 0, name)
            XCTAssertEqual(stats.droppedTotal, 0, name)
        }
    }

    func testVideoColoursAndCrop() async throws {
        let squash = try await collect(FrameSource(try Videos.path("bands.mp4")), limit: 1).0[0]
        var options = SourceOptions()
        options.resize = .crop
        let crop = try await collect(FrameSource(try Videos.path("bands.mp4"), options: options), limit: 1).0[0]
        XCTAssertColor(squash.rgb(x: 10, y: 112), [255, 0, 0], tolerance: 6)
        XCTAssertColor(squash.rgb(x: 112, y: 112), [0, 255, 0], tolerance: 6)
        XCTAssertColor(squash.rgb(x: 213, y: 112), [0, 0, 255], tolerance: 6)
        // The centre square of 640x360 spans x 140..499: green in the middle, red and blue only at the edges.
        XCTAssertColor(crop.rgb(x: 112, y: 112), [0, 255, 0], tolerance: 6)
        XCTAssertColor(crop.rgb(x: 20, y: 112), [255, 0, 0], tolerance: 6)
        XCTAssertColor(crop.rgb(x: 60, y: 112), [0, 255, 0], tolerance: 6)
        XCTAssertEqual(crop.sourceWidth, 640)
    }

    func testSampleFPSEmitsEvenlySpacedFrames() async throws {
        var options = SourceOptions()
        options.sampleFPS = 10
        let source = try FrameSource(try Videos.path("h264.mp4"), options: options)
        let (frames, error) = await collect(source)
        XCTAssertNil(error)
        XCTAssertEqual(frames.map(\.index), Array(stride(from: 0, to: 60, by: 3)))
        for (a, b) in zip(frames, frames.dropFirst()) { XCTAssertEqual(b.pts - a.pts, 0.1, accuracy: 0.001) }
        XCTAssertEqual(source.stats.framesDecoded, 60, "every frame is decoded")
        XCTAssertEqual(source.stats.dropped[.sampling], 40)
    }

    func testTruncatedFileDecodesWhatIsThere() async throws {
        let source = try FrameSource(try Videos.path("truncated.mkv"))
        let (frames, error) = await collect(source)
        XCTAssertNil(error)
        XCTAssertGreaterThan(frames.count, 10)
        XCTAssertLessThan(frames.count, 60)
        XCTAssertEqual(source.stats.state, .ended)
    }

    func testCorruptPacketsAreCountedAndSkipped() async throws {
        for name in ["corrupt-h264.mp4", "corrupt-mjpeg.avi"] {
            let source = try FrameSource(try Videos.path(name))
            let (frames, error) = await collect(source)
            XCTAssertNil(error, name)
            let stats = source.stats
            XCTAssertGreaterThan(stats.decodeErrors, 0, name)
            XCTAssertGreaterThan(frames.count, 30, "\(name): the intact part decodes")
            XCTAssertLessThan(frames.count, 60, "\(name): damaged pictures are skipped")
            XCTAssertEqual(stats.state, .ended, name)
        }
    }

    func testUnopenableInputsThrowTypedErrorsNamingTheSource() async throws {
        let cases: [(String, (String) -> IngestError?)] = [
            ("missing.mp4", { .notFound(source: $0) }),
            ("notes.mp4", { _ in nil }),
            ("audio.wav", { .noVideoStream(source: $0) }),
            ("unknown-codec.avi", { _ in nil }),
            ("undecodable.avi", { _ in nil }),
        ]
        for (name, expected) in cases {
            let path = try Videos.path(name)
            let source = try FrameSource(path)
            let (frames, error) = await collect(source)
            XCTAssertTrue(frames.isEmpty, name)
            let ingestError = try XCTUnwrap(error as? IngestError, "\(name): \(String(describing: error))")
            if let want = expected(path) { XCTAssertEqual(ingestError, want) }
            XCTAssertTrue("\(ingestError)".contains(path), "\(ingestError)")
            XCTAssertEqual(source.stats.state, .failed, name)
        }
        let unknown = try await collect(FrameSource(try Videos.path("unknown-codec.avi"))).1
        guard case .unsupportedCodec(_, let codec)? = unknown as? IngestError else {
            return XCTFail("expected unsupportedCodec, got \(String(describing: unknown))")
        }
        XCTAssertTrue(codec.contains("QQQQ"), codec)
        let undecodable = try await collect(FrameSource(try Videos.path("undecodable.avi"))).1
        guard case .decodeFailed(_, let reason)? = undecodable as? IngestError else {
            return XCTFail("expected decodeFailed, got \(String(describing: undecodable))")
        }
        XCTAssertTrue(reason.contains("60 decode errors"), reason)
    }

    func testSlowConsumerOfAFileLosesNothing() async throws {
        var options = SourceOptions()
        options.queueCapacity = 2
        let source = try FrameSource(try Videos.path("vp9.webm"), options: options)
        let (frames, _) = await collect(source, delay: 0.01)
        XCTAssertEqual(frames.map(\.index), Array(0..<30))
        XCTAssertEqual(source.stats.droppedTotal, 0)
        XCTAssertEqual(source.frames.dropped, 0)
    }

    /// The pipeline's way: `run()` decodes into `frames`, which another task pops; run returns at the end.
    func testRunDecodesIntoTheQueueUntilTheEnd() async throws {
        var options = SourceOptions()
        options.queueCapacity = 2
        let source = try FrameSource(try Videos.path("vp9.webm"), options: options)
        async let ran: Void = source.run()
        var indices: [Int] = []
        while let frame = await source.frames.pop() { indices.append(frame.index) }
        try await ran
        XCTAssertEqual(indices, Array(0..<30))
        XCTAssertEqual(source.stats.state, .ended)
        XCTAssertEqual(source.stats.framesEmitted, 30)
        XCTAssertEqual(source.frames.dropped, 0)
    }

    func testRunThrowsTheErrorOfAFileThatCannotBeOpened() async throws {
        let path = try Videos.path("missing.mp4")
        let source = try FrameSource(path)
        do {
            try await source.run()
            XCTFail("a missing file must fail")
        } catch {
            XCTAssertEqual(error as? IngestError, .notFound(source: path))
        }
        let next = await source.frames.pop()
        XCTAssertNil(next, "the consumer of the queue sees the end")
        XCTAssertEqual(source.stats.state, .failed)
    }

    func testCancellingRunReleasesADecoderWaitingForRoom() async throws {
        var options = SourceOptions()
        options.queueCapacity = 1
        let source = try FrameSource(try Videos.path("h264.mp4"), options: options)
        let running = Task { try await source.run() }
        // One frame queued, the second decoded and waiting for room: the decoder cannot read on.
        let blocked = await eventually(within: 5) { source.stats.framesDecoded == 2 && source.frames.depth == 1 }
        XCTAssertTrue(blocked, "\(source.stats)")
        let start = Date()
        running.cancel()
        try await running.value
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertEqual(source.stats.state, .ended)
        XCTAssertEqual(source.stats.framesDecoded, 2, "the blocked decoder stopped instead of reading on")
    }

    func testLoopingKeepsTimeIncreasing() async throws {
        var options = SourceOptions()
        options.loop = true
        let source = try FrameSource(try Videos.path("vp9.webm"), options: options)
        let (frames, _) = await collect(source, limit: 75)
        XCTAssertEqual(frames.count, 75)
        XCTAssertEqual(frames.map(\.index), Array(0..<75))
        XCTAssertTrue(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts })
        XCTAssertEqual(frames[74].pts - frames[0].pts, 74.0 / 30, accuracy: 0.01)
    }

    func testNativeRateFollowsTheFileClock() async throws {
        var options = SourceOptions()
        options.nativeRate = true
        let source = try FrameSource(try Videos.path("vp9.webm"), options: options)
        let (frames, _) = await collect(source)
        XCTAssertEqual(frames.count, 30)
        // Pacing holds frames back to their presentation time (a lower bound, not a speed measurement).
        let span = frames.last!.captureTime.timeIntervalSince(frames.first!.captureTime)
        XCTAssertGreaterThanOrEqual(span, 29.0 / 30 - 0.05)
    }

    func testStoppingEarlyEndsTheDecoder() async throws {
        var options = SourceOptions()
        options.queueCapacity = 1
        let source = try FrameSource(try Videos.path("h264.mp4"), options: options)
        let (frames, _) = await collect(source, limit: 3)
        XCTAssertEqual(frames.count, 3)
        source.stop()
        let deadline = Date().addingTimeInterval(2)
        while source.stats.state != .ended && Date() < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
        XCTAssertEqual(source.stats.state, .ended)
        XCTAssertLessThan(source.stats.framesDecoded, 60, "the blocked decoder stopped instead of reading on")
    }

    func testInvalidOptionsAreRejected() {
        var options = SourceOptions()
        options.sampleFPS = 0
        XCTAssertThrowsError(try FrameSource("x.mp4", options: options)) { error in
            XCTAssertTrue("\(error)".contains("sample_fps"), "\(error)")
        }
    }
}
