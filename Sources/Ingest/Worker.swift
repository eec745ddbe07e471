import CFFmpeg
import Foundation
import Queues
import Synchronization

/// Monotonic seconds: deadlines must not move when the wall clock is adjusted.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// libavdevice registers its input formats (video4linux2, ...) only when asked, once per process.
private let devicesRegistered: Void = avdevice_register_all()

/// The deadline libavformat's interrupt callback enforces inside every blocking call, plus cancellation: the
/// consumer's side finished the queue. Only the worker thread arms it and FFmpeg calls the callback on that same thread.
final class Interrupter {
    enum Cause { case cancelled, deadline, stall }

    private let frames: BoundedQueue<Frame>
    private var deadline = Double.infinity
    private var deadlineCause = Cause.deadline
    private(set) var cause: Cause?

    init(frames: BoundedQueue<Frame>) { self.frames = frames }

    func arm(until deadline: Double, cause: Cause) {
        self.deadline = deadline
        deadlineCause = cause
        self.cause = nil
    }

    fileprivate func check() -> Bool {
        if frames.isFinished { cause = .cancelled; return true }
        if monotonicSeconds() >= deadline { cause = deadlineCause; return true }
        return false
    }

    var callback: AVIOInterruptCB {
        AVIOInterruptCB(callback: { opaque in
            Unmanaged<Interrupter>.fromOpaque(opaque!).takeUnretainedValue().check() ? 1 : 0
        }, opaque: Unmanaged.passUnretained(self).toOpaque())
    }
}

/// The decoding loop of one `FrameSource`, made and run on its own thread so blocking FFmpeg calls never occupy
/// the Swift concurrency pool. Not Sendable (FFmpeg state): others see it through `stats`, `frames` and `ending`.
final class Worker {
    let frames: BoundedQueue<Frame>
    let stats: StatsBox
    let ending: Ending
    private let url: String
    private let name: String
    private let kind: SourceKind
    private let options: SourceOptions
    private let interrupter: Interrupter
    private let scaler: Scaler
    private let clips: ClipRecorder?
    private var decoded = 0
    private var earlierDecodeErrors = 0
    private var failedAttempts = 0
    /// Added to file pts so looping keeps time increasing.
    private var ptsOffset = 0.0

    private enum Outcome {
        case stopped
        case endOfFile(duration: Double)
        case lost(ReconnectReason, String)
        /// The configuration cannot work with this input (a roi outside its pictures): reconnecting will not help.
        case failed(Error)
    }

    init(url: String, name: String, kind: SourceKind, options: SourceOptions, frames: BoundedQueue<Frame>,
         stats: StatsBox, ending: Ending, clips: ClipRecorder?) {
        self.clips = clips
        self.stats = stats
        self.ending = ending
        self.url = url
        self.name = name
        self.kind = kind
        self.options = options
        self.frames = frames
        interrupter = Interrupter(frames: frames)
        scaler = Scaler(options: options)
    }

    func run() {
        let error = runSessions()
        stats.update {
            $0.state = error == nil ? .ended : .failed
            if let error { $0.lastError = "\(error)" }
        }
        // The ending first: a consumer that sees the queue end reads it.
        ending.record(error)
        frames.finish()
    }

    private var formatOptions: [String: String] {
        guard kind == .network else { return [:] }
        let micros = String(Int(options.ioTimeout * 1_000_000))
        var o = ["fflags": "+genpts+discardcorrupt"]
        if url.lowercased().hasPrefix("rtsp") {
            o["rtsp_transport"] = options.rtspTransport
            o["timeout"] = micros  // socket I/O timeout; lavf 59 has no `stimeout`
        } else {
            o["rw_timeout"] = micros
        }
        return o
    }

