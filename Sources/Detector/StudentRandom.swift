import Foundation

/// The seeded generator behind the student's initialisation, the epoch shuffles and the guided masks: SplitMix64,
/// small, fast and identical on every platform, so a seed reproduces a training run exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1): 53 random bits, offset by half a step so that log(u) is finite.
    public mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992 }

    /// Uniform in [−bound, bound).
    public mutating func uniform(bound: Double) -> Double { (uniform() * 2 - 1) * bound }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
    }
}
