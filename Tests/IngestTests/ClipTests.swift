import CFFmpeg
import Foundation
import Synchronization
import XCTest
@testable import Ingest

/// The packet ring, and the recorder cutting a real H.264 file.
final class ClipTests: XCTestCase {
    /// 10 packets a second, a keyframe every `gop`, each `bytes` long, from `from` seconds for `seconds`.
    private func packets(from: Double = 0, seconds: Double, gop: Int = 10, bytes: Int = 100) -> [EncodedPacket] {
        (0..<Int(seconds * 10)).map { i in
            EncodedPacket(size: bytes, seconds: from + Double(i) / 10, keyframe: i % gop == 0)!
        }
    }

    func testRingKeepsWholeGOPsBackToTheKeyframeAtOrBeforeTheHorizon() {
        var ring = PacketRing(maxBytes: 1 << 20)
        for p in packets(seconds: 6) {
            ring.append(p, keepingFrom: p.seconds - 2.5)
            XCTAssertTrue(ring.packets[0].isKeyframe, "at \(p.seconds) s the ring starts mid-GOP")
            XCTAssertLessThanOrEqual(ring.packets[0].seconds, max(0, p.seconds - 2.5), "at \(p.seconds) s the pre-roll is cut")
        }
        // The newest is 5.9 s, the horizon 3.4 s: the GOP from 3 s is the oldest kept, the one from 2 s is gone.
        XCTAssertEqual(ring.packets.first?.seconds, 3.0)
        XCTAssertEqual(ring.packets.count, 30)
        XCTAssertEqual(ring.bytes, 3000)
        XCTAssertEqual(ring.packets(from: 4.5).first?.seconds, 4.0, "a clip starts at the keyframe at or before its start")
        XCTAssertEqual(ring.packets(from: 1.0).first?.seconds, 3.0, "earlier than the ring: from its first packet")
    }

    func testRingStaysWithinItsBytesDroppingWholeGOPs() {
        var ring = PacketRing(maxBytes: 2_500)
        for p in packets(seconds: 5, gop: 5) {
            ring.append(p, keepingFrom: -.infinity)
            XCTAssertLessThanOrEqual(ring.bytes, 2_500)
            XCTAssertTrue(ring.packets[0].isKeyframe)
        }
        // Five GOPs of 500 bytes fill the bound exactly: the one from 2 s left when the one from 4.5 s began.
        XCTAssertEqual(ring.packets.first?.seconds, 2.5)
        XCTAssertEqual(ring.packets.last?.seconds, 4.9)
        XCTAssertEqual(ring.bytes, 2_500)
        // A GOP over the bound cannot be kept whole: nothing is, until the next keyframe.
        var small = PacketRing(maxBytes: 350)
        for p in packets(seconds: 1.5, gop: 10) { small.append(p, keepingFrom: -.infinity) }
        XCTAssertTrue(small.packets.isEmpty)
        XCTAssertEqual(small.bytes, 0)
        small.append(EncodedPacket(size: 100, seconds: 2, keyframe: true)!, keepingFrom: -.infinity)
        XCTAssertEqual(small.packets.map(\.seconds), [2])
    }

    func testRingJoinedMidGOPWaitsForAKeyframe() {
        var ring = PacketRing(maxBytes: 1 << 20)
        for p in packets(from: 0.3, seconds: 1).dropFirst(3) { ring.append(p, keepingFrom: -.infinity) }
        XCTAssertTrue(ring.packets.isEmpty, "no keyframe yet")
        ring.append(EncodedPacket(size: 100, seconds: 1.6, keyframe: true)!, keepingFrom: -.infinity)
        ring.append(EncodedPacket(size: 100, seconds: 1.7, keyframe: false)!, keepingFrom: -.infinity)
        XCTAssertEqual(ring.packets.map(\.seconds), [1.6, 1.7])
    }

