/// "Not an anomaly" with immediate effect: the novel patches of a dismissed episode's frames, and the rule that a
/// later frame whose novel patches lie among them does not open an episode.
///
/// A frame matches a dismissed episode when at least `quorum` of its most novel cells (`NovelPatches`, up to 4)
/// each have a dismissed patch within that cell's radius (times `scale`). The pipeline sets each radius from the
/// normal patches: the larger of the distance normal patches at that cell reach from their nearest normal
/// neighbour (`PatchMemory.reach`) and `relativeRadius` of the patch's own distance to its nearest normal patch.
/// On the demo belt, a repeated orange disc's novel patches lay at a median 0.29-0.45 of their distance to normal
/// from the dismissed disc's patches, a green triangle's at 1.0: a radius from the normal reach alone (a tenth of
/// those distances) matched the disc's entry into view at one pass in three only.
public struct Suppression: Sendable {
    /// One dismissed episode's patches: [count, dimension] row-major.
    public struct Dismissed: Sendable, Equatable {
        public let episode: String
        public let features: [Float]
        public init(episode: String, features: [Float]) {
            self.episode = episode
            self.features = features
        }
    }

    public struct Match: Sendable, Equatable {
        public let episode: String
        /// The matched cells' nearest dismissed distances over their radii, largest of them (≤ 1).
        public let ratio: Float
        public let cells: Int
    }

    /// The share of a novel patch's distance to the normal patches within which a dismissed patch matches it.
    public static let relativeRadius: Float = 0.7

    public let dimension: Int
    public private(set) var dismissed: [Dismissed] = []
    public let scale: Float
    /// Of the frame's novel cells, how many must match.
    public let quorum: Int

    public init(dimension: Int, scale: Float = 1, quorum: Int = 2) {
        self.dimension = dimension
        self.scale = scale
        self.quorum = quorum
    }

    public var isEmpty: Bool { dismissed.isEmpty }
    public var episodes: [String] { dismissed.map(\.episode) }

    /// Remembers an episode's patches (replacing any earlier ones of the same episode). Features of another
    /// dimension (a model with other blocks) are refused.
    public mutating func add(_ d: Dismissed) -> Bool {
        guard dimension > 0, !d.features.isEmpty, d.features.count % dimension == 0 else { return false }
        remove(episode: d.episode)
        dismissed.append(d)
        return true
    }

    public mutating func remove(episode: String) { dismissed.removeAll { $0.episode == episode } }

    /// The dismissed episode the frame's novel patches lie among, if any. `features` holds the frame's novel
    /// cells' features ([cells, dimension]) and `radii` each cell's radius before `scale`.
    public func match(features: [Float], radii: [Float]) -> Match? {
        let cells = radii.count
        guard dimension > 0, cells > 0, features.count == cells * dimension, !dismissed.isEmpty else { return nil }
        var best: Match?
        for d in dismissed {
            var matched = 0
            var worst: Float = 0
            for c in 0..<cells {
                let r = radii[c] * scale
                guard r > 0 else { continue }
                let nearest = Self.nearest(features, row: c, in: d.features, dimension: dimension)
                if nearest <= r {
                    matched += 1
                    worst = max(worst, nearest / r)
                }
            }
            if matched >= min(quorum, cells), best.map({ matched > $0.cells || (matched == $0.cells && worst < $0.ratio) }) ?? true {
                best = Match(episode: d.episode, ratio: worst, cells: matched)
            }
        }
        return best
    }

    /// Euclidean distance from row `row` of `q` to its nearest row of `bank`.
    public static func nearest(_ q: [Float], row: Int, in bank: [Float], dimension d: Int) -> Float {
        var best = Float.infinity
        let base = row * d
        for start in stride(from: 0, to: bank.count, by: d) {
            var s: Float = 0
            for j in 0..<d {
                let t = q[base + j] - bank[start + j]
                s += t * t
                if s >= best { break }
            }
            best = min(best, s)
        }
        return best.squareRoot()
    }
}
