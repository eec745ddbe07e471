import Foundation
import TestSupport
import XCTest

/// The daemon recording an episode's clip from a real H.264 RTSP stream (gst-rtsp-server serving a belt recording,
/// a keyframe every 2 s): after learning from the stream it detects a novel object, names the clip on every
/// message of the episode, and writes an MP4 that ffprobe reads, running from the episode's start less the pre-roll
/// (back to a keyframe) to its end plus the post-roll. Writing it brings the clips directory over `max_bytes`: the
/// oldest clip there is deleted, the newer one stays. Each `new` and `update` names a full-resolution snapshot that
/// is on disk when the message arrives.
final class ClipDaemonTests: XCTestCase {
    func testEpisodeOverRTSPYieldsAClipFromPreRollToPostRollAndRetentionDeletesTheOldest() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-clips-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // 30 s of belt at 640x360, 25 fps; a novel object enters at 18 s (video time), after the 10 s of learning.
        let video = dir.appendingPathComponent("belt.mp4").path
        let render = try CLI.python(try String(contentsOf: CLI.root.appendingPathComponent("scripts/make_demo_video.py"), encoding: .utf8),
                                    [video, "--seconds", "30", "--novel", "18", "--width", "640", "--height", "360"])
        XCTAssertEqual(render.status, 0, render.stderr)

        // Two older clips: 1,900,000 + 190,000 bytes fit in max_bytes (2 MiB) until the episode's clip is written.
        let clips = dir.appendingPathComponent("state/clips")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        for (name, bytes, age) in [("cam-old.mp4", 1_900_000, 7200.0), ("cam-newer.mp4", 190_000, 3600)] {
            let path = clips.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: bytes)))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: path)
        }

        let rtspPort = freeLocalPort(), zmqPort = freeLocalPort()
        let server = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("scripts/rtsp_server.py").path,
                                                        "--port", "\(rtspPort)", "--path", "/belt", "--file", video])
        XCTAssertTrue(server.waitFor("READY"), "RTSP server did not start")
        let config = dir.appendingPathComponent("clips.yaml").path
        try """
        publisher: {endpoint: "tcp://127.0.0.1:\(zmqPort)", heartbeat_s: 1}
        pipelines:
          belt:
            source: rtsp://127.0.0.1:\(rtspPort)/belt
            teacher: \(CLI.teacher)
            sample_fps: 5
            state_dir: \(dir.path)/state
            learning: {frames: 50}
            detector: {student_depth: 0, patch_memory: 1024}
            decision: {frames_to_start: 2, frames_to_end: 3}
            clips: {pre_roll_s: 3, post_roll_s: 3, max_bytes: 2097152}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let collected = dir.appendingPathComponent("messages.jsonl").path
        let subscriber = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                         "tcp://127.0.0.1:\(zmqPort)", collected])
        XCTAssertTrue(subscriber.waitFor("READY"))
        let daemon = try CLI.Child(CLI.binary, ["run", "--config", config])
        defer {
            daemon.stop()
            subscriber.stop()
            server.stop()
        }

        func events() -> [[String: Any]] {
            CLI.messages(collected).filter { ($0["topic"] as? String) == "anomaly/belt/event" }.map { $0["message"] as! [String: Any] }
        }
        // The stream lasts 30 s from the daemon's connection; the clip is written 3 s of stream after the end.
        let deadline = Date().addingTimeInterval(90)
        var ended: (event: [String: Any], at: Date)?
        var written: Date?
        while Date() < deadline && daemon.process.isRunning && written == nil {
            if ended == nil, let end = events().first(where: { $0["type"] as? String == "end" }) { ended = (end, Date()) }
            if let name = ended?.event["clip"] as? String, FileManager.default.fileExists(atPath: "\(dir.path)/state/\(name)") {
                written = Date()
            }
            usleep(100_000)
        }
        let all = events()
        let end = try XCTUnwrap(ended?.event, "no episode ended: \(all)")
        let id = end["id"] as! String
        let episode = all.filter { $0["id"] as? String == id }
        let name = "clips/\(id).mp4"
        XCTAssertEqual(episode.map { $0["clip"] as? String }, Array(repeating: name, count: episode.count),
                       "every message of the episode names its clip")
        for e in episode where e["type"] as? String != "end" {
            let snapshot = try XCTUnwrap(e["snapshot"] as? String, "\(e["type"]!) names no snapshot")
            let frame = (e["frame"] as! [String: Any])["index"] as! Int
            XCTAssertEqual(snapshot, "snapshots/\(id)-\(frame).jpg")
            XCTAssertEqual(try CLI.probe(dir.path + "/state/" + snapshot, entries: "stream=width,height"), ["640", "360"],
                           "the source's resolution")
        }
        XCTAssertNil(end["snapshot"], "the end has no evidence")
        let writtenAt = try XCTUnwrap(written, "the clip was not written within the stream")
        let afterEnd = writtenAt.timeIntervalSince(ended!.at)
        XCTAssertLessThan(afterEnd, 3 + 3, "written about the post-roll after the end event, not later")

        func pts(_ e: [String: Any]) -> Double { (e["frame"] as! [String: Any])["pts_seconds"] as! Double }
        let new = try XCTUnwrap(episode.first { $0["type"] as? String == "new" })
        // From the keyframe at or before the start less the pre-roll (2 s GOPs; the start is up to 2 frames before
        // `new`) to the end plus the post-roll.
        let asked = pts(end) + 3 - (pts(new) - 3)
        let clip = dir.appendingPathComponent("state/\(name)").path
        XCTAssertEqual(try CLI.probe(clip, entries: "stream=codec_name"), ["h264"])
        let duration = try XCTUnwrap(Double(try CLI.probe(clip, entries: "format=duration").first ?? ""))
        XCTAssertGreaterThanOrEqual(duration, asked - 0.3, "the clip covers pre-roll to post-roll")
        XCTAssertLessThanOrEqual(duration, asked + 2.4 + 0.3, "at most a GOP and the opening frames more")
        let bytes = try FileManager.default.attributesOfItem(atPath: clip)[.size] as! Int
        print("clip \(name): \(bytes) bytes, \(duration) s (asked \(asked) s), written \(afterEnd) s after the end event")

        // Retention: the oldest went, the newer one and the new clip stay, and they fit.
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: clips.path))
        XCTAssertEqual(left, ["cam-newer.mp4", "\(id).mp4"])
        XCTAssertLessThanOrEqual(190_000 + bytes, 2_097_152)
    }
}

extension CLI {
    /// The values of ffprobe's `entries` (e.g. "stream=width,height") for the first video stream, in ffprobe's order.
    static func probe(_ path: String, entries: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        process.arguments = ["-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "csv=p=0", path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "ffprobe cannot read \(path)")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: ",").map(String.init)
    }
}
