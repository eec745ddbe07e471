import Foundation
import XCTest
@testable import Pipeline

final class LightChangeTests: XCTestCase {
    static let size = 224
    /// A textured scene (each 16x16 cell its own grey level, 40-200) at `light` times its brightness, with a white
    /// 4x3-cell object at column `objectAt` when given.
    static func scene(light: Double, objectAt: Int? = nil) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                let cell = (y / 16) * 14 + x / 16
                var v = Double(40 + (cell * 37) % 161) * light
                if let o = objectAt, (5..<8).contains(y / 16), (o..<(o + 4)).contains(x / 16) { v = 255 }
                for c in 0..<3 { p[(y * size + x) * 3 + c] = UInt8(min(255, v.rounded())) }
            }
        }
        return p
    }

    /// Each cell's level is ln(1 + its mean grey), tile after tile.
    func testCellLevelsAreEachBlocksLogMeanGrey() {
        let two = Self.scene(light: 1) + Self.scene(light: 0.5)
        let levels = LightChange.cellLevels(two, size: Self.size, cell: 16)
        XCTAssertEqual(levels.count, 2 * 196)
        for cell in [0, 13, 100, 195] {
            let grey = Double(40 + (cell * 37) % 161)
            XCTAssertEqual(Double(levels[cell]), log1p(grey), accuracy: 1e-5)
            XCTAssertEqual(Double(levels[196 + cell]), log1p((grey * 0.5).rounded()), accuracy: 1e-5)
        }
    }

    /// A step to 0.8 of a steady light: flagged from its first frame while the cells' 2-s averages catch up (the median
    /// change decays as 0.22 e^(-t/2 s) and passes ln 1.1 after 1.6 s), then for the 5-s hold, then no more; one
    /// light change counted. The slow drift before it and an object crossing the picture are never flagged.
    func testAStepOfTheLightIsFlaggedForItsDurationAndTheHoldButObjectsAndDriftAreNot() {
        var light = LightChange(threshold: 0.1, holdSeconds: 5, framesPerSecond: 10)
        var flagged: [Int] = []
        for i in 0..<400 {
            let gain = i < 150 ? 1 + 0.08 * sin(2 * Double.pi * Double(i) / 300) : i < 200 ? 1 : 0.8
            let object = (40..<140).contains(i) ? (i - 40) / 10 : nil
            if light.observe(pixels: Self.scene(light: gain, objectAt: object), size: Self.size) { flagged.append(i) }
        }
        XCTAssertEqual(flagged.first, 200, "the drift (±8 % over 30 s) and the object crossing 12 of 196 cells are not light changes")
        XCTAssertEqual(flagged.count, flagged.last! - 199, "flagged without a gap")
        XCTAssertEqual(Double(flagged.count), 16 + 1 + 50, accuracy: 2, "1.6 s of change and a 5-s hold at 10 frames/s")
        XCTAssertEqual(light.count, 1)
    }
}
