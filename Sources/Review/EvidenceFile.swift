import Foundation
import Hummingbird

/// A stored snapshot or clip as an answer: whole, or the one byte range a `Range` header asks for (a browser's
/// video player seeks by ranges). Several ranges in one header are answered with the whole file, which RFC 9110
/// allows.
struct EvidenceFile {
    let path: String

    var contentType: String { path.hasSuffix(".mp4") ? "video/mp4" : "image/jpeg" }

    func response(range header: String?, context: some RequestContext) async throws -> Response {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw ReviewError.notFound("the evidence file is gone")
        }
        var headers: HTTPFields = [.contentType: contentType, .acceptRanges: "bytes", .cacheControl: "private, max-age=3600"]
        guard let header, let wanted = Self.range(header, size: size) else {
            headers[.contentLength] = String(size)
            return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: path, context: context))
        }
        guard let range = wanted else {
            headers[.contentRange] = "bytes */\(size)"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
        headers[.contentLength] = String(range.count)
        return Response(status: .partialContent, headers: headers,
                        body: try await FileIO().loadFile(path: path, range: range, context: context))
    }

    /// nil: no single byte range (answer with the whole file); `.some(nil)`: one that lies outside the file (416).
    static func range(_ header: String, size: Int) -> ClosedRange<Int>?? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            // The last N bytes.
            guard let n = Int(last), n > 0 else { return .some(nil) }
            return size == 0 ? .some(nil) : .some(max(0, size - n)...(size - 1))
        }
        guard let start = Int(first), start >= 0 else { return nil }
        guard start < size else { return .some(nil) }
        if last.isEmpty { return .some(start...(size - 1)) }
        guard let end = Int(last), end >= start else { return nil }
        return .some(start...min(end, size - 1))
    }
}
