import XCTest
@testable import Detector

final class MetricsTests: XCTestCase {
    func testPerfectReversedAndTiedScores() throws {
        let labels = [false, false, false, true, true]
        XCTAssertEqual(try ROC.auroc(scores: [0.1, 0.2, 0.3, 0.8, 0.9], labels: labels), 1)
        XCTAssertEqual(try ROC.auroc(scores: [0.9, 0.8, 0.7, 0.2, 0.1], labels: labels), 0)
        XCTAssertEqual(try ROC.auroc(scores: [4, 4, 4, 4, 4], labels: labels), 0.5)
    }

    func testHandComputedCases() throws {
        // scikit-learn's roc_auc_score example: of the 4 (anomaly, normal) pairs, 3 are ordered correctly.
        XCTAssertEqual(try ROC.auroc(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true]), 0.75)
        // Anomalies {2, 3} against normals {1, 2}: 1 + ½ + 1 + 1 = 3.5 of 4 pairs.
        XCTAssertEqual(try ROC.auroc(scores: [1, 2, 2, 3], labels: [false, true, false, true]), 0.875)
    }

    func testCurvePointsAndTheirArea() throws {
        let points = try ROC.curve(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])
        XCTAssertEqual(points.map(\.threshold), [.infinity, 0.8, 0.4, 0.35, 0.1])
        XCTAssertEqual(points.map(\.tpr), [0, 0.5, 0.5, 1, 1])
        XCTAssertEqual(points.map(\.fpr), [0, 0, 0.5, 0.5, 1])
        XCTAssertEqual(ROC.csv(Array(points.prefix(2))), "threshold,fpr,tpr\ninf,0.0,0.0\n0.8,0.0,0.5\n")

        // With ties, the trapezoidal area under the curve equals the Mann-Whitney AUROC.
        let scores: [Double] = [1, 2, 2, 3, 3, 3, 5, 0, 2]
        let labels = [false, true, false, true, false, true, true, false, true]
        let curve = try ROC.curve(scores: scores, labels: labels)
        let area = zip(curve, curve.dropFirst()).reduce(0.0) { $0 + ($1.1.fpr - $1.0.fpr) * ($1.1.tpr + $1.0.tpr) / 2 }
        XCTAssertEqual(area, try ROC.auroc(scores: scores, labels: labels), accuracy: 1e-12)
        XCTAssertEqual(curve.last, ROCPoint(fpr: 1, tpr: 1, threshold: 0))
    }

    func testErrors() {
        XCTAssertThrowsError(try ROC.auroc(scores: [1, 2], labels: [true])) {
            XCTAssertEqual($0 as? MetricsError, .lengthMismatch(scores: 2, labels: 1))
        }
        XCTAssertThrowsError(try ROC.auroc(scores: [1, 2], labels: [true, true])) {
            XCTAssertEqual($0 as? MetricsError, .missingClass(anomalies: 2, normals: 0))
        }
        XCTAssertThrowsError(try ROC.curve(scores: [1, .nan], labels: [true, false])) {
            XCTAssertEqual($0 as? MetricsError, .nonFiniteScore(index: 1))
        }
    }
}
