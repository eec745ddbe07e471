import Foundation
import XCTest
@testable import Config
import Ingest

/// The `clips:` and `snapshots:` sections: on by default, merged field by field over `defaults`, unknown keys and bad
/// values rejected by name and line.
final class ClipConfigTests: XCTestCase {
    func testClipsAreOnByDefaultAndMergeOverDefaults() throws {
        let c = try parse("""
        defaults:
          clips: {pre_roll_s: 3, max_bytes: 10000000}
        pipelines:
          line3:
            source: /videos/a.mp4
            clips: {post_roll_s: 8, max_days: 2}
          dock:
            source: /videos/b.mp4
            clips: {enabled: false}
          yard:
            source: /videos/c.mp4
        """)
        let (dock, line3) = (c.pipelines[0], c.pipelines[1])
        XCTAssertEqual(line3.clips.preRollSeconds, 3)
        XCTAssertEqual(line3.clips.postRollSeconds, 8)
        XCTAssertEqual(line3.clips.maxBytes, 10_000_000)
        XCTAssertEqual(line3.clips.maxDays, 2)
        XCTAssertEqual(line3.clips.maxClipSeconds, 120, "built in")
        XCTAssertTrue(line3.clips.enabled)
        XCTAssertFalse(dock.clips.enabled)
        XCTAssertEqual(dock.clips.preRollSeconds, 3)
        XCTAssertEqual(line3.clipsPath, "/var/lib/anomalyd/line3/clips")
        XCTAssertEqual(try parse("pipelines:\n  a:\n    source: x.mp4\n").pipelines[0].clips, ClipSettings())
    }

    func testClipKeysAreStrict() {
        assertRejected("""
        pipelines:
          line3:
            source: /videos/a.mp4
            clips:
              pre_roll: 5
        """, line: 5, field: "pipelines.line3.clips.pre_roll", contains: "unknown key")
        assertRejected("""
        pipelines:
          line3:
            source: /videos/a.mp4
            clips: {enabled: yes please}
        """, line: 4, field: "pipelines.line3.clips.enabled", contains: "true or false")
    }

    func testClipValuesOutOfRangeNameTheirField() {
        let cases: [(String, String, String)] = [
            ("pre_roll_s: -1", "pre_roll_s", "[0, 60] seconds"),
            ("pre_roll_s: 61", "pre_roll_s", "[0, 60] seconds"),
            ("post_roll_s: .nan", "post_roll_s", "[0, 60] seconds"),
            ("max_clip_s: 0.5", "max_clip_s", "[1, 3600] seconds"),
            ("max_bytes: 1000", "max_bytes", "1 MiB"),
            ("max_bytes: 9223372036854775807", "max_bytes", "1 TiB"),
            ("max_days: 0", "max_days", "(0, 3650] days"),
        ]
        for (value, field, message) in cases {
            assertRejected("""
            pipelines:
              line3:
                source: /videos/a.mp4
                clips: {\(value)}
            """, line: 4, field: "pipelines.line3.clips.\(field)", contains: message)
        }
    }

    func testSnapshotsAreOnByDefaultAndTheirLimitsNameTheirField() throws {
        let c = try parse("pipelines:\n  a:\n    source: x.mp4\n    snapshots: {max_days: 2}\n")
        XCTAssertEqual(c.pipelines[0].snapshots.maxDays, 2)
        XCTAssertTrue(c.pipelines[0].snapshots.enabled)
        XCTAssertEqual(c.pipelines[0].snapshotsPath, "/var/lib/anomalyd/a/snapshots")
        for (value, field, message) in [("max_bytes: 1000", "max_bytes", "1 MiB"), ("max_days: -1", "max_days", "(0, 3650] days"),
                                        ("quality: 3", "quality", "unknown key")] {
            assertRejected("""
            pipelines:
              line3:
                source: /videos/a.mp4
                snapshots: {\(value)}
            """, line: 4, field: "pipelines.line3.snapshots.\(field)", contains: message)
        }
    }
}
