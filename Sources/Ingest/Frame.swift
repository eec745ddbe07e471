import Foundation

/// How a picture is brought to the model's square input.
public enum ResizeMode: String, Sendable, CaseIterable {
    /// Squash the whole picture to the square (aspect not kept): the engine's input contract.
    case squash
    /// Keep the aspect ratio by center-cropping the largest square, then scale it.
    case crop
}

/// One decoded picture, scaled to the model's input size: packed RGB24, row-major, `size` x `size`.
public struct Frame: Sendable {
    public var pixels: [UInt8]
    public let size: Int
    /// Width and height of the picture before scaling.
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// Position in the source's decoded sequence (0-based).
    public let index: Int
    /// Presentation time in seconds (0 for still images).
    public let pts: Double
    /// Wall-clock time the frame was decoded.
    public let captureTime: Date

    public init(pixels: [UInt8], size: Int, sourceWidth: Int, sourceHeight: Int,
                index: Int = 0, pts: Double = 0, captureTime: Date = Date()) {
        precondition(pixels.count == size * size * 3, "Frame needs size*size*3 RGB bytes")
        self.pixels = pixels
        self.size = size
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.index = index
        self.pts = pts
        self.captureTime = captureTime
    }
}
