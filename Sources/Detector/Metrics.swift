/// Why a ROC could not be computed.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
    case lengthMismatch(scores: Int, labels: Int)
    /// AUROC compares anomalies with normal frames, so both must be present.
    case missingClass(anomalies: Int, normals: Int)
    case nonFiniteScore(index: Int)

    public var description: String {
        switch self {
        case let .lengthMismatch(scores, labels):
            return "There are \(scores) scores but \(labels) labels; give one label per score."
        case let .missingClass(anomalies, normals):
            return "A ROC needs both anomalous and normal examples, but there are \(anomalies) anomalies and \(normals) normal ones."
        case let .nonFiniteScore(index):
            return "Score \(index) is not finite (NaN or infinity)."
        }
    }
}

/// One point of a ROC curve: predicting "anomalous" for scores ≥ threshold gives these rates.
public struct ROCPoint: Sendable, Equatable {
    public let fpr: Double
    public let tpr: Double
    public let threshold: Double
}

/// ROC analysis of anomaly scores (higher = more anomalous; label true = anomalous).
public enum ROC {
    /// Area under the ROC curve as the Mann-Whitney statistic: the probability that a random anomaly scores higher
    /// than a random normal example, ties counting one half (average ranks).
    public static func auroc(scores: [Double], labels: [Bool]) throws -> Double {
        let (anomalies, normals) = try check(scores, labels)
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, scores[order[end]] == scores[order[start]] { end += 1 }
            // Positions start..<end share the average of the 1-based ranks start+1 … end.
            let rank = Double(start + 1 + end) / 2
            for i in start..<end where labels[order[i]] { rankSum += rank }
            start = end
        }
        let a = Double(anomalies)
        return (rankSum - a * (a + 1) / 2) / (a * Double(normals))
    }

    /// The ROC curve with one point per distinct score, in decreasing threshold order, starting at (0, 0) with
    /// threshold +∞ (scikit-learn's `roc_curve` with `drop_intermediate=False`).
    public static func curve(scores: [Double], labels: [Bool]) throws -> [ROCPoint] {
        let (anomalies, normals) = try check(scores, labels)
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points = [ROCPoint(fpr: 0, tpr: 0, threshold: .infinity)]
        var truePositives = 0, falsePositives = 0
        var i = 0
        while i < order.count {
            let threshold = scores[order[i]]
            while i < order.count, scores[order[i]] == threshold {
                if labels[order[i]] { truePositives += 1 } else { falsePositives += 1 }
                i += 1
            }
            points.append(ROCPoint(fpr: Double(falsePositives) / Double(normals), tpr: Double(truePositives) / Double(anomalies),
                                   threshold: threshold))
        }
        return points
    }

    /// The curve as CSV with a header row; the first threshold is written `inf`.
    public static func csv(_ points: [ROCPoint]) -> String {
        "threshold,fpr,tpr\n" + points.map { "\($0.threshold),\($0.fpr),\($0.tpr)\n" }.joined()
    }

    private static func check(_ scores: [Double], _ labels: [Bool]) throws -> (anomalies: Int, normals: Int) {
        guard scores.count == labels.count else { throw MetricsError.lengthMismatch(scores: scores.count, labels: labels.count) }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) { throw MetricsError.nonFiniteScore(index: bad) }
        let anomalies = labels.filter { $0 }.count
        guard anomalies > 0, anomalies < labels.count else {
            throw MetricsError.missingClass(anomalies: anomalies, normals: labels.count - anomalies)
        }
        return (anomalies, labels.count - anomalies)
    }
}
