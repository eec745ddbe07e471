import Config
import XCTest
@testable import Pipeline

final class RefitValidationTests: XCTestCase {
    private let live = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.6]   // 1 of 10 at or above 0.5

    func testACandidateNoWorseThanTheMarginIsAccepted() {
        let v = RefitValidation(liveHoldout: live, candidateHoldout: [0.1, 0.1, 0.2, 0.2, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1],
                                candidateEvidence: [0.9, 0.7], cut: 0.5, falseAlarmMargin: 0.1, expectedFalseAlarmRate: 0.01)
        XCTAssertTrue(v.accepted, v.rejection ?? "")
        XCTAssertEqual(v.figures.liveFalseAlarmRate, 0.1, accuracy: 1e-12)
        XCTAssertEqual(v.figures.candidateFalseAlarmRate, 0.2, accuracy: 1e-12)
        XCTAssertEqual(v.figures.holdoutFrames, 10)
        XCTAssertEqual(v.figures.evidenceDetected, 2)
    }

    func testMoreFalseAlarmsThanTheMarginAreRejected() {
        let v = RefitValidation(liveHoldout: live, candidateHoldout: [0.6, 0.6, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
                                candidateEvidence: [], cut: 0.5, falseAlarmMargin: 0.1, expectedFalseAlarmRate: 0.01)
        XCTAssertFalse(v.accepted)
        XCTAssertTrue(v.rejection!.contains("0.300 exceeds the reference 0.100 (live model 0.100"), v.rejection!)
    }

    func testMissedEvidenceIsRejected() {
        let v = RefitValidation(liveHoldout: live, candidateHoldout: live, candidateEvidence: [0.9, 0.4, 0.2],
                                cut: 0.5, falseAlarmMargin: 0.05, expectedFalseAlarmRate: 0.01)
        XCTAssertFalse(v.accepted)
        XCTAssertEqual(v.figures.evidenceFrames, 3)
        XCTAssertEqual(v.figures.evidenceDetected, 1)
        XCTAssertTrue(v.rejection!.contains("2 of 3 stored anomaly-evidence frames"), v.rejection!)
    }

    /// The buffer holds only frames the live model scored clearly normal, so its false-alarm rate there is zero by
    /// construction; a candidate calibrated on 24 held-out frames lets about 1 in 25 normal frames through by design.
    /// Measured against zero it would never be promoted; against its expected rate it is.
    func testTheReferenceIsNeverBelowTheCandidatesExpectedRate() {
        let liveOnBuffer = Array(repeating: 0.1, count: 60)
        let candidate = Array(repeating: 0.1, count: 56) + Array(repeating: 0.6, count: 4)   // 4 of 60 = 0.067
        let fair = RefitValidation(liveHoldout: liveOnBuffer, candidateHoldout: candidate, candidateEvidence: [0.9],
                                   cut: 0.5, falseAlarmMargin: 0.05, expectedFalseAlarmRate: 1.0 / 25)
        XCTAssertTrue(fair.accepted, fair.rejection ?? "")
        XCTAssertEqual(fair.figures.expectedFalseAlarmRate, 0.04, accuracy: 1e-12)
        let tooMany = RefitValidation(liveHoldout: liveOnBuffer, candidateHoldout: Array(repeating: 0.1, count: 54) + Array(repeating: 0.6, count: 6),
                                      candidateEvidence: [0.9], cut: 0.5, falseAlarmMargin: 0.05, expectedFalseAlarmRate: 1.0 / 25)
        XCTAssertFalse(tooMany.accepted, "0.100 > 0.040 + 0.050")
        XCTAssertTrue(tooMany.rejection!.contains("expected 0.040"), tooMany.rejection!)
    }

    func testNoHeldOutFramesIsNoPromotion() {
        let v = RefitValidation(liveHoldout: [], candidateHoldout: [], candidateEvidence: [], cut: 0.5, falseAlarmMargin: 1, expectedFalseAlarmRate: 0.01)
        XCTAssertFalse(v.accepted)
    }

    func testSettingsDefaultsAndOverrides() throws {
        let c = try ConfigLoader.parse("""
        pipelines:
          a: {source: /v/a.mp4}
          b: {source: /v/b.mp4, state_dir: /s/b, refit: {enabled: true, every_new_frames: 50, epochs: 2}}
        """, file: "t.yaml")
        let a = c.pipelines[0].refit, b = c.pipelines[1].refit
        XCTAssertFalse(a.enabled, "learning while running is opt-in")
        XCTAssertEqual(a.maxFrames, 2000)
        XCTAssertEqual(a.everyHours, 24)
        XCTAssertNil(a.everyNewFrames)
        XCTAssertTrue(b.enabled)
        XCTAssertEqual(b.everyNewFrames, 50)
        XCTAssertEqual(b.epochs, 2)
        XCTAssertEqual(b.normalMargin, 0.2)
        XCTAssertEqual(c.pipelines[1].normalBufferPath, "/s/b/normal")
    }
}
