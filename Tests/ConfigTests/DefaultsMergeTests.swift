import Foundation
import XCTest
import Config

/// `defaults` merge into each pipeline as YAML nodes, before decoding: every value keeps the line it was written on.
final class DefaultsMergeTests: XCTestCase {
    func testPipelinesOverrideDefaultsKeyByKeyAtEveryDepth() throws {
        let c = try parse("""
            defaults:
              source: /v/shared.mp4
              sample_fps: 5
              detector: {epochs: 3, holdout: 0.2}
              refit: {enabled: true, every_hours: 12}
            pipelines:
              a:
                detector: {epochs: 4}
                refit:
              b:
              c: {source: /v/c.mp4, sample_fps: 2, detector: {seed: 9}}
            """)
        let a = c.pipelines[0], b = c.pipelines[1], cc = c.pipelines[2]
        XCTAssertEqual(a.detector.epochs, 4)
        XCTAssertEqual(a.detector.holdout, 0.2, "a nested key the pipeline does not set comes from defaults")
        XCTAssertEqual(a.refit.everyHours, 12, "a section written with nothing after it is the defaults'")
        XCTAssertEqual(b.source, "/v/shared.mp4", "an entry written with nothing after it is the defaults")
        XCTAssertEqual(b.detector.epochs, 3)
        XCTAssertEqual(cc.source, "/v/c.mp4")
        XCTAssertEqual(cc.sourceOptions.sampleFPS, 2)
        XCTAssertEqual(cc.detector.seed, 9)
        XCTAssertEqual(cc.detector.epochs, 3)
        XCTAssertEqual(c.pipelines.map(\.stateDir), ["/var/lib/anomalyd/a", "/var/lib/anomalyd/b", "/var/lib/anomalyd/c"])
    }

    /// YAML merge keys read as they did when Yams's decoder expanded them: the entry's own keys win over the merged
    /// mapping's, and both over `defaults`.
    func testMergeKeysKeepTheirPrecedence() throws {
        let c = try parse("""
            defaults:
              sample_fps: 8
              detector: {epochs: 2, seed: 1}
            pipelines:
              a: &base
                source: /v/a.mp4
                sample_fps: 4
                detector: {epochs: 6}
              b:
                <<: *base
                source: /v/b.mp4
                sample_fps: 3
            """)
        let b = c.pipelines[1]
        XCTAssertEqual(b.source, "/v/b.mp4")
        XCTAssertEqual(b.sourceOptions.sampleFPS, 3, "the entry's own key")
        XCTAssertEqual(b.detector.epochs, 6, "the merged mapping's, over defaults")
        XCTAssertEqual(b.detector.seed, 1, "defaults under both")
        XCTAssertEqual(c.pipelines[0].sourceOptions.sampleFPS, 4)
    }

    /// A bad value in `defaults` is reported once, at its line, under `defaults`; one written in the pipeline at
    /// the pipeline's line.
    func testErrorsPointAtTheLineTheValueCameFrom() {
        assertRejected("""
            defaults:
              detector:
                variance_kept: 1
            pipelines:
              a: {source: x.mp4, detector: {epochs: 3}}
            """, line: 3, field: "defaults.detector.variance_kept", contains: "(0, 1)")
        assertRejected("""
            defaults:
              detector: {variance_kept: 0.9}
            pipelines:
              a:
                source: x.mp4
                detector: {variance_kept: 1}
            """, line: 6, field: "pipelines.a.detector.variance_kept", contains: "(0, 1)")
        assertRejected("""
            defaults:
              batch:
                max_frames: 4
                max_wait: 50
            pipelines:
              a: {source: x.mp4}
            """, line: 4, field: "defaults.batch.max_wait", contains: "unknown key 'max_wait' (expected one of: max_frames, max_wait_ms)")
        assertRejected("""
            defaults:
              sample_fps: fast
            pipelines:
              a: {source: x.mp4}
            """, line: 2, field: "defaults.sample_fps", contains: "expected a number, found 'fast'")
        assertRejected("defaults: [a]\npipelines:\n  a: {source: x.mp4}\n", line: 1, field: "defaults", contains: "expected a mapping")
    }
}
