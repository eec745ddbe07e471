import XCTest
@testable import Feedback

/// The suppression rule against a plain reading of it: per novel cell, the nearest dismissed patch in Double,
/// compared with that cell's radius; a quorum of matched cells.
final class SuppressionTests: XCTestCase {
    private struct LCG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    private func naive(_ q: [Float], radii: [Float], dismissed: [(String, [Float])], d: Int, scale: Float, quorum: Int)
        -> (String, Int)? {
        var best: (String, Int, Double)?
        for (id, bank) in dismissed {
            var matched = 0
            var worst = 0.0
            for c in radii.indices {
                let nearest = stride(from: 0, to: bank.count, by: d).map { s in
                    (0..<d).reduce(0.0) { $0 + pow(Double(q[c * d + $1]) - Double(bank[s + $1]), 2) }.squareRoot()
                }.min()!
                let r = Double(radii[c] * scale)
                if r > 0, nearest <= r { matched += 1; worst = max(worst, nearest / r) }
            }
            if matched >= min(quorum, radii.count), best.map({ matched > $0.1 || (matched == $0.1 && worst < $0.2) }) ?? true {
                best = (id, matched, worst)
            }
        }
        return best.map { ($0.0, $0.1) }
    }

    func testMatchesAreThePlainRulesOnRandomPatches() {
        var rng = LCG(state: 3)
        let d = 12
        for trial in 0..<200 {
            let dismissed = (0..<3).map { ("ep\($0)", rng.floats((1 + $0 * 5) * 4 * d)) }
            var s = Suppression(dimension: d, scale: 1.5, quorum: 2)
            for (id, f) in dismissed { XCTAssertTrue(s.add(.init(episode: id, features: f))) }
            // Queries near a dismissed patch or not, radii around the typical distance.
            var q = rng.floats(4 * d)
            if trial % 2 == 0 {
                let (_, bank) = dismissed[trial % 3]
                for c in 0..<3 { for j in 0..<d { q[c * d + j] = bank[(c * 7 % (bank.count / d)) * d + j] + 0.1 * rng.next() } }
            }
            let radii = (0..<4).map { _ in 1 + rng.next() }
            let got = s.match(features: q, radii: radii)
            let want = naive(q, radii: radii, dismissed: dismissed, d: d, scale: 1.5, quorum: 2)
            XCTAssertEqual(got?.episode, want?.0, "trial \(trial)")
            XCTAssertEqual(got?.cells, want?.1, "trial \(trial)")
            if trial % 2 == 0 { XCTAssertNotNil(got, "a repeat of a dismissed patch set matches (trial \(trial))") }
            if let got { XCTAssertLessThanOrEqual(got.ratio, 1) }
        }
    }

    func testTheRadiusAndTheQuorumDecide() {
        var s = Suppression(dimension: 2, scale: 1, quorum: 2)
        XCTAssertNil(s.match(features: [0, 0], radii: [1]), "nothing dismissed")
        _ = s.add(.init(episode: "a", features: [0, 0, 10, 0]))
        // Two novel cells: one 0.9 from a dismissed patch, the other 1.1 away.
        XCTAssertNil(s.match(features: [0.9, 0, 11.1, 0], radii: [1, 1]), "one of two within the radius")
        XCTAssertEqual(s.match(features: [0.9, 0, 10.5, 0], radii: [1, 1])?.episode, "a")
        XCTAssertEqual(s.match(features: [0.9, 0, 10.5, 0], radii: [1, 1])!.ratio, 0.9, accuracy: 1e-6)
        XCTAssertNil(s.match(features: [0.9, 0, 10.5, 0], radii: [0.5, 1]), "a tighter radius at the first cell")
        XCTAssertEqual(s.match(features: [0.9, 0], radii: [1])?.episode, "a", "a frame with one novel cell needs one")
        XCTAssertFalse(s.add(.init(episode: "b", features: [1, 2, 3])), "patches of another dimension")
        s.remove(episode: "a")
        XCTAssertNil(s.match(features: [0, 0, 10, 0], radii: [1, 1]), "undone")
        XCTAssertTrue(s.isEmpty)
    }
}
