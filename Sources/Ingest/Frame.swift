import Foundation

/// How a picture is brought to the model's square input.
public enum ResizeMode: String, Sendable, CaseIterable {
    /// Squash the whole picture to the square (aspect not kept): the engine's input contract.
    case squash
    /// Keep the aspect ratio by center-cropping the largest square, then scale it.
    case crop
}

/// One decoded picture, scaled to the model's input size: `tileCount` images of packed RGB24, each row-major,
/// `size` x `size`. Without `roi` and `tiles` that is the one image of the whole picture (or its centre square).
public struct Frame: Sendable {
    /// `tileCount` x `size` x `size` x 3 bytes, tile-major in the layout's tile order.
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
    /// Where each image's pixels come from in the source picture (roi, tiles, patch cells). Sources always set
    /// it; nil only for frames made by hand, which are one image of the whole picture.
    public let layout: TileLayout?
    /// The decoded picture at full resolution, when the source keeps it (`SourceOptions.keepSourcePictures`).
    public let sourcePicture: SourcePicture?

    /// Images in `pixels`: the layout's tiles, 1 without a layout.
    public var tileCount: Int { layout?.tileCount ?? 1 }

    public init(pixels: [UInt8], size: Int, sourceWidth: Int, sourceHeight: Int,
                index: Int = 0, pts: Double = 0, captureTime: Date = Date(), layout: TileLayout? = nil,
                sourcePicture: SourcePicture? = nil) {
        precondition(layout.map { $0.inputSize == size } ?? true, "the layout's tiles are scaled to the frame's size")
        precondition(pixels.count == (layout?.tileCount ?? 1) * size * size * 3, "Frame needs tiles*size*size*3 RGB bytes")
        self.layout = layout
        self.pixels = pixels
        self.size = size
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.index = index
        self.pts = pts
        self.captureTime = captureTime
        self.sourcePicture = sourcePicture
    }

    /// The RGB24 bytes of tile `t`.
    public func tilePixels(_ t: Int) -> ArraySlice<UInt8> {
        precondition((0..<tileCount).contains(t), "tile \(t) of \(tileCount)")
        let bytes = size * size * 3
        return pixels[t * bytes..<(t + 1) * bytes]
    }
}
