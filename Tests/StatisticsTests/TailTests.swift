import Foundation
import Statistics
import XCTest

/// SplitMix64 then inverse-CDF draws: the samples are the same on every machine.
struct Draws {
    var state: UInt64
    mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
    }
    mutating func pareto(shape: Double, scale: Double) -> Double {
        GeneralizedPareto(shape: shape, scale: scale).quantile(logSurvival: log(uniform()))
    }
    mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
}

/// Runs a Python snippet (Debian's python3 with numpy and scipy) on `input` as JSON; returns its JSON output.
func python(_ script: String, _ input: Any) throws -> Any {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tail-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("in.json")
    try JSONSerialization.data(withJSONObject: input).write(to: path)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", "import json, sys\nimport numpy as np\nfrom scipy import stats\nx = json.load(open(sys.argv[1]))\n" + script,
                   path.path]
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 0, errors)
    return try JSONSerialization.jsonObject(with: data)
}

final class GeneralizedParetoTests: XCTestCase {
    /// The maximum-likelihood fit against scipy's `genpareto.fit(y, floc=0)` on the same samples: heavy, exponential
    /// and bounded tails, and the excesses of a normal sample over its 90th percentile (ξ slightly negative).
    func testFitMatchesScipyOnTheSameSamples() throws {
        var draws = Draws(state: 42)
        var samples: [[Double]] = []
        for (shape, scale, n) in [(0.3, 2.0, 400), (0.0, 1.0, 300), (-0.25, 0.5, 300), (0.6, 0.1, 150), (0.1, 5.0, 40)] {
            samples.append((0..<n).map { _ in draws.pareto(shape: shape, scale: scale) })
        }
        let normal = (0..<3000).map { _ in draws.normal() }.sorted()
        let u = normal[2699]
        samples.append(normal[2700...].map { $0 - u })

        let reference = try XCTUnwrap(try python("""
            fits = []
            for y in x:
                c, loc, scale = stats.genpareto.fit(np.array(y), floc=0)
                fits.append([c, scale, float(np.sum(stats.genpareto.logpdf(y, c, 0, scale)))])
            print(json.dumps(fits))
            """, samples) as? [[Double]])
        for (y, ref) in zip(samples, reference) {
            let fit = try GeneralizedPareto.fit(excesses: y)
            let ours = fit.logLikelihood(y)
            // A maximum: never below scipy's optimum, and the same point (the likelihood is flat near it, so the
            // parameters agree to a few per cent where the log-likelihoods agree to 1e-6).
            XCTAssertGreaterThanOrEqual(ours, ref[2] - 1e-6 * abs(ref[2]), "n=\(y.count) ours \(fit) scipy \(ref)")
            XCTAssertEqual(fit.shape, ref[0], accuracy: 0.02, "n=\(y.count)")
            XCTAssertEqual(fit.scale, ref[1], accuracy: 0.02 * ref[1], "n=\(y.count)")
        }
    }

    func testSurvivalAndQuantileAgreeWithScipy() throws {
        let cases = [GeneralizedPareto(shape: 0.3, scale: 2), GeneralizedPareto(shape: 0, scale: 1.5),
                     GeneralizedPareto(shape: -0.2, scale: 0.7)]
        let ys = [0.0, 0.1, 1, 2.5, 3.4]
        let reference = try XCTUnwrap(try python("""
            print(json.dumps([[float(stats.genpareto.logsf(y, c, 0, s)) for y in x["y"]] for c, s in x["p"]]))
            """, ["p": cases.map { [$0.shape, $0.scale] }, "y": ys]) as? [[Double]])
        for (g, row) in zip(cases, reference) {
            for (y, ref) in zip(ys, row) {
                XCTAssertEqual(g.logSurvival(y), ref, accuracy: 1e-9, "\(g) at \(y)")
                XCTAssertEqual(g.quantile(logSurvival: g.logSurvival(y)), y, accuracy: 1e-9)
            }
        }
        XCTAssertEqual(GeneralizedPareto(shape: -0.5, scale: 1).logSurvival(2.5), -.infinity, "beyond the end")
    }

    func testBadExcessesAreNamed() {
        XCTAssertThrowsError(try GeneralizedPareto.fit(excesses: [1, 2])) { XCTAssertEqual($0 as? TailError, .tooFewExcesses(count: 2, needed: 3)) }
        XCTAssertThrowsError(try GeneralizedPareto.fit(excesses: [1, .nan, 2])) { XCTAssertEqual($0 as? TailError, .nonFinite(index: 1)) }
        XCTAssertThrowsError(try GeneralizedPareto.fit(excesses: [1, -1, 2])) { XCTAssertEqual($0 as? TailError, .negativeExcess(index: 1)) }
        XCTAssertThrowsError(try GeneralizedPareto.fit(excesses: [0, 0, 0])) { XCTAssertEqual($0 as? TailError, .constant) }
    }
}

final class ScoreTailTests: XCTestCase {
    /// The body is numpy's empirical survival with +1 smoothing; beyond the threshold the fitted tail, continuous
    /// at it; and the tail's probabilities of far values match the distribution the scores came from.
    func testBodyIsEmpiricalAndTheTailExtrapolates() throws {
        var draws = Draws(state: 7)
        let scores = (0..<2000).map { _ in draws.pareto(shape: 0.1, scale: 1) }
        let tail = try ScoreTail.fit(scores)
        XCTAssertEqual(tail.exceedances, 200)
        let probes = [0.05, 0.5, 1.0, tail.threshold - 1e-9]
        let reference = try XCTUnwrap(try python("""
            s = np.array(x["s"])
            print(json.dumps([float(np.log(((s > p).sum() + 1) / (len(s) + 1))) for p in x["p"]]))
            """, ["s": scores, "p": probes]) as? [Double])
        for (p, ref) in zip(probes, reference) { XCTAssertEqual(tail.logSurvival(p), ref, accuracy: 1e-12, "at \(p)") }
        XCTAssertEqual(tail.logSurvival(tail.threshold + 1e-12), tail.logSurvival(tail.threshold), accuracy: 1e-9)
        // 1e-4 lies beyond every one of the 2000 scores; the fitted tail puts it near the true level.
        let truth = GeneralizedPareto(shape: 0.1, scale: 1).quantile(logSurvival: log(1e-4))
        XCTAssertEqual(tail.quantile(logSurvival: log(1e-4)), truth, accuracy: 0.25 * truth)
        XCTAssertEqual(tail.logSurvival(tail.quantile(logSurvival: log(1e-4))), log(1e-4), accuracy: 1e-9)
        XCTAssertNoThrow(try tail.validate())
    }

    func testTooFewOrNonFiniteScoresAreRefused() {
        XCTAssertThrowsError(try ScoreTail.fit(Array(repeating: 1, count: 5))) {
            XCTAssertEqual($0 as? TailError, .tooFewScores(count: 5, needed: ScoreTail.minimumScores))
        }
        XCTAssertThrowsError(try ScoreTail.fit((0..<30).map(Double.init) + [.infinity])) { XCTAssertEqual($0 as? TailError, .nonFinite(index: 30)) }
    }
}
