import Foundation
import Config
import Hummingbird

/// Who may use the page and the API, checked before any route runs.
/// - With a token (`ui.token_file`), every request carries it: `Authorization: Bearer <token>` (scripts,
///   `anomalyd feedback`) or the cookie the page sets when opened once as `/?token=<token>` (browsers; HttpOnly,
///   SameSite=Strict, so another site's page cannot send it).
/// - Without one the server is bound to loopback, and the `Host` a request names must be loopback too: a web page
///   elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing.
/// - A request that changes something (POST, DELETE) from a browser must come from the page's own origin, and a
///   POST must be `application/json`, which a foreign form cannot send without a CORS preflight this server never
///   grants.
/// Every answer gets headers that stop sniffing, framing and referrers.
struct Access<Context: RequestContext>: RouterMiddleware {
    let token: String?

    static var cookieName: String { "anomalyd_token" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        if let refusal = refusal(request) {
            response = refusal
        } else if let token, request.uri.path == "/", let offered = request.uri.queryParameters.get("token") {
            // The link with the token sets the cookie and drops the token from the address bar and history.
            guard Self.same(offered, token) else { return secured(Self.refuse(.unauthorized, "wrong token")) }
            response = Response(status: .seeOther, headers: [
                .location: "/",
                .setCookie: "\(Self.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict",
            ])
        } else {
            response = try await next(request, context)
        }
        return secured(response)
    }

    /// Why `request` is refused, as the answer; nil if it may go on.
    func refusal(_ request: Request) -> Response? {
        if let token {
            let offered = Self.bearer(request) ?? Self.cookie(request)
            let tokenLink = request.uri.path == "/" && request.uri.queryParameters.get("token") != nil
            if !tokenLink, !(offered.map { Self.same($0, token) } ?? false) {
                var r = Self.refuse(.unauthorized, offered == nil
                    ? "this page needs its token: open /?token=... once, or send Authorization: Bearer ..."
                    : "wrong token")
                r.headers[.wwwAuthenticate] = "Bearer realm=\"anomalyd\""
                return r
            }
        } else if !UISettings.isLoopback(host: Self.host(request.head.authority ?? "")) {
            return Self.refuse(.forbidden, "this page answers to loopback names only (127.0.0.1, localhost); "
                + "to serve it on another address set ui.listen and ui.token_file")
        }
        guard request.method == .post || request.method == .delete else { return nil }
        if let origin = request.headers[.origin], origin != "http://\(request.head.authority ?? "")" {
            return Self.refuse(.forbidden, "cross-origin request from \(origin) refused")
        }
        if request.method == .post {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                return Self.refuse(.unsupportedMediaType, "expected Content-Type: application/json")
            }
        }
        return nil
    }

    private func secured(_ response: Response) -> Response {
        var r = response
        r.headers[.xContentTypeOptions] = "nosniff"
        r.headers[.init("Referrer-Policy")!] = "no-referrer"
        r.headers[.init("X-Frame-Options")!] = "DENY"
        if r.headers[.cacheControl] == nil { r.headers[.cacheControl] = "no-store" }
        return r
    }

    static func refuse(_ status: HTTPResponse.Status, _ why: String) -> Response {
        ReviewServer.error(status, why)
    }

    /// The host of a `Host` header: `[::1]:8780` -> `::1`, `localhost:8780` -> `localhost`.
    static func host(_ authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    static func bearer(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == cookieName { return String(parts[1]) }
            }
        }
        return nil
    }

    /// Equal, in time that does not depend on where two tokens of the same length differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