    /// Opens, decodes until the input ends or is lost, and reopens live inputs forever.
    /// Returns the error that ends a file source, nil for a normal end or a stop.
    private func runSessions() -> Error? {
        if kind == .device { _ = devicesRegistered }
        var first = true
        while !frames.isFinished {
            if first { stats.update { $0.state = .connecting } }
            let input: MediaInput
            do {
                interrupter.arm(until: kind.isLive ? monotonicSeconds() + options.ioTimeout : .infinity,
                                cause: .deadline)
                input = try MediaInput(url: url, source: name,
                                       inputFormat: options.inputFormat ?? (kind == .device ? "video4linux2" : nil),
                                       options: formatOptions, interrupt: interrupter.callback,
                                       decoderThreads: options.decoderThreads)
            } catch {
                if frames.isFinished { return nil }
                guard kind.isLive else { return error }
                let message = interrupter.cause == .deadline ? "\(name): no answer within \(options.ioTimeout) s" : "\(error)"
                if !backOff(.error, message) { return nil }
                first = false
                continue
            }
            first = false
            if let clips {
                clips.beginSession(input.clipParameters())
                // Packets go on the frames' clock: stream seconds plus the offset of a looping file.
                let (timeBase, offset, nopts) = (av_q2d(input.timeBase), ptsOffset, anomalyd_nopts_value())
                input.packetTap = { packet in
                    let ts = packet.pointee.pts != nopts ? packet.pointee.pts : packet.pointee.dts
                    clips.received(packet, seconds: ts != nopts ? Double(ts) * timeBase + offset : nil)
                }
            }
            let outcome = decode(input)
            earlierDecodeErrors += input.decodeErrors
            switch outcome {
            case .stopped:
                return nil
            case .failed(let error):
                return error
            case .endOfFile(let duration):
                if decoded == 0 {
                    return IngestError.decodeFailed(source: name, reason: "\(earlierDecodeErrors) decode errors and not one frame")
                }
                guard options.loop else { return nil }
                ptsOffset += duration
            case .lost(let reason, let message):
                guard kind.isLive else {
                    // A file that stops being readable mid-way ends like a truncated one; the reason is kept.
                    stats.update { $0.lastError = message; $0.decodeErrors += 1 }
                    earlierDecodeErrors += 1
                    return nil
                }
                if !backOff(reason, message) { return nil }
            }
        }
        return nil
    }

    /// Counts the reconnect and waits the back-off delay; false if stopped meanwhile.
    private func backOff(_ reason: ReconnectReason, _ message: String) -> Bool {
        stats.update {
            $0.reconnects[reason, default: 0] += 1
            $0.state = reason == .stall ? .stalled : .reconnecting
            $0.lastError = message
        }
        let delay = reconnectDelay(attempt: failedAttempts, base: options.reconnectBaseDelay,
                                   cap: options.reconnectMaxDelay)
        failedAttempts += 1
        if frames.waitForFinish(timeout: delay) { return false }
        stats.update { $0.state = .reconnecting }
        return true
    }

