import Decisions
import Detector

/// The patch map's live levels: where the scene's normal evidence has risen at one place since learning, that rise is
/// taken back from the place's cell scores before the frame is scored.
///
/// The patch memory's cells are standardised on the learning frames, so a cell's normal level is set by what the
/// scene did then. A sudden light change lifts a dark floor's normal cells far more than the belt's: on the 60-minute
/// shift (benchmarks/falsealarms/RESULTS.md, session 16) every false episode peaked in the frame's top or bottom
/// row, and after the light step 95 % of normal frames had a cell beyond the baseline (57 % before); taking each
/// cell's own recent 0.99 quantile away separated normal frames from every novel object (normal 0.999 quantile 2.06,
/// the objects' lowest peak 2.79). Each cell (per tile) keeps its scores over the last `window` frames outside
/// episodes and their margin (`BurnIn`'s rule with a blip's build-up counted as quiet, and no end), and its lift is
/// how far their 0.99 quantile (`PatchMemory.levels`) lies above the learning frames' (`PatchMemory.cellLevels`),
/// never below 0: the levels only ever make the detector quieter where the scene became noisier, so the learnt tails
/// stay the bound they were fitted as. Lifts start once `minimum` frames are kept and are recomputed every `every`.
/// Blips count because a place that became noisier makes them: leaving out every frame near one (as the burn-in does)
/// left out the very frames that show the new level (the shift at 682-707 s, where the floor's cells rose for half a
/// minute and three false episodes opened). A novel object that opens no episode still cannot teach a cell its
/// level: crossing the belt it stays a few frames at a cell, far fewer than the 1 % of the window a 0.99 quantile
/// needs.
/// Where a cell's recent scores also spread wider than its learnt ones (its recent median to 0.99 quantile beyond the
/// learnt 0 to level: the cells are standardised to a median of 0 on the learning frames), a lift alone leaves the
/// wider tail above the level; there the score beyond the recent level is also scaled down by the spread's growth,
/// so that the recent [median, level] maps onto the learnt [0, level]. Below the recent level the lift takes more,
/// so each cell's score is the smaller of the two.
struct CellLevels {
    let learnt: [Float]
    let window: Int
    let minimum: Int
    let every: Int
    private var quiet: BurnIn<[Float]>
    /// The last `window` quiet frames' cells, a ring of [window, cells].
    private var ring: [Float]
    private var kept = 0
    private var next = 0
    private var sinceUpdate = 0
    /// Per cell, what is taken from its score at its recent level; nil until `minimum` quiet frames are kept.
    private(set) var lifts: [Float]?
    /// Per cell, the recent median and level (the `cellQuantile`) the lifts were taken from.
    private(set) var medians: [Float] = []
    private(set) var tops: [Float] = []

    /// Windows in seconds of frames at `framesPerSecond`: 300 s (at most 3,000 frames, so a fast camera's ring stays
    /// a few megabytes), lifts from 60 s on, recomputed every 2 s (a few milliseconds each), a margin of 1 s (the
    /// hold delays every lift by its length, and an episode's build-up is shorter).
    init(learnt: [Float], framesPerSecond: Double) {
        let frames = { (seconds: Double) in max(1, Int((seconds * framesPerSecond).rounded())) }
        self.init(learnt: learnt, window: min(3000, frames(300)), minimum: min(3000, frames(60)), every: frames(2),
                  margin: frames(1))
    }

    init(learnt: [Float], window: Int, minimum: Int, every: Int, margin: Int) {
        precondition(window >= 1 && (1...window).contains(minimum) && every >= 1 && !learnt.isEmpty)
        self.learnt = learnt
        self.window = window
        self.minimum = minimum
        self.every = every
        quiet = BurnIn(frames: .max, margin: margin)
        ring = [Float](repeating: 0, count: window * learnt.count)
    }

    /// One frame's cells and the decision stage's phase with it.
    mutating func observe(cells: [Float], phase: DecisionPhase) {
        guard cells.count == learnt.count,
              let joined = quiet.observe(cells, phase: phase == .building ? .quiet : phase) else { return }
        let p = learnt.count
        ring.replaceSubrange((next * p)..<((next + 1) * p), with: joined)
        next = (next + 1) % window
        kept = min(window, kept + 1)
        sinceUpdate += 1
        guard kept >= minimum, lifts == nil || sinceUpdate >= every else { return }
        sinceUpdate = 0
        // A full ring is read as it is (no copy of its megabytes every update); the first lap, its filled part.
        let recent = kept == window ? ring : Array(ring[0..<(kept * p)])
        (medians, tops) = PatchMemory.mediansAndLevels(recent, cellsPerFrame: p)
        lifts = zip(tops, learnt).map { max(0, $0 - $1) }
    }

    /// What is taken from each of a frame's cell scores: its lift, or more beyond the recent level where the spread
    /// grew (the score there scaled by learnt level / recent spread about the recent median).
    private func taken(_ cells: [Float], lifts: [Float]) -> [Float] {
        cells.indices.map { i in
            let spread = tops[i] - medians[i]
            guard spread > learnt[i], learnt[i] > 0 else { return lifts[i] }
            let scaled = (cells[i] - medians[i]) * learnt[i] / spread
            return max(lifts[i], cells[i] - scaled)
        }
    }

    /// The frame's patch score with what each cell's level takes (`taken`) taken away, and its map (cells beyond the
    /// baseline) likewise; the frame's own until there are lifts.
    func levelled(_ s: FrameScore) -> (patch: Double, map: [Float])? {
        guard let lifts, s.patchCells.count == lifts.count, s.map.count == lifts.count else { return nil }
        let take = taken(s.patchCells, lifts: lifts)
        return (PatchMemory.frameScore(cells: s.patchCells, weights: s.patchWeights, lifts: take),
                zip(s.map, take).map { max(0, $0 - $1) })
    }
}
