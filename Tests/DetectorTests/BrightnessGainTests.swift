import XCTest
@testable import Detector

final class BrightnessGainTests: XCTestCase {
    /// Each frame is brought to the target mean on its own: a frame dimmed to 60 % comes back to within rounding of
    /// the original, a bright one is clipped at 255, a black one is left black.
    func testEachFrameComesToTheTargetMean() {
        let bytes = 64 * 3
        let original = (0..<bytes).map { UInt8(40 + ($0 * 37) % 120) }
        let dimmed = original.map { UInt8((Double($0) * 0.6).rounded()) }
        let black = [UInt8](repeating: 0, count: bytes)
        let gain = original.withUnsafeBufferPointer { BrightnessGain.fit(rgb: $0) }
        XCTAssertEqual(gain.target, Double(original.reduce(0) { $0 + Int($1) }) / Double(bytes), accuracy: 1e-12)
        var frames = dimmed + black + original.map { UInt8(min(255, Int($0) * 2)) }
        gain.apply(to: &frames, imageBytes: bytes)
        let restored = Array(frames[0..<bytes])
        XCTAssertLessThanOrEqual(zip(restored, original).map { abs(Int($0) - Int($1)) }.max()!, 2, "rounding only")
        XCTAssertEqual(Array(frames[bytes..<(2 * bytes)]), black, "a black frame is not amplified")
        let bright = frames[(2 * bytes)...]
        let brightMean = Double(bright.reduce(0) { $0 + Int($1) }) / Double(bytes)
        XCTAssertEqual(brightMean, gain.target, accuracy: 1.0)
        XCTAssertNil(BrightnessGain(target: 0.5).nonBlack, "black learning frames: no gain")
        XCTAssertFalse(BrightnessGain(target: .nan).isValid)
        XCTAssertFalse(BrightnessGain(target: 300).isValid)
    }
}