    /// A 10 s H.264 file (B-frames, a keyframe every second) decoded at full speed with an episode from 4.5 s to
    /// 6 s: the clip runs from the keyframe at 2 s (4.5 - 2 of pre-roll) to 8 s (6 + 2 of post-roll).
    func testRecorderWritesAnEpisodeFromPreRollToPostRollAsMP4() async throws {
        let dir = try Media.temporaryDirectory("clip-file")
        let video = dir.appendingPathComponent("gop.mp4").path
        try Media.ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=10", "-c:v", "libx264",
                          "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", video])
        var settings = ClipSettings()
        settings.preRollSeconds = 2
        settings.postRollSeconds = 2
        let outcomes = Mutex<[ClipRecorder.Outcome]>([])
        let recorder = try ClipRecorder(directory: dir.appendingPathComponent("clips").path, settings: settings) { o in
            outcomes.withLock { $0.append(o) }
        }
        let source = try FrameSource(video, options: SourceOptions(), clips: recorder)
        var (opened, closed) = (false, false)
        for try await frame in source {
            recorder.decided(upTo: frame.pts)
            if !opened && frame.pts >= 4.5 {
                opened = recorder.open(episode: "cam-1", at: 4.5)
                XCTAssertTrue(opened)
            }
            if opened && !closed && frame.pts >= 6 {
                recorder.close(episode: "cam-1", at: 6)
                closed = true
            }
        }
        await recorder.finish()
        let outcome = try XCTUnwrap(outcomes.withLock { $0 }.first)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.name, "clips/cam-1.mp4")
        // B-frames: the clip ends at the last packet in decode order up to 8 s, which may leave out a frame or two.
        XCTAssertEqual(outcome.seconds, 6, accuracy: 0.2)
        let clip = dir.appendingPathComponent(outcome.name).path
        XCTAssertEqual(outcome.bytes, try FileManager.default.attributesOfItem(atPath: clip)[.size] as? Int)
        let probe = try Probe(clip)
        XCTAssertEqual(probe.codec, "h264")
        XCTAssertEqual(probe.duration, 6.04, accuracy: 0.2, "2 s to 8 s, the last frame's 40 ms included")
        XCTAssertTrue((145...151).contains(probe.frames), "the frames from 2 s to 8 s decode: \(probe.frames)")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("clips").path)
            .contains { $0.hasPrefix(".") }, "no temporary file left")
    }

    func testStillImageHasNoClip() async throws {
        let dir = try Media.temporaryDirectory("clip-still")
        let image = dir.appendingPathComponent("still.png")
        try Media.png(image, width: 64, height: 48, r: "X", g: "Y", b: "0")
        let recorder = try ClipRecorder(directory: dir.appendingPathComponent("clips").path, settings: ClipSettings()) { _ in }
        let source = try FrameSource(image.path, options: SourceOptions(), clips: recorder)
        var frames = 0
        for try await _ in source { frames += 1 }
        XCTAssertEqual(frames, 1)
        XCTAssertFalse(recorder.open(episode: "still-1", at: 0))
    }
}

/// What ffprobe reads of a file: its duration, its video codec and its frames counted by decoding.
struct Probe {
    let duration: Double
    let codec: String
    let frames: Int

    init(_ path: String) throws {
        let data = try Media.run("/usr/bin/ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                                      "-show_entries", "format=duration:stream=codec_name,nb_read_frames",
                                                      "-of", "json", path])
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let stream = (json["streams"] as! [[String: Any]])[0]
        duration = Double((json["format"] as! [String: Any])["duration"] as! String)!
        codec = stream["codec_name"] as! String
        frames = Int(stream["nb_read_frames"] as! String)!
    }
}

extension EncodedPacket {
    /// A packet of `size` zero bytes stamped in milliseconds: rings made without a stream.
    convenience init?(size: Int, seconds: Double, keyframe: Bool) {
        var p = av_packet_alloc()
        defer { av_packet_free(&p) }
        guard let p, av_new_packet(p, Int32(size)) == 0 else { return nil }
        p.pointee.pts = Int64((seconds * 1000).rounded())
        p.pointee.dts = p.pointee.pts
        if keyframe { p.pointee.flags |= AV_PKT_FLAG_KEY }
        self.init(referencing: p, seconds: seconds)
    }
}
