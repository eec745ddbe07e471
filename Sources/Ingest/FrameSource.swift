import CFFmpeg
import Foundation
import Queues
import Synchronization

/// What kind of input a source string names; it decides the overflow policy of its queue and whether to reconnect.
public enum SourceKind: Sendable, Equatable {
    /// A file libavformat can open (mp4, mkv, avi, ...): read to the end, nothing dropped.
    case file
    /// A network stream (rtsp://, http://, ...): live, reconnected forever.
    case network
    /// A capture device through libavdevice (/dev/video*, V4L2): live, reopened forever.
    case device

    public init(source: String) {
        if let scheme = source.range(of: "://").map({ source[..<$0.lowerBound].lowercased() }), scheme != "file" {
            self = .network
        } else if source.hasPrefix("/dev/video") || source.hasPrefix("v4l2:") {
            self = .device
        } else {
            self = .file
        }
    }

    public var isLive: Bool { self != .file }

    /// Live sources: the newest picture is what matters, the oldest queued frame is dropped (and counted).
    /// Files: the decoder waits for the consumer; nothing is lost.
    public var overflowPolicy: OverflowPolicy { isLive ? .dropOldest : .block }
}

/// How a source is decoded, sampled and reconnected. A pipeline's configuration sets `CodingKeys` at its top level,
/// beside `source`; the other fields are the daemon's own.
public struct SourceOptions: Decodable, Sendable, Equatable {
    /// Side of the square RGB24 output.
    public var size = 224
    public var resize: ResizeMode = .squash
    /// Emit at most this many frames per second of stream time, evenly spaced; nil emits every frame.
    public var sampleFPS: Double?
    /// Files only: read at the file's own frame rate instead of as fast as possible.
    public var nativeRate = false
    /// Files only: start again at the end (pts keep increasing across loops).
    public var loop = false
    /// Frames buffered between the decoder and the consumer.
    public var queueCapacity = 4
    /// RTSP lower transport, one of `rtspTransports`.
    public var rtspTransport = "tcp"
    /// Socket timeout and deadline for opening a live source.
    public var ioTimeout: TimeInterval = 10
    /// No decoded frame for this long means stalled; nil means max(10 s, 20 frame intervals).
    public var stallTimeout: TimeInterval?
    /// Reconnect back-off: first delay, doubling up to `reconnectMaxDelay`, with jitter.
    public var reconnectBaseDelay: TimeInterval = 0.5
    public var reconnectMaxDelay: TimeInterval = 30
    /// Decoder threads; 0 lets libavcodec choose.
    public var decoderThreads = 0
    /// Forces a libavformat input format (e.g. "video4linux2"); nil probes.
    public var inputFormat: String?
    /// Source pixels the model sees, cropped before scaling; nil is the whole picture (its centre square with
    /// `resize: crop`). Whether it fits is known at the first picture (`IngestError.layout`).
    public var roi: PixelRect?
    /// The roi scored as `tileColumns` x `tileRows` tiles, each scaled to `size` x `size` (one model input each).
    public var tileColumns = 1
    public var tileRows = 1
    /// Polygons in source pixels whose patch cells are left out of every score and map (`TileLayout.ignoreMask`).
    public var ignore: [[SIMD2<Double>]] = []
    /// Patch cells per side of the model input (224 / 16 for ViT-Ti/16): the layout's cells.
    public var patchGrid = 14
    /// Frames carry their decoded picture at full resolution (`Frame.sourcePicture`), for full-resolution evidence.
    public var keepSourcePictures = false

