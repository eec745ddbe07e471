import Decisions
import Detector

/// The decide stage's calibration: the live model's, refitted during the burn-in on the scene's own quiet frames.
///
/// A model's tails rest on its learning frames' out-of-sample scores, which cannot show every way the scene
/// varies; where it varies more (light, shake) a tail is over-confident and normal frames look rare. During the
/// first `burnInFrames` of detection under a model, each component's raw scores on quiet frames away from any
/// evidence (`BurnIn`) join its learning scores (with Fisher's fusion, the frame's row joins T's rows too), and the
/// tails are refitted as they grow by a quarter (from `firstRefit` frames on) and once more at the end; then the
/// calibration holds. A new model (a refit) starts a new burn-in from its own calibration: raw scores of two models
/// are not comparable.
/// (Session 9, offline on the 60-minute shift: normal frames above the cut 12 of 1,331 → 0, novel ones 20 → 16 of 33.)
/// The patch memory's cells are levelled live as well (`CellLevels`), for as long as the model scores; the tails see
/// the levelled scores.
struct LiveCalibration {
    private(set) var calibration: Calibration
    private(set) var modelVersion: String
    private var burnIn: BurnIn<[ScoreComponent: Double]>
    private var quiet: [[ScoreComponent: Double]] = []
    private var fittedAt = 0
    private(set) var refits = 0
    private var levels: CellLevels?

    static let firstRefit = 50
    static let growth = 1.25

    /// `cellLevels`, the model's learnt levels (`PatchMemory.cellLevels`), turns the live levels on.
    init(model: Calibration, version: String, burnInFrames: Int, burnInMargin: Int, cellLevels: [Float]? = nil,
         framesPerSecond: Double = 1) {
        calibration = model
        modelVersion = version
        burnIn = BurnIn(frames: burnInFrames, margin: burnInMargin)
        self.model = model
        levels = cellLevels.map { CellLevels(learnt: $0, framesPerSecond: framesPerSecond) }
    }

    /// The model's own calibration, which the live one starts from and refits.
    private let model: Calibration

    var burningIn: Bool { !burnIn.isOver }

    func surprise(_ raw: [ScoreComponent: Double]) throws -> Double { try calibration.evaluate(raw).surprise }

    /// The frame's raw scores and map under the live cell levels.
    func levelled(_ s: FrameScore) -> (raw: [ScoreComponent: Double], map: [Float]) {
        guard let (patch, map) = levels?.levelled(s) else { return (s.raw, s.map) }
        var raw = s.raw
        raw[.patch] = patch
        return (raw, map)
    }

    /// The largest lift the live cell levels take from a cell, 0 before they have any.
    var largestLift: Double { Double(levels?.lifts?.max() ?? 0) }

    /// One frame (its levelled raw scores, and its patch cells) and the decision stage's phase with it.
    mutating func observe(_ raw: [ScoreComponent: Double], cells: [Float] = [], phase: DecisionPhase) throws {
        levels?.observe(cells: cells, phase: phase)
        guard let joined = burnIn.observe(raw, phase: phase) else { return }
        quiet.append(joined.filter { $0.value.isFinite })
        let n = burnIn.accepted
        let due = n >= Self.firstRefit && Double(n) >= Double(max(fittedAt, 1)) * Self.growth
        if due || burnIn.isOver {
            calibration = try model.adding(quiet)
            fittedAt = n
            refits += 1
        }
    }
}
