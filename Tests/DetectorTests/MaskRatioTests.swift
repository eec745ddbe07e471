import Engine
import XCTest
@testable import Detector

/// A mask ratio that keeps no patch reached the trainer's precondition ("keeps no patch") and ended the process:
/// `check` accepted any ratio below 1, and 0.9999999999999999 of 196 patches keeps none.
final class MaskRatioTests: XCTestCase {
    func testARatioMaskingEveryPatchIsRefusedByTheRange() {
        var s = DetectorSettings.papers
        for ratio in [0.0, 0.5, DetectorSettings.maxMaskRatio] {
            s.maskRatio = ratio
            XCTAssertNil(s.firstInvalid, "\(ratio)")
        }
        for ratio in [0.96, 0.9999999999999999, 1, .nan] {
            s.maskRatio = ratio
            XCTAssertEqual(s.firstInvalid?.key, .maskRatio, "\(ratio)")
        }
    }

    /// The range cannot know the teacher: a teacher with a small grid is checked when the student is shaped.
    func testATeacherWhoseEveryPatchTheRatioMasksIsRefusedByName() throws {
        let small = ViTConfig(imageSize: 32, patchSize: 16, width: 16, depth: 1, heads: 2, mlpWidth: 32)   // 4 patches
        var s = DetectorSettings.papers
        s.maskRatio = 0.9
        XCTAssertNil(s.firstInvalid)
        XCTAssertThrowsError(try s.studentConfig(teacher: small)) { error in
            XCTAssertEqual(error as? DetectorSettingsError,
                           .invalidSetting(field: "mask_ratio", reason: "0.9 masks all 4 patches of the teacher; lower it"))
        }
        s.maskRatio = 0.75
        XCTAssertEqual(try s.studentConfig(teacher: small).patches, 4)
    }
}