    public static let rtspTransports = ["tcp", "udp"]
    /// Bounds every roi and polygon coordinate: wider than any camera picture, and it keeps x + w far from overflow.
    public static let maximumCoordinate = 65536
    /// A configured pipeline scores at most this many frames per second unless it says otherwise; `init()` keeps
    /// every frame, as the command-line tools want.
    public static let configuredSampleFPS = 10.0

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case sampleFPS = "sample_fps", resize, nativeRate = "realtime", loop, rtspTransport = "rtsp_transport"
        case stallTimeout = "stall_timeout_s", roi, tiles, ignore
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleFPS = try c.decodeIfPresent(Double.self, forKey: .sampleFPS) ?? Self.configuredSampleFPS
        if let raw = try c.decodeIfPresent(String.self, forKey: .resize) {
            guard let mode = ResizeMode(rawValue: raw) else {
                let expected = Self.either(ResizeMode.allCases.map(\.rawValue))
                throw DecodingError.dataCorruptedError(forKey: .resize, in: c, debugDescription: "expected \(expected), got '\(raw.prefix(80))'")
            }
            resize = mode
        }
        nativeRate = try c.decodeIfPresent(Bool.self, forKey: .nativeRate) ?? nativeRate
        loop = try c.decodeIfPresent(Bool.self, forKey: .loop) ?? loop
        rtspTransport = try c.decodeIfPresent(String.self, forKey: .rtspTransport) ?? rtspTransport
        stallTimeout = try c.decodeIfPresent(Double.self, forKey: .stallTimeout)
        if let v = try Self.integers(c, .roi, count: 4, expected: Self.roiExpectation) {
            roi = PixelRect(x: v[0], y: v[1], width: v[2], height: v[3])
        }
        if let v = try Self.integers(c, .tiles, count: 2, expected: Self.tilesExpectation) { (tileColumns, tileRows) = (v[0], v[1]) }
        ignore = try Self.polygons(c) ?? ignore
    }

    static let roiExpectation = "[x, y, w, h]: 4 integers in source pixels with x, y >= 0, w, h >= \(TileLayout.minimumTileSide) "
        + "and x + w, y + h <= \(maximumCoordinate)"
    static let tilesExpectation = "[columns, rows]: 2 integers in 1...\(TileLayout.maximumTilesPerSide)"
    static let ignoreExpectation = "a list of polygons in source pixels, each a list of at least 3 [x, y] points of numbers "
        + "in [-\(maximumCoordinate), \(maximumCoordinate)]"

    /// A list of `count` integers; anything else (a scalar, a nested list, a fraction, NaN) is an error naming the key.
    private static func integers(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys, count: Int,
                                 expected: String) throws -> [Int]? {
        guard let numbers = try numbers([Double].self, c, key, expected: expected) else { return nil }
        // Exactly representable and far beyond any range checked later, so the conversion cannot trap.
        guard numbers.count == count, numbers.allSatisfy({ $0 == $0.rounded() && abs($0) <= 1e15 }) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "expected \(expected), got \(show(numbers))")
        }
        return numbers.map { Int($0) }
    }

    private static func polygons(_ c: KeyedDecodingContainer<CodingKeys>) throws -> [[SIMD2<Double>]]? {
        guard let lists = try numbers([[[Double]]].self, c, .ignore, expected: ignoreExpectation) else { return nil }
        return try lists.enumerated().map { i, points in
            try points.map { point in
                guard point.count == 2 else {
                    throw DecodingError.dataCorruptedError(forKey: .ignore, in: c, debugDescription:
                        "expected \(ignoreExpectation), got the point \(show(point)) in polygon \(i + 1)")
                }
                return SIMD2(point[0], point[1])
            }
        }
    }

    /// Numbers in the shape `T`; a value of another shape is reported at the key as a whole, with what was expected.
    private static func numbers<T: Decodable>(_: T.Type, _ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys,
                                              expected: String) throws -> T? {
        do {
            return try c.decodeIfPresent(T.self, forKey: key)
        } catch is DecodingError {
            let got = (try? c.decode(String.self, forKey: key)).map { "'\($0.prefix(80))'" }
                ?? (try? c.decode([String].self, forKey: key)).map { "[\($0.joined(separator: ", ").prefix(80))]" }
                ?? ((try? c.nestedContainer(keyedBy: CodingKeys.self, forKey: key)) != nil ? "a mapping" : "a list of another shape")
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "expected \(expected), got \(got)")
        }
    }

    /// "[1, 2.5, nan]": integers without a fraction.
    static func show(_ numbers: [Double]) -> String {
        "[" + numbers.map { $0 == $0.rounded() && abs($0) <= 1e15 ? String(Int($0)) : "\($0)" }.joined(separator: ", ") + "]"
    }

    /// The first configurable option outside its range, and what it must be; nil when all are usable. NaN fails
    /// every comparison, so it is out of every range.
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        // Below one frame per 100 s a pipeline would never gather its learning frames.
        if let f = sampleFPS, !(f >= 0.01 && f <= 120) { return (.sampleFPS, "expected a rate in [0.01, 120] frames/s, got \(f)") }
        if !Self.rtspTransports.contains(rtspTransport) {
            return (.rtspTransport, "expected \(Self.either(Self.rtspTransports)), got '\(rtspTransport.prefix(80))'")
        }
        // Shorter stalls are ordinary network jitter: the source would reconnect for ever.
        if let s = stallTimeout, !(s >= 1 && s <= 3600) { return (.stallTimeout, "expected a timeout in [1, 3600] seconds, got \(s)") }
        let side = TileLayout.minimumTileSide, most = Self.maximumCoordinate
        if let r = roi, !(r.x >= 0 && r.y >= 0 && r.width >= side && r.height >= side && r.x <= most - r.width && r.y <= most - r.height) {
            return (.roi, "expected \(Self.roiExpectation), got \(r)")
        }
        let tiling = (1...TileLayout.maximumTilesPerSide)
        if !tiling.contains(tileColumns) || !tiling.contains(tileRows) {
            return (.tiles, "expected \(Self.tilesExpectation), got [\(tileColumns), \(tileRows)]")
        }
        if let r = roi, tileColumns * tileRows > 1, r.width / tileColumns < side || r.height / tileRows < side {
            return (.tiles, "expected tiles of at least \(side)x\(side) source pixels: the roi \(r) holds at most "
                + "[\(min(r.width / side, tiling.upperBound)), \(min(r.height / side, tiling.upperBound))], got [\(tileColumns), \(tileRows)]")
        }
        // Each tile is squashed to the model's square; a square roi is how to keep the aspect.
        if resize == .crop && (roi != nil || tileColumns * tileRows > 1) {
            return (.resize, "expected 'squash' with roi or tiles (choose a square roi to keep the aspect), got 'crop'")
        }
        for (i, polygon) in ignore.enumerated() {
            if polygon.count < 3 { return (.ignore, "expected \(Self.ignoreExpectation), got polygon \(i + 1) with \(polygon.count) points") }
            if let p = polygon.first(where: { !(abs($0.x) <= Double(most) && abs($0.y) <= Double(most)) }) {
                return (.ignore, "expected \(Self.ignoreExpectation), got the point \(Self.show([p.x, p.y])) in polygon \(i + 1)")
            }
        }
        return nil
    }

    func validate() throws {
        func fail(_ why: String) throws -> Never { throw IngestError.invalidConfiguration(why) }
        if let (key, problem) = firstInvalid { try fail("\(key.stringValue): \(problem)") }
        if !(1...4096).contains(size) { try fail("size must be in 1...4096, got \(size)") }
        if !(1...1024).contains(queueCapacity) { try fail("queue capacity must be in 1...1024, got \(queueCapacity)") }
        if !(ioTimeout > 0 && ioTimeout <= 3600) { try fail("timeout must be in (0, 3600] seconds, got \(ioTimeout)") }
        if !(reconnectBaseDelay > 0 && reconnectBaseDelay <= reconnectMaxDelay && reconnectMaxDelay <= 3600) {
            try fail("reconnect delays need 0 < base <= max <= 3600 s, got \(reconnectBaseDelay) and \(reconnectMaxDelay)")
        }
        if !(0...64).contains(decoderThreads) { try fail("decoder threads must be in 0...64, got \(decoderThreads)") }
        if !(1...4096).contains(patchGrid) { try fail("patch grid must be in 1...4096, got \(patchGrid)") }
    }

    /// "'a' or 'b'", "'a', 'b' or 'c'".
    static func either(_ names: [String]) -> String {
        let quoted = names.map { "'\($0)'" }
        return quoted.count > 1 ? quoted.dropLast().joined(separator: ", ") + " or " + quoted.last! : quoted.joined()
    }
}

