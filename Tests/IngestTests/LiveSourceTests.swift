import Foundation
import XCTest
@testable import Ingest
import Queues

final class LiveSourceTests: XCTestCase {
    /// Short limits so failures show within seconds.
    func fastOptions() -> SourceOptions {
        var options = SourceOptions()
        options.ioTimeout = 2
        options.stallTimeout = 2
        options.reconnectBaseDelay = 0.2
        options.reconnectMaxDelay = 1
        return options
    }

    func testFramesArriveFromRTSP() async throws {
        let server = try RTSPServer()
        let source = try FrameSource(server.url, options: fastOptions())
        XCTAssertEqual(source.kind, .network)
        XCTAssertEqual(source.frames.policy, .dropOldest)
        let collector = Collector(source)
        let arrived = await eventually(within: 15) { collector.frames.count >= 10 }
        XCTAssertTrue(arrived, "no frames; stats \(source.stats)")
        let frames = collector.frames
        XCTAssertEqual(frames.first?.sourceWidth, 320)
        XCTAssertEqual(frames.first?.sourceHeight, 240)
        XCTAssertTrue(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts })
        XCTAssertEqual(source.stats.state, .streaming)
        XCTAssertEqual(source.stats.reconnectsTotal, 0)
        _ = await collector.cancel()
    }

    func testFramesResumeAfterTheServerRestarts() async throws {
        let server = try RTSPServer()
        let source = try FrameSource(server.url, options: fastOptions())
        let collector = Collector(source)
        let arrived = await eventually(within: 15) { collector.frames.count >= 5 }
        XCTAssertTrue(arrived, "no frames; stats \(source.stats)")
        server.kill()
        let noticed = await eventually(within: 5) { source.stats.reconnectsTotal >= 1 }
        XCTAssertTrue(noticed, "the lost server was not noticed: \(source.stats)")
        let before = collector.frames.count
        try server.start()
        let resumed = await eventually(within: 20) { collector.frames.count >= before + 10 }
        XCTAssertTrue(resumed, "frames did not resume: \(source.stats)")
        XCTAssertEqual(source.stats.state, .streaming)
        XCTAssertNil(collector.error)
        _ = await collector.cancel()
    }

    func testFrozenServerIsDetectedAsAStallAndRecovers() async throws {
        let server = try RTSPServer()
        let source = try FrameSource(server.url, options: fastOptions())
        let collector = Collector(source)
        let arrived = await eventually(within: 15) { collector.frames.count >= 5 }
        XCTAssertTrue(arrived, "no frames; stats \(source.stats)")
        server.freeze()
        let frozenAt = Date()
        // Configured limit 2 s; allow the frames already in flight and the 0.1 s interrupt polling.
        let stalled = await eventually(within: 3.5) { source.stats.reconnects[.stall, default: 0] >= 1 }
        XCTAssertTrue(stalled, "no stall detected: \(source.stats)")
        XCTAssertLessThan(Date().timeIntervalSince(frozenAt), 3.5)
        XCTAssertTrue([.stalled, .reconnecting].contains(source.stats.state), "\(source.stats.state)")
        XCTAssertNotNil(source.stats.lastError)
        server.thaw()
        let before = collector.frames.count
        let resumed = await eventually(within: 20) { collector.frames.count >= before + 5 }
        XCTAssertTrue(resumed, "frames did not resume after the server thawed: \(source.stats)")
        _ = await collector.cancel()
    }

    func testCancellationDuringAFrozenReadReturnsWithinASecond() async throws {
        let server = try RTSPServer()
        var options = fastOptions()
        options.stallTimeout = 60  // the read must still be blocked when the task is cancelled
        let source = try FrameSource(server.url, options: options)
        let collector = Collector(source)
        let arrived = await eventually(within: 15) { collector.frames.count >= 3 }
        XCTAssertTrue(arrived, "no frames; stats \(source.stats)")
        server.freeze()
        defer { server.thaw() }
        try await Task.sleep(nanoseconds: 700_000_000)
        XCTAssertEqual(source.stats.state, .streaming, "still inside the blocked read")
        let start = Date()
        let took = await collector.cancel()
        XCTAssertLessThan(took, 1, "consumer task returned")
        let ended = await eventually(within: 1) { source.stats.state == .ended }
        XCTAssertTrue(ended, "the decoding thread left FFmpeg's blocked read: \(source.stats)")
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.2)
    }

    /// The pipeline's way: `run()` beside a consumer of `frames`; cancelling it must not wait for FFmpeg's read.
    func testCancellingRunDuringAFrozenReadReturnsWithinASecond() async throws {
        let server = try RTSPServer()
        var options = fastOptions()
        options.stallTimeout = 60  // the read must still be blocked when the task is cancelled
        let source = try FrameSource(server.url, options: options)
        let running = Task { try await source.run() }
        let arrived = await eventually(within: 15) { source.stats.framesDecoded >= 3 }
        XCTAssertTrue(arrived, "no frames; stats \(source.stats)")
        server.freeze()
        defer { server.thaw() }
        try await Task.sleep(nanoseconds: 700_000_000)
        XCTAssertEqual(source.stats.state, .streaming, "still inside the blocked read")
        let start = Date()
        running.cancel()
        try await running.value
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.2, "run() returns once the thread has left the read")
        XCTAssertEqual(source.stats.state, .ended)
        XCTAssertTrue(source.frames.isFinished)
    }

    func testSlowConsumerOfALiveSourceKeepsTheNewestFrames() async throws {
        let server = try RTSPServer()
        var options = fastOptions()
        options.queueCapacity = 2
        let source = try FrameSource(server.url, options: options)
        var iterator = source.makeAsyncIterator()
        _ = try await iterator.next()
        try await Task.sleep(nanoseconds: 1_500_000_000)  // a consumer far slower than 30 fps
        let decodedBeforeNext = source.stats.framesDecoded
        let next = try await iterator.next()
        let afterPause = try XCTUnwrap(next)
        XCTAssertGreaterThan(source.frames.dropped, 10, "\(source.stats)")
        XCTAssertGreaterThanOrEqual(source.frames.depth, 1, "the rest of the queue is still there")
        XCTAssertEqual(source.stats.droppedTotal, 0, "the queue's drops are counted once, by the queue")
        // Oldest dropped, newest kept: the frame delivered after the pause is one of the last two decoded.
        XCTAssertGreaterThanOrEqual(afterPause.index, decodedBeforeNext - 2)
        source.stop()
    }

    func testCredentialsNeverAppearInNamesOrErrors() async throws {
        let server = try RTSPServer(user: "cam", password: "s3cret")
        let wrongURL = "rtsp://cam:wrong-pass@127.0.0.1:\(server.port)/test"
        let wrong = try FrameSource(wrongURL, options: fastOptions())
        XCTAssertEqual(wrong.name, "rtsp://***@127.0.0.1:\(server.port)/test")
        let rejected = Collector(wrong)
        let retried = await eventually(within: 10) { wrong.stats.reconnects[.error, default: 0] >= 1 }
        XCTAssertTrue(retried, "\(wrong.stats)")
        let message = try XCTUnwrap(wrong.stats.lastError)
        XCTAssertTrue(message.contains("401"), message)
        XCTAssertTrue(message.contains("rtsp://***@127.0.0.1"), message)
        XCTAssertFalse(message.contains("wrong-pass"), message)
        XCTAssertTrue(rejected.frames.isEmpty)
        _ = await rejected.cancel()

        let right = try FrameSource("rtsp://cam:s3cret@127.0.0.1:\(server.port)/test", options: fastOptions())
        let accepted = Collector(right)
        let arrived = await eventually(within: 15) { accepted.frames.count >= 3 }
        XCTAssertTrue(arrived, "\(right.stats)")
        _ = await accepted.cancel()
    }

    func testMissingDeviceIsRetriedAndNamed() async throws {
        let source = try FrameSource("/dev/video97", options: fastOptions())
        XCTAssertEqual(source.kind, .device)
        let collector = Collector(source)
        let retried = await eventually(within: 5) { source.stats.reconnectsTotal >= 2 }
        XCTAssertTrue(retried, "\(source.stats)")
        XCTAssertEqual(source.stats.state, .reconnecting)
        XCTAssertTrue(source.stats.lastError?.contains("/dev/video97") ?? false, "\(source.stats)")
        _ = await collector.cancel()
    }

    func testReconnectDelayGrowsWithJitterUpToTheCap() {
        XCTAssertEqual(reconnectDelay(attempt: 0, base: 0.5, cap: 30, random: 0), 0.25)
        XCTAssertEqual(reconnectDelay(attempt: 0, base: 0.5, cap: 30, random: 1), 0.5)
        XCTAssertEqual(reconnectDelay(attempt: 3, base: 0.5, cap: 30, random: 1), 4)
        XCTAssertEqual(reconnectDelay(attempt: 20, base: 0.5, cap: 30, random: 1), 30)
        XCTAssertEqual(reconnectDelay(attempt: 1000, base: 0.5, cap: 30, random: 0), 15)
    }

    func testRedaction() {
        XCTAssertEqual(redactCredentials("rtsp://u:p@cam.local:554/s?x=1"), "rtsp://***@cam.local:554/s?x=1")
        XCTAssertEqual(redactCredentials("rtsp://u:p@ss@cam/s"), "rtsp://***@cam/s")
        XCTAssertEqual(redactCredentials("rtsp://cam/a@b"), "rtsp://cam/a@b")
        XCTAssertEqual(redactCredentials("/videos/a@b.mp4"), "/videos/a@b.mp4")
        XCTAssertEqual(redactLogLine("[rtsp @ 0x1] Opening 'rtsp://cam:pw@10.0.0.2/s' and http://a:b@h/x\n"),
                       "[rtsp @ 0x1] Opening 'rtsp://******@10.0.0.2/s' and http://***@h/x\n")
        XCTAssertEqual(redactLogLine("tcp://127.0.0.1:554?timeout=1 failed"), "tcp://127.0.0.1:554?timeout=1 failed")
    }
}
