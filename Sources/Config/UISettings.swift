import Foundation

/// The `ui:` section: the review page and its JSON API (Review). Off without the section; with it, loopback unless
/// `listen` says otherwise, and any other address needs `token_file`, since the API changes what the model learns.
public struct UISettings: Decodable, Sendable, Equatable {
    /// HOST:PORT.
    public var listen = "127.0.0.1:8780"
    /// A file holding the access token (one line, at least 16 characters): a secret never sits in the configuration.
    public var tokenFile: String?
    /// The token read from `tokenFile` by the loader.
    public var token: String?

    /// Tokens shorter than this are refused: a guessable token on a network address is none.
    public static let minimumTokenLength = 16

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case listen, tokenFile = "token_file" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? listen
        tokenFile = try c.decodePath(forKey: .tokenFile)
    }

    /// Whether `listen`'s host can only be reached from this machine.
    public var isLoopback: Bool { Self.isLoopback(host: ListenAddress(listen)?.host ?? "") }

    public static func isLoopback(host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    var invalidKey: (key: String, problem: String)? {
        if ListenAddress(listen).map({ $0.port > 0 }) != true {
            return (CodingKeys.listen.stringValue, "expected HOST:PORT (e.g. 127.0.0.1:8780), got \(quoted(listen))")
        }
        if !isLoopback, tokenFile == nil {
            return (CodingKeys.listen.stringValue, "\(quoted(listen)) is not a loopback address, so the page needs a token: "
                + "set token_file to a file holding one of at least \(Self.minimumTokenLength) characters")
        }
        return nil
    }
}

extension UISettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}

extension ConfigLoader {
    /// Reads the token like `mqtt.password_file`.
    static func resolveUI(_ settings: UISettings, _ place: Place) throws -> UISettings {
        var s = settings
        guard let f = s.tokenFile else { return s }
        let content: String
        do {
            content = try String(contentsOfFile: f, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw place.error(at: ["ui", "token_file"], "cannot read \(f) (\(reason(error))); expected a file holding the page's access token")
        }
        // It travels in a header, a cookie and a query: letters, digits and -._~ need no escaping in any of them.
        let safe = content.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-._~".unicodeScalars.contains($0)
        }
        guard content.count >= UISettings.minimumTokenLength, safe else {
            throw place.error(at: ["ui", "token_file"], "\(f) holds \(safe ? "\(content.count) characters" : "characters other than letters, digits and -._~"); "
                + "expected one token of at least \(UISettings.minimumTokenLength) letters, digits and -._~ (e.g. from `openssl rand -hex 24`)")
        }
        s.token = content
        return s
    }
}