/// Frames from a video file, an RTSP stream or a capture device, decoded with FFmpeg's libraries on a
/// dedicated thread and pushed straight into `frames`, the bounded queue its consumer reads.
///
/// Single consumer, either by iterating the source (an async sequence over `frames`) or by running `run()` beside a
/// stage that pops `frames` itself (the pipeline's batcher). Cancelling the consumer, or `stop()`, finishes the
/// queue, and that ends decoding promptly, even while FFmpeg is inside a blocking network read (the interrupt
/// callback sees it). Opening a file fails with an `IngestError`, thrown by the iteration and by `run()`; live
/// sources never fail on their input, they report `reconnecting` and retry forever. Any source fails with
/// `IngestError.layout` when its `roi` or `tiles` do not fit its pictures: retrying would not change that.
public final class FrameSource: AsyncSequence, Sendable {
    public typealias Element = Frame

    /// The source with credentials redacted: safe for logs, errors and metric labels.
    public let name: String
    public let kind: SourceKind
    public let options: SourceOptions
    /// The edge to the consumer: `options.queueCapacity` frames under `kind.overflowPolicy`; it counts the drops.
    public let frames: BoundedQueue<Frame>

    private let url: String
    private let statsBox = StatsBox()
    private let ending = Ending()
    private let started = Mutex(false)
    private let clips: ClipRecorder?

