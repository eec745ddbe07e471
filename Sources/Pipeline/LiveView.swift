import Ingest

/// The last decided frame and its map, which the review page's live view draws on request (never per frame).
struct LiveView: Sendable {
    let frame: Frame
    let heat: CameraPipeline.Heat

    /// The source picture with the heat laid over it when the frame kept one (snapshots on), else the first tile's
    /// model input with the map over the whole square.
    func jpeg(modelInputSize size: Int) throws -> [UInt8] {
        if let picture = frame.sourcePicture {
            var rgb = try picture.rgb()
            EvidenceSnapshot.overlay(&rgb, width: picture.width, height: picture.height, map: heat.map,
                                     cells: EvidenceSnapshot.cells(heat.geometry, grid: heat.grid, width: picture.width,
                                                                   height: picture.height, count: heat.map.count))
            return [UInt8](try JPEGEncoder(width: picture.width, height: picture.height).encode(rgb: rgb))
        }
        var rgb = Array(frame.tilePixels(0))
        let cells = heat.grid * heat.grid
        if cells > 0, heat.map.count == cells {
            EvidenceSnapshot.overlay(&rgb, width: size, height: size, map: heat.map,
                                     cells: EvidenceSnapshot.cells(nil, grid: heat.grid, width: size, height: size, count: cells))
        }
        return [UInt8](try JPEGEncoder(width: size, height: size).encode(rgb: rgb))
    }
}
