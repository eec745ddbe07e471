import Config
import Feedback
import Foundation
import HTTPServing
import Hummingbird
import Logging
import ServiceLifecycle

/// The review page and its JSON API on `ui.listen`:
///
///     GET    /                                            the page
///     GET    /api/pipelines                               each pipeline's state, model, rates, suppressions
///     GET    /api/pipelines/P/episodes?limit=N            newest first (N 1...500, default 50), with feedback
///     GET    /api/pipelines/P/episodes/ID                 one episode
///     POST   /api/pipelines/P/episodes/ID/feedback        {"verdict": "normal" | "anomaly"}
///     DELETE /api/pipelines/P/episodes/ID/feedback        the verdict undone
///     GET    /api/pipelines/P/live.jpg                    the latest decided frame with its map
///     GET    /files/P/snapshots/NAME, /files/P/clips/NAME the pipeline's evidence files, by the names events give
///
/// Errors are JSON `{"error": "..."}` with a 4xx that says which: 400 malformed, 401 no or wrong token, 403 refused,
/// 404 unknown, 409 nothing to undo, 413 a body over 4 KiB, 415 not JSON, 416 a range outside the file, 503 the
/// pipeline is not running now.
public enum ReviewServer {
    /// The server as a service. `onListening` runs once the port is bound; a port that cannot be bound ends the
    /// service with `HTTPServer.ListenError`, naming `ui.listen`.
    public static func service(settings: UISettings, backend: some ReviewBackend, logger: Logger,
                               limits: HTTPServer.Limits = .init(),
                               onListening: @escaping @Sendable (Int) async -> Void) -> some Service {
        let address = ListenAddress(settings.listen) ?? ListenAddress(UISettings().listen)!
        return HTTPServer.Listener(setting: "ui.listen", address: settings.listen, application: HTTPServer.application(
            host: address.host, port: address.port, router: router(backend: backend, token: settings.token), limits: limits,
            logger: logger, onListening: onListening))
    }

    /// A feedback body larger than this is refused (413): `{"verdict": "anomaly"}` is 22 bytes.
    static let maxBody = 4096
    static let defaultLimit = 50
    static let maxLimit = 500

    static func router(backend: some ReviewBackend, token: String?) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: Access(token: token))
        router.get("/") { _, _ in
            var r = Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                             body: .init(byteBuffer: ByteBuffer(string: await ReviewPage.html(backend))))
            r.headers[.contentSecurityPolicy] = ReviewPage.contentSecurityPolicy
            return r
        }
        router.get("/review.js") { _, _ in asset(ReviewPage.script, type: "text/javascript; charset=utf-8") }
        router.get("/review.css") { _, _ in asset(ReviewPage.style, type: "text/css; charset=utf-8") }

        router.get("/api/pipelines") { _, _ in try json(await backend.overview()) }
        router.get("/api/pipelines/:pipeline/episodes") { request, context in
            try await answer {
                let limit = try Self.limit(request.uri.queryParameters.get("limit"))
                return try json(try await backend.episodes(pipeline: try context.parameters.require("pipeline"), limit: limit))
            }
        }
        router.get("/api/pipelines/:pipeline/episodes/:episode") { _, context in
            try await answer {
                try json(try await backend.episode(pipeline: try context.parameters.require("pipeline"),
                                                   id: try context.parameters.require("episode")))
            }
        }
        router.post("/api/pipelines/:pipeline/episodes/:episode/feedback") { request, context in
            try await answer {
                let body = try await request.body.collect(upTo: maxBody)
                guard let given = try? JSONDecoder().decode(VerdictBody.self, from: Data(body.readableBytesView)) else {
                    throw ReviewError.invalid(#"expected a JSON body {"verdict": "normal"} or {"verdict": "anomaly"}"#)
                }
                return try json(try await backend.feedback(pipeline: try context.parameters.require("pipeline"),
                                                           episode: try context.parameters.require("episode"), verdict: given.verdict))
            }
        }
        router.delete("/api/pipelines/:pipeline/episodes/:episode/feedback") { _, context in
            try await answer {
                try json(try await backend.undoFeedback(pipeline: try context.parameters.require("pipeline"),
                                                        episode: try context.parameters.require("episode")))
            }
        }
        router.get("/api/pipelines/:pipeline/live.jpg") { _, context in
            try await answer {
                let jpeg = try await backend.liveJPEG(pipeline: try context.parameters.require("pipeline"))
                return Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
            }
        }
        router.get("/files/:pipeline/:kind/:name") { request, context in
            try await answer {
                let path = try await backend.evidenceFile(pipeline: try context.parameters.require("pipeline"),
                                                          name: "\(try context.parameters.require("kind"))/\(try context.parameters.require("name"))")
                return try await EvidenceFile(path: path).response(range: request.headers[.range], context: context)
            }
        }
        return router
    }

    /// `body`'s answer, or the status its `ReviewError` names. A body over `maxBody` is Hummingbird's 413.
    static func answer(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let e as ReviewError {
            return error(e.status, e.description)
        } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
            return error(.contentTooLarge, "the body is over \(maxBody) bytes")
        }
    }

    static func limit(_ raw: String?) throws -> Int {
        guard let raw else { return defaultLimit }
        guard let n = Int(raw) else { throw ReviewError.invalid("limit '\(raw.prefix(40))' is not a whole number; expected 1 to \(maxLimit)") }
        return min(max(n, 1), maxLimit)
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func error(_ status: HTTPResponse.Status, _ why: String) -> Response {
        let body = (try? JSONEncoder().encode(["error": why])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    struct VerdictBody: Decodable {
        let verdict: Verdict
    }
}

extension ReviewError {
    var status: HTTPResponse.Status {
        switch self {
        case .unknownPipeline, .unknownEpisode, .notFound: return .notFound
        case .invalid: return .badRequest
        case .conflict: return .conflict
        case .unavailable: return .serviceUnavailable
        }
    }
}