    /// - Parameter clips: given every packet of the video stream, for episode clips.
    public init(_ source: String, options: SourceOptions = SourceOptions(), clips: ClipRecorder? = nil) throws {
        try options.validate()
        name = redactCredentials(source)
        kind = SourceKind(source: source)
        self.options = options
        self.clips = clips
        frames = BoundedQueue(name: "frames", capacity: options.queueCapacity, policy: kind.overflowPolicy)
        url = source.hasPrefix("v4l2:") ? String(source.dropFirst(5)) : source
    }

    deinit { frames.finish() }

    public var stats: SourceStats { statsBox.snapshot }

    /// Starts decoding if it has not started; iterating and `run()` do this too.
    public func start() {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        let (url, name, kind, options, frames, stats, ending, clips) = (url, name, kind, options, frames, statsBox, ending, clips)
        let thread = Thread {
            Worker(url: url, name: name, kind: kind, options: options, frames: frames, stats: stats, ending: ending,
                   clips: clips).run()
        }
        thread.name = "ingest"
        thread.start()
    }

    /// Decodes into `frames` until the input ends (a file that does not loop), then returns; throws the error that
    /// ended a file source. Cancelling the calling task stops decoding; it returns once the thread has left FFmpeg.
    public func run() async throws {
        start()
        try await withTaskCancellationHandler {
            try await ending.wait()
        } onCancel: {
            stop()
        }
    }

    /// Ends the sequence (after the frames already queued) and the decoding thread; returns at once, the thread
    /// exits within ~0.1 s.
    public func stop() { frames.finish() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: FrameSource
        var ended = false

        public mutating func next() async throws -> Frame? {
            guard !ended else { return nil }
            if let frame = await source.frames.pop() { return frame }
            ended = true
            // The decoder records how it ended before it finishes the queue; an error is reported once.
            if let error = source.ending.failure { throw error }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        start()
        return AsyncIterator(source: self)
    }
}

/// Reconnect delay: exponential from `base`, capped, with "equal jitter" (half fixed, half random) so many
/// sources that lost the same camera server do not retry in lockstep.
func reconnectDelay(attempt: Int, base: TimeInterval, cap: TimeInterval,
                    random: Double = Double.random(in: 0...1)) -> TimeInterval {
    let ceiling = min(cap, base * pow(2, Double(min(attempt, 30))))
    return ceiling / 2 + ceiling / 2 * random
}
