import CFFmpeg

/// Why a source could not be opened or decoded. Every case names the source (with credentials redacted).
public enum IngestError: Error, Equatable, CustomStringConvertible {
    case notFound(source: String)
    case openFailed(source: String, reason: String)
    case noVideoStream(source: String)
    case unsupportedCodec(source: String, codec: String)
    case decodeFailed(source: String, reason: String)
    case encodeFailed(path: String, reason: String)
    case invalidConfiguration(String)
    /// The configured `roi` or `tiles` do not fit the source's pictures (known once the first one is decoded).
    case layout(source: String, LayoutMismatch)

    public var description: String {
        switch self {
        case .notFound(let s): return "\(s): no such file or device"
        case .openFailed(let s, let r): return "\(s): cannot open: \(r)"
        case .noVideoStream(let s): return "\(s): no video stream (not a video or image file)"
        case .unsupportedCodec(let s, let c): return "\(s): unsupported codec '\(c)' (no decoder in this FFmpeg build)"
        case .decodeFailed(let s, let r): return "\(s): no decodable picture: \(r)"
        case .encodeFailed(let p, let r): return "\(p): cannot encode PNG: \(r)"
        case .invalidConfiguration(let r): return "invalid ingest configuration: \(r)"
        case .layout(let s, .roiOutsideFrame(let roi, let w, let h)):
            return "\(s): roi \(roi) does not fit the \(w)x\(h) picture (it reaches x = \(roi.maxX), y = \(roi.maxY)); "
                + "expected x + w <= \(w) and y + h <= \(h)"
        case .layout(let s, .tilesTooSmall(let columns, let rows, let region)):
            let side = TileLayout.minimumTileSide
            return "\(s): tiles [\(columns), \(rows)] over the region \(region) are smaller than \(side)x\(side) pixels; "
                + "expected at most [\(max(1, region.width / side)), \(max(1, region.height / side))]"
        }
    }
}

/// FFmpeg's message for an error code, e.g. "Invalid data found when processing input".
func avErrorString(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buf, buf.count) != 0 { return "error \(code)" }
    return String(decoding: buf.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
}

/// Removes `user:pass@` from URLs so camera credentials never reach logs, errors or metrics.
public func redactCredentials(_ source: String) -> String {
    guard let scheme = source.range(of: "://") else { return source }
    let authorityStart = scheme.upperBound
    let rest = source[authorityStart...]
    let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
    guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return source }
    return String(source[..<authorityStart]) + "***@" + String(source[source.index(after: at)...])
}

/// What FFmpeg's log callback does to each line (exposed for tests).
func redactLogLine(_ line: String) -> String {
    var bytes = Array(line.utf8CString)
    bytes.withUnsafeMutableBufferPointer { anomalyd_redact_urls($0.baseAddress) }
    return String(decoding: bytes.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
}
