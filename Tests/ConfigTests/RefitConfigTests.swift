import Foundation
import XCTest
@testable import Config

/// The `refit:` section: merged field by field like the others, unknown keys and bad values rejected by name.
final class RefitConfigTests: XCTestCase {
    func testRefitSectionMergesOverDefaults() throws {
        let c = try parse("""
        defaults:
          refit: {enabled: true, every_hours: 12, max_frames: 500, false_alarm_margin: 0.1}
        pipelines:
          line3:
            source: /videos/a.mp4
            refit: {every_new_frames: 300, max_frames: 800, normal_margin: 0.25}
          dock:
            source: /videos/b.mp4
        """)
        let dock = c.pipelines[0], line3 = c.pipelines[1]
        XCTAssertEqual(line3.refit.enabled, true)
        XCTAssertEqual(line3.refit.everyHours, 12)
        XCTAssertEqual(line3.refit.everyNewFrames, 300)
        XCTAssertEqual(line3.refit.maxFrames, 800)
        XCTAssertEqual(line3.refit.normalMargin, 0.25)
        XCTAssertEqual(line3.refit.falseAlarmMargin, 0.1)
        XCTAssertEqual(line3.refit.minFrames, 200, "built in")
        XCTAssertEqual(dock.refit.maxFrames, 500)
        XCTAssertNil(dock.refit.everyNewFrames)
    }

    func testRefitKeysAreStrict() {
        assertRejected("""
        pipelines:
          line3:
            source: /videos/a.mp4
            refit:
              enabled: true
              every_minutes: 5
        """, line: 6, field: "pipelines.line3.refit.every_minutes", contains: "unknown key")
        assertRejected("""
        pipelines:
          line3:
            source: /videos/a.mp4
            refit: {enabled: sometimes}
        """, line: 4, field: "pipelines.line3.refit.enabled", contains: "true or false")
    }

    func testRefitValuesOutOfRangeNameTheirField() {
        let cases: [(String, String, String)] = [
            ("every_hours: 0", "every_hours", "(0, 8760] hours"),
            ("every_new_frames: 0", "every_new_frames", "1...1000000"),
            ("min_frames: 5", "min_frames", "20...10000"),
            ("normal_margin: 0.5", "normal_margin", "[0, 0.5)"),
            ("max_frames: 10", "max_frames", "20...10000"),
            ("max_frames: 9223372036854775807", "max_frames", "20...10000"),
            ("max_bytes: 9223372036854775807", "max_bytes", "1 TiB"),
            ("max_bytes: 1000", "max_bytes", "bytes"),
            ("epochs: 0", "epochs", "1...1000"),
            ("validation_holdout: 0.6", "validation_holdout", "(0, 0.5)"),
            ("false_alarm_margin: 2", "false_alarm_margin", "[0, 1]"),
            ("evidence_min_score: 0.3", "evidence_min_score", "(0.5, 1]"),
            ("{min_frames: 300, max_frames: 100}", "min_frames", "at most max_frames (100), got 300"),
        ]
        for (value, field, message) in cases {
            let body = value.hasPrefix("{") ? value : "{\(value)}"
            assertRejected("""
            pipelines:
              line3:
                source: /videos/a.mp4
                refit: \(body)
            """, line: 4, field: "pipelines.line3.refit.\(field)", contains: message)
        }
    }
}
