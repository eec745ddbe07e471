import Decisions
import Detector

/// The decide stage's calibration: the live model's, refitted during the burn-in on the scene's own quiet frames.
///
/// A model's tails rest on its learning frames' out-of-sample scores, which cannot show every way the scene
/// varies; where it varies more (light, shake) a tail is over-confident and normal frames look rare. During the
/// first `burnInFrames` of detection under a model, each component's raw scores on quiet frames away from any
/// evidence (`BurnIn`) join its learning scores, and the tails are refitted as they grow by a quarter (from
/// `firstRefit` frames on) and once more at the end; then the calibration holds. A new model (a refit) starts a
/// new burn-in from its own calibration: raw scores of two models are not comparable.
/// (Session 9, offline on the 60-minute shift: normal frames above the cut 12 of 1,331 → 0, novel ones 20 → 16 of 33.)
struct LiveCalibration {
    private(set) var calibration: Calibration
    private(set) var modelVersion: String
    private var burnIn: BurnIn<[ScoreComponent: Double]>
    private var quiet: [ScoreComponent: [Double]] = [:]
    private var fittedAt = 0
    private(set) var refits = 0

    static let firstRefit = 50
    static let growth = 1.25

    init(model: Calibration, version: String, burnInFrames: Int, burnInMargin: Int) {
        calibration = model
        modelVersion = version
        burnIn = BurnIn(frames: burnInFrames, margin: burnInMargin)
        self.model = model
    }

    /// The model's own calibration, which the live one starts from and refits.
    private let model: Calibration

    var burningIn: Bool { !burnIn.isOver }

    func surprise(_ raw: [ScoreComponent: Double]) throws -> Double { try calibration.evaluate(raw).surprise }

    /// One frame's raw scores and the decision stage's phase with it.
    mutating func observe(_ raw: [ScoreComponent: Double], phase: DecisionPhase) throws {
        guard let joined = burnIn.observe(raw, phase: phase) else { return }
        for (c, v) in joined where v.isFinite { quiet[c, default: []].append(v) }
        let n = burnIn.accepted
        let due = n >= Self.firstRefit && Double(n) >= Double(max(fittedAt, 1)) * Self.growth
        if due || burnIn.isOver {
            calibration = try model.adding(quiet)
            fittedAt = n
            refits += 1
        }
    }
}
