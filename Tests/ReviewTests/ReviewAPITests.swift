import Config
import Decisions
import Feedback
import Foundation
import HTTPServing
import Logging
@testable import Review
import ServiceLifecycle
import TestSupport
import XCTest

/// The review server over real loopback connections: routes, status codes, access rules, byte ranges. Behind it an
/// in-memory backend (a test double of `SupervisorReview`, which needs a running pipeline; `FeedbackDaemonTests`
/// drives that one end to end) that keeps episodes and verdicts in the real `EpisodeLog` and `FeedbackStore` and
/// resolves evidence with `SupervisorReview.evidencePath`, so ids and file names are checked by the real rules.
final class ReviewAPITests: XCTestCase {
    var dir: URL!
    var backend: InMemoryReviewBackend!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-review-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        backend = try InMemoryReviewBackend(directory: dir.path)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testThePageShowsEachEpisodeWithItsEvidenceAndButtons() async throws {
        let server = try await ReviewTestServer.start(backend: backend)
        defer { Task { await server.stop() } }
        let page = try XCTUnwrap(raw(server.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n"))
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.header("content-type")?.hasPrefix("text/html") == true)
        XCTAssertTrue(page.header("content-security-policy")?.contains("script-src 'self'") == true)
        XCTAssertEqual(page.header("x-content-type-options"), "nosniff")
        for id in backend.ids {
            XCTAssertTrue(page.body.contains(#"<article class="episode" data-id="\#(id)" data-pipeline="belt""#), id)
            XCTAssertTrue(page.body.contains(#"src="/files/belt/snapshots/\#(id)-1.jpg""#), id)
        }
        XCTAssertTrue(page.body.contains(#"<video class="clip" src="/files/belt/clips/\#(backend.ids[0]).mp4""#))
        XCTAssertLessThan(page.body.range(of: backend.ids[2])!.lowerBound, page.body.range(of: backend.ids[0])!.lowerBound,
                          "newest first")
        XCTAssertTrue(page.body.contains(#"<button class="dismiss""#) && page.body.contains(#"<button class="undo""#))
        // A pipeline name or episode field is text, never markup.
        XCTAssertFalse(page.body.contains("<script>alert"), "unescaped")
        XCTAssertTrue(page.body.contains("&lt;script&gt;alert"))
        let script = try XCTUnwrap(raw(server.port, "GET /review.js HTTP/1.1\r\nHost: localhost\r\n"))
        XCTAssertEqual(script.status, 200)
        XCTAssertTrue(script.body.contains("/feedback"))
    }

    func testListingAndOneEpisode() async throws {
        let server = try await ReviewTestServer.start(backend: backend)
        defer { Task { await server.stop() } }
        let all = try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes"))
        XCTAssertEqual(all.status, 200)
        XCTAssertEqual((all.value as? [[String: Any]])?.map { $0["id"] as! String }, backend.ids.reversed())
        let one = try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes?limit=1"))
        XCTAssertEqual((one.value as? [[String: Any]])?.count, 1)
        XCTAssertEqual(try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes?limit=0")).status, 200, "clamped to 1")
        XCTAssertEqual(try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes?limit=ten")).status, 400)
        let episode = try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes/\(backend.ids[1])"))
        XCTAssertEqual((episode.value as? [String: Any])?["peak_score"] as? Double, 2.5)
        XCTAssertEqual(try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes/belt-nope")).status, 404)
        XCTAssertEqual(try XCTUnwrap(json(server.port, "GET", "/api/pipelines/door/episodes")).status, 404)
        let overview = try XCTUnwrap(json(server.port, "GET", "/api/pipelines"))
        XCTAssertEqual((overview.value as? [[String: Any]])?.first?["name"] as? String, "belt")
    }

    func testFeedbackIsStoredShownAndUndoneOnce() async throws {
        let server = try await ReviewTestServer.start(backend: backend)
        defer { Task { await server.stop() } }
        let id = backend.ids[0]
        let given = try XCTUnwrap(json(server.port, "POST", "/api/pipelines/belt/episodes/\(id)/feedback", body: #"{"verdict": "normal"}"#))
        XCTAssertEqual(given.status, 200)
        XCTAssertEqual((given.value as? [String: Any])?["verdict"] as? String, "normal")
        XCTAssertEqual(backend.store.record(id)?.verdict, .normal)
        let shown = try XCTUnwrap(json(server.port, "GET", "/api/pipelines/belt/episodes/\(id)"))
        XCTAssertEqual(((shown.value as? [String: Any])?["feedback"] as? [String: Any])?["verdict"] as? String, "normal")
        let page = try XCTUnwrap(raw(server.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        XCTAssertTrue(page.body.contains(#"data-id="\#(id)" data-pipeline="belt" data-verdict="normal""#))
        XCTAssertEqual(try XCTUnwrap(json(server.port, "DELETE", "/api/pipelines/belt/episodes/\(id)/feedback")).status, 200)
        XCTAssertNil(backend.store.record(id))
        let again = try XCTUnwrap(json(server.port, "DELETE", "/api/pipelines/belt/episodes/\(id)/feedback"))
        XCTAssertEqual(again.status, 409, "nothing to undo")
        XCTAssertNotNil((again.value as? [String: Any])?["error"] as? String)
    }

    /// Malformed, oversized, unknown and hostile requests: a clear 4xx each, and no verdict stored.
    func testBadRequestsChangeNothing() async throws {
        let server = try await ReviewTestServer.start(backend: backend)
        defer { Task { await server.stop() } }
        let id = backend.ids[0]
        let feedback = "/api/pipelines/belt/episodes/\(id)/feedback"
        let cases: [(String, String, String, String?, Int)] = [
            ("not JSON", "POST", feedback, "verdict=normal", 400),
            ("an unknown verdict", "POST", feedback, #"{"verdict": "maybe"}"#, 400),
            ("no verdict", "POST", feedback, #"{}"#, 400),
            ("5 KB of body", "POST", feedback, #"{"verdict": "normal", "pad": "\#(String(repeating: "x", count: 5000))"}"#, 413),
            ("an unknown episode", "POST", "/api/pipelines/belt/episodes/belt-20260101T000000.000Z-0000/feedback", #"{"verdict": "normal"}"#, 404),
            ("an unknown pipeline", "POST", "/api/pipelines/door/episodes/\(id)/feedback", #"{"verdict": "normal"}"#, 404),
            ("a traversal in the id", "POST", "/api/pipelines/belt/episodes/..%2F..%2Fetc%2Fpasswd/feedback", #"{"verdict": "normal"}"#, 400),
            ("a dot-file id", "POST", "/api/pipelines/belt/episodes/.hidden/feedback", #"{"verdict": "normal"}"#, 400),
        ]
        for (what, method, path, body, status) in cases {
            let answer = try XCTUnwrap(json(server.port, method, path, body: body), what)
            XCTAssertEqual(answer.status, status, what)
            XCTAssertNotNil((answer.value as? [String: Any])?["error"] as? String, "\(what): an error message")
        }
        let form = try XCTUnwrap(raw(server.port, "POST \(feedback) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n", body: "verdict=normal"))
        XCTAssertEqual(form.status, 415, "a form post")
        XCTAssertTrue(backend.store.all.isEmpty, "a refused request stored a verdict: \(backend.store.all)")

        for path in ["/files/belt/snapshots/..%2F..%2F..%2Fetc%2Fpasswd", "/files/belt/../../../etc/passwd",
                     "/files/belt/snapshots/%2e%2e", "/files/belt/state/feedback.json", "/files/belt/clips/\(id).jpg",
                     "/files/belt/snapshots/passwd%00.jpg", "/files/belt//etc/passwd", "/files/door/clips/\(id).mp4"] {
            let answer = try XCTUnwrap(raw(server.port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"), path)
            XCTAssertTrue((400..<500).contains(answer.status), "\(path): \(answer.status)")
            XCTAssertFalse(answer.body.contains("root:"), "\(path) served a file")
        }
    }

    func testATokenIsNeededAndSetAsACookieByTheLink() async throws {
        let token = "0123456789abcdef0123"
        let server = try await ReviewTestServer.start(backend: backend, token: token)
        defer { Task { await server.stop() } }
        let host = "Host: 192.0.2.1:8780\r\n"   // a non-loopback name: with a token, any Host is fine
        XCTAssertEqual(try XCTUnwrap(raw(server.port, "GET /api/pipelines HTTP/1.1\r\n\(host)")).status, 401)
        let wrong = try XCTUnwrap(raw(server.port, "GET /api/pipelines HTTP/1.1\r\n\(host)Authorization: Bearer 0123456789abcdef0124\r\n"))
        XCTAssertEqual(wrong.status, 401)
        XCTAssertNotNil(wrong.header("www-authenticate"))
        XCTAssertEqual(try XCTUnwrap(raw(server.port, "GET /api/pipelines HTTP/1.1\r\n\(host)Authorization: Bearer \(token)\r\n")).status, 200)
        XCTAssertEqual(try XCTUnwrap(raw(server.port, "GET /?token=nope HTTP/1.1\r\n\(host)")).status, 401)
        let link = try XCTUnwrap(raw(server.port, "GET /?token=\(token) HTTP/1.1\r\n\(host)"))
        XCTAssertEqual(link.status, 303)
        XCTAssertEqual(link.header("location"), "/")
        let cookie = try XCTUnwrap(link.header("set-cookie"))
        XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie)
        let pair = String(cookie.split(separator: ";")[0])
        let page = try XCTUnwrap(raw(server.port, "GET / HTTP/1.1\r\n\(host)Cookie: theme=dark; \(pair)\r\n"))
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains("article class=\"episode\""))
        let post = try XCTUnwrap(raw(server.port, "POST /api/pipelines/belt/episodes/\(backend.ids[0])/feedback HTTP/1.1\r\n\(host)Content-Type: application/json\r\nContent-Length: 21\r\n",
                                     body: #"{"verdict": "normal"}"#))
        XCTAssertEqual(post.status, 401, "a POST without the token")
        XCTAssertTrue(backend.store.all.isEmpty)
    }

    /// Without a token: loopback names only (DNS rebinding), and a browser's POST only from the page's own origin.
    func testWithoutATokenForeignHostsAndOriginsAreRefused() async throws {
        let server = try await ReviewTestServer.start(backend: backend)
        defer { Task { await server.stop() } }
        let rebound = try XCTUnwrap(raw(server.port, "GET /api/pipelines HTTP/1.1\r\nHost: attacker.example:\(server.port)\r\n"))
        XCTAssertEqual(rebound.status, 403)
        XCTAssertEqual(try XCTUnwrap(raw(server.port, "GET /api/pipelines HTTP/1.1\r\nHost: [::1]:\(server.port)\r\n")).status, 200)
        let path = "/api/pipelines/belt/episodes/\(backend.ids[0])/feedback"
        let body = #"{"verdict": "normal"}"#
        let foreign = try XCTUnwrap(raw(server.port, "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nOrigin: http://attacker.example\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n", body: body))
        XCTAssertEqual(foreign.status, 403)
        XCTAssertTrue(backend.store.all.isEmpty)
        let own = try XCTUnwrap(raw(server.port, "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nOrigin: http://127.0.0.1:\(server.port)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n", body: body))
        XCTAssertEqual(own.status, 200)
        XCTAssertEqual(backend.store.record(backend.ids[0])?.verdict, .normal)
    }

    func testClipsAreServedInByteRanges() async throws {
        let server = try await ReviewTestServer.start(backend: backend)
        defer { Task { await server.stop() } }
        let clip = "/files/belt/clips/\(backend.ids[0]).mp4"
        let size = backend.clipBytes.count
        let whole = try XCTUnwrap(raw(server.port, "GET \(clip) HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.bytes, backend.clipBytes)
        XCTAssertEqual(whole.header("content-type"), "video/mp4")
        let head = try XCTUnwrap(raw(server.port, "GET \(clip) HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-99\r\n"))
        XCTAssertEqual(head.status, 206)
        XCTAssertEqual(head.header("content-range"), "bytes 0-99/\(size)")
        XCTAssertEqual(head.bytes, Array(backend.clipBytes[0..<100]))
        let middle = try XCTUnwrap(raw(server.port, "GET \(clip) HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=1000-\r\n"))
        XCTAssertEqual(middle.bytes, Array(backend.clipBytes[1000...]))
        let tail = try XCTUnwrap(raw(server.port, "GET \(clip) HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=-10\r\n"))
        XCTAssertEqual(tail.bytes, Array(backend.clipBytes.suffix(10)))
        let beyond = try XCTUnwrap(raw(server.port, "GET \(clip) HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=\(size)-\r\n"))
        XCTAssertEqual(beyond.status, 416)
        XCTAssertEqual(beyond.header("content-range"), "bytes */\(size)")
        let snapshot = try XCTUnwrap(raw(server.port, "GET /files/belt/snapshots/\(backend.ids[0])-1.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        XCTAssertEqual(snapshot.header("content-type"), "image/jpeg")
        XCTAssertEqual(snapshot.bytes.prefix(2), [0xFF, 0xD8])
    }

    // MARK: Helpers

    /// One request on a fresh connection (`head` without the blank line), the whole answer read.
    func raw(_ port: Int, _ head: String, body: String = "") -> HTTPAnswer? {
        HTTPAnswer.exchange(port: port, head + "Connection: close\r\n\r\n" + body)
    }

    func json(_ port: Int, _ method: String, _ path: String, body: String? = nil) -> (status: Int, value: Any?)? {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        guard let answer = raw(port, head, body: body ?? "") else { return nil }
        return (answer.status, try? JSONSerialization.jsonObject(with: Data(answer.bytes)))
    }
}

/// A parsed HTTP/1.1 answer.
struct HTTPAnswer {
    let status: Int
    let headers: [(String, String)]
    let bytes: [UInt8]
    var body: String { String(decoding: bytes, as: UTF8.self) }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }

    static func exchange(port: Int, _ request: String) -> HTTPAnswer? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        guard let split = response.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let lines = String(decoding: response[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = Array(response[split.upperBound...])
        // Hummingbird streams files chunked; undo it.
        if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            var plain = [UInt8](), i = 0
            while let end = body[i...].firstRange(of: Array("\r\n".utf8)),
                  let size = Int(String(decoding: body[i..<end.lowerBound], as: UTF8.self), radix: 16), size > 0 {
                plain += body[end.upperBound..<(end.upperBound + size)]
                i = end.upperBound + size + 2
            }
            body = plain
        }
        return HTTPAnswer(status: status, headers: headers, bytes: body)
    }
}

/// The review server on a free loopback port.
struct ReviewTestServer {
    let port: Int
    let group: ServiceGroup

    static func start(backend: some ReviewBackend, token: String? = nil) async throws -> ReviewTestServer {
        var settings = UISettings()
        settings.listen = "127.0.0.1:0"
        settings.token = token
        let logger = Logger(label: "test")
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        let server = ReviewServer.service(settings: settings, backend: backend, logger: logger, onListening: { listening.yield($0) })
        let group = ServiceGroup(services: [server], logger: logger)
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()
        return ReviewTestServer(port: try XCTUnwrap(port), group: group)
    }

    func stop() async { await group.triggerGracefulShutdown() }
}

/// A test double of the daemon's backend: three episodes of pipeline `belt` in a real `EpisodeLog`, verdicts in a
/// real `FeedbackStore`, evidence files on disk resolved by the real `SupervisorReview.evidencePath`.
final class InMemoryReviewBackend: ReviewBackend {
    let log: EpisodeLog
    let store: FeedbackStore
    let clips: String
    let snapshots: String
    let ids: [String]
    let clipBytes: [UInt8]

    init(directory: String) throws {
        log = try EpisodeLog(directory: directory + "/episodes")
        store = try FeedbackStore(directory: directory + "/feedback")
        clips = directory + "/clips"
        snapshots = directory + "/snapshots"
        try FileManager.default.createDirectory(atPath: clips, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
        ids = ["belt-20261204T100000.000Z-0a1b", "belt-20261204T100100.000Z-2c3d", "belt-20261204T100200.000Z-4e5f"]
        clipBytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for (i, id) in ids.enumerated() {
            try log.write(EpisodeRecord(
                id: id, pipeline: "belt", startTime: "2026-12-04T10:0\(i):00.000Z", endTime: "2026-12-04T10:0\(i):03.500Z",
                peakScore: 1.5 + Double(i), threshold: 1, region: Region(grid: [14, 14], peakCell: [3, 4], bbox: [10, 20, 110, 90]),
                snapshots: ["snapshots/\(id)-1.jpg"], clip: i == 0 ? "clips/\(id).mp4" : nil,
                model: i == 1 ? "<script>alert(1)</script>" : "v1", frames: 12))
            try Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0, count: 60) + [0xFF, 0xD9])
                .write(to: URL(fileURLWithPath: "\(snapshots)/\(id)-1.jpg"))
        }
        try Data(clipBytes).write(to: URL(fileURLWithPath: "\(clips)/\(ids[0]).mp4"))
    }

    func overview() async -> [PipelineOverview] {
        [PipelineOverview(name: "belt", state: "detecting", model: "v1", modelAgeSeconds: 90, framesPerSecond: 10,
                          falseAlarmsPerHour: 1, measuredPerHour: 0.5)]
    }

    func episodes(pipeline: String, limit: Int) async throws -> [EpisodeRecord] {
        try known(pipeline)
        return log.list(limit: limit).map { var r = $0; r.feedback = store.record(r.id); return r }
    }

    func episode(pipeline: String, id: String) async throws -> EpisodeRecord {
        try known(pipeline)
        guard EpisodeRecord.isValidID(id) else { throw ReviewError.invalid("'\(id)' is not an episode id") }
        guard var r = log.record(id) else { throw ReviewError.unknownEpisode(id) }
        r.feedback = store.record(id)
        return r
    }

    func evidenceFile(pipeline: String, name: String) async throws -> String {
        try known(pipeline)
        return try SupervisorReview.evidencePath(name, clips: clips, snapshots: snapshots)
    }

    func liveJPEG(pipeline: String) async throws -> [UInt8] {
        try known(pipeline)
        throw ReviewError.notFound("no frame yet")
    }

    func feedback(pipeline: String, episode: String, verdict: Verdict) async throws -> FeedbackRecord {
        _ = try await self.episode(pipeline: pipeline, id: episode)
        let record = FeedbackRecord(episode: episode, verdict: verdict, time: "2026-12-04T11:00:00.000Z")
        try store.put(record)
        return record
    }

    func undoFeedback(pipeline: String, episode: String) async throws -> FeedbackRecord {
        _ = try await self.episode(pipeline: pipeline, id: episode)
        guard let r = try store.remove(episode) else { throw ReviewError.conflict("episode \(episode) has no feedback to undo") }
        return r
    }

    private func known(_ pipeline: String) throws {
        guard pipeline == "belt" else { throw ReviewError.unknownPipeline(pipeline) }
    }
}
