/// A per-frame gain that brings each frame's mean brightness to the learning frames' (what a camera's auto-exposure
/// does, done the same way for every frame a model sees: learning, scoring, refits). A line's lighting drifts and
/// steps; without it the student's error follows the light, not the objects (benchmarks/falsealarms/RESULTS.md,
/// session 9: on the 60-minute shift, frame AUROC of the student 76.9 → 88.1, of the fusion 83.7 → 98.4).
///
/// The gain is target / mean over every byte of the frame; values are rounded and clipped to 0...255. A black frame
/// (mean below 1) is left as it is rather than amplified without bound.
public struct BrightnessGain: Codable, Sendable, Equatable {
    /// The learning frames' mean byte value (0...255, all pixels and channels).
    public let target: Double

    public init(target: Double) { self.target = target }

    /// The gain to the mean of `rgb`, any number of whole frames.
    public static func fit(rgb: UnsafeBufferPointer<UInt8>) -> BrightnessGain {
        BrightnessGain(target: mean(rgb))
    }

    static func mean(_ bytes: UnsafeBufferPointer<UInt8>) -> Double {
        var sum: UInt64 = 0
        for b in bytes { sum &+= UInt64(b) }
        return bytes.isEmpty ? 0 : Double(sum) / Double(bytes.count)
    }

    /// Applies the gain to each `imageBytes`-byte frame in `frames`, in place.
    public func apply(to frames: UnsafeMutableBufferPointer<UInt8>, imageBytes: Int) {
        precondition(imageBytes > 0 && frames.count % imageBytes == 0, "\(frames.count) bytes are not whole \(imageBytes)-byte frames")
        for start in stride(from: 0, to: frames.count, by: imageBytes) {
            let frame = UnsafeMutableBufferPointer(rebasing: frames[start..<(start + imageBytes)])
            let m = Self.mean(UnsafeBufferPointer(frame))
            guard m >= 1 else { continue }
            let gain = Float(target / m)
            for i in frame.indices { frame[i] = UInt8(min(255, (Float(frame[i]) * gain).rounded())) }
        }
    }

    /// Nil when the learning frames are black (mean below 1): there is no brightness to keep.
    public var nonBlack: BrightnessGain? { target >= 1 ? self : nil }

    /// Applies the gain to each `imageBytes`-byte frame in `frames`.
    public func apply(to frames: inout [UInt8], imageBytes: Int) {
        frames.withUnsafeMutableBufferPointer { apply(to: $0, imageBytes: imageBytes) }
    }

    /// Checks a decoded gain.
    public var isValid: Bool { target.isFinite && target >= 1 && target <= 255 }
}