    private func decode(_ input: MediaInput) -> Outcome {
        let interval = input.frameRate.map { 1 / $0 }
        let stallLimit = options.stallTimeout ?? max(10, 20 * (interval ?? 0.5))
        let tolerance = (interval ?? 0.004) / 4
        var lastFrameAt = monotonicSeconds()
        var nextEmit: Double?
        var firstRaw: Double?, lastRaw = 0.0
        var pace: (wall: Double, pts: Double)?
        // Once the interrupt fired the input is done for, even if libavformat still hands out packets it
        // had buffered (genpts holds some back and flushes them when a read fails).
        func interrupted() -> Outcome? {
            switch interrupter.cause {
            case nil: return nil
            case .cancelled: return .stopped
            case .stall: return .lost(.stall, "\(name): no decoded frame for \(stallLimit) s")
            case .deadline: return .lost(.error, "\(name): no answer within \(options.ioTimeout) s")
            }
        }
        while true {
            if let outcome = interrupted() { return outcome }
            if kind.isLive { interrupter.arm(until: lastFrameAt + stallLimit, cause: .stall) }
            let event = input.next()
            let errors = earlierDecodeErrors + input.decodeErrors
            switch event {
            case .endOfStream:
                stats.update { $0.decodeErrors = errors }
                if let outcome = interrupted() { return outcome }
                if kind.isLive { return .lost(.endOfStream, "\(name): the stream ended") }
                return .endOfFile(duration: lastRaw - (firstRaw ?? 0) + (interval ?? 0))
            case .readError(let code):
                stats.update { $0.decodeErrors = errors }
                return interrupted() ?? .lost(.error, "\(name): read failed: \(avErrorString(code))")
            case .frame(let picture):
                let now = monotonicSeconds()
                lastFrameAt = now
                failedAttempts = 0
                let index = decoded
                decoded += 1
                let raw = input.seconds(of: picture) ?? Double(index) * (interval ?? 0)
                if firstRaw == nil { firstRaw = raw }
                lastRaw = raw
                let pts = raw + ptsOffset
                var emit = true
                if let fps = options.sampleFPS {
                    let step = 1 / fps
                    if let next = nextEmit, pts + tolerance < next, pts > next - step - tolerance {
                        emit = false
                    } else if let next = nextEmit, pts + tolerance >= next, pts - next < step {
                        nextEmit = next + step  // on the grid: keep the spacing even
                    } else {
                        nextEmit = pts + step  // first frame, a gap, or time went backwards
                    }
                }
                stats.update {
                    $0.framesDecoded += 1
                    $0.decodeErrors = errors
                    $0.state = .streaming
                    $0.lastFrameTime = Date()
                    if !emit { $0.dropped[.sampling, default: 0] += 1 }
                }
                guard emit else { continue }
                if options.nativeRate && !kind.isLive {
                    if let pace {
                        let wait = pace.wall + (pts - pace.pts) - now
                        if wait > 0 && frames.waitForFinish(timeout: wait) { return .stopped }
                    } else {
                        pace = (now, pts)
                    }
                }
                let width = Int(picture.pointee.width), height = Int(picture.pointee.height)
                let layout: TileLayout
                do { layout = try scaler.layout(width: width, height: height) } catch {
                    return .failed(IngestError.layout(source: name, error))
                }
                let pixels: [UInt8]
                do { pixels = try scaler.scale(picture, layout: layout, source: name) } catch {
                    stats.update { $0.decodeErrors += 1; $0.lastError = "\(error)" }
                    earlierDecodeErrors += 1
                    continue
                }
                let frame = Frame(pixels: pixels, size: options.size, sourceWidth: width, sourceHeight: height,
                                  index: index, pts: pts, captureTime: Date(), layout: layout,
                                  sourcePicture: options.keepSourcePictures ? SourcePicture(referencing: picture) : nil)
                // Live: a full queue drops its oldest frame (and counts it). Files: waits here until there is room.
                guard frames.blockingPush(frame) else { return .stopped }
                stats.update { $0.framesEmitted += 1 }
            }
        }
    }
}

/// How the decoding thread ended, recorded once: `run()` awaits it, the iterator reads it when the queue ends.
final class Ending: Sendable {
    private struct State {
        var result: Result<Void, Error>?
        var waiters: [CheckedContinuation<Void, Error>] = []
    }
    private let state = Mutex(State())

    /// nil: a normal end or a stop.
    func record(_ error: Error?) {
        let result: Result<Void, Error> = error.map { .failure($0) } ?? .success(())
        let waiting = state.withLock { s in
            s.result = result
            defer { s.waiters = [] }
            return s.waiters
        }
        waiting.forEach { $0.resume(with: result) }
    }

    var failure: Error? {
        state.withLock { s in
            guard case .failure(let error)? = s.result else { return nil }
            return error
        }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            let result = state.withLock { s in
                if s.result == nil { s.waiters.append(c) }
                return s.result
            }
            if let result { c.resume(with: result) }
        }
    }
}
