import Foundation
import MQTT

extension ConfigLoader {
    /// Secrets never sit in the file: an URL's user-info may only be `${VAR}` references (or come from
    /// `credentials_file`), and `${...}` is expanded nowhere else. Returns (URL with secrets, URL safe to log).
    static func resolveSource(_ raw: String, credentialsFile: String?, environment: [String: String],
                              _ fail: (String) -> ConfigError) throws -> (String, String) {
        guard let schemeEnd = raw.range(of: "://") else {
            if raw.contains("${") { throw fail("${...} is only expanded in an URL's credential part") }
            if credentialsFile != nil { throw fail("credentials_file needs an URL source (rtsp://...)") }
            return (raw, raw)
        }
        let scheme = raw[..<schemeEnd.lowerBound].lowercased()
        guard ["rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt"].contains(scheme) else {
            throw fail("unsupported URL scheme '\(scheme)'; expected rtsp://, rtsps://, http(s)://, rtmp://, srt://, udp:// or tcp://")
        }
        let rest = raw[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        if path.contains("${") { throw fail("${...} is only expanded in an URL's credential part") }
        var userInfo: String?
        var hostPart = Substring(authority)
        if let at = authority.lastIndex(of: "@") {
            userInfo = String(authority[..<at])
            hostPart = authority[authority.index(after: at)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains("${"), URL(string: "\(scheme)://\(hostPart)\(path)")?.host != nil else {
            throw fail("not a valid URL: expected \(scheme)://[${USER}:${PASSWORD}@]HOST[:PORT]/PATH")
        }
        var credentials: String?
        if let u = userInfo {
            if credentialsFile != nil { throw fail("give credentials either in the URL (${ENV}) or in credentials_file, not both") }
            var expanded = ""
            var rest = Substring(u)
            while let open = rest.range(of: "${") {
                expanded += rest[..<open.lowerBound]
                guard let close = rest[open.upperBound...].firstIndex(of: "}") else { throw fail("unterminated ${ in the URL's credentials") }
                let name = String(rest[open.upperBound..<close])
                guard let value = environment[name] else { throw fail("environment variable \(name) (used in the URL's credentials) is not set") }
                expanded += value.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? value
                rest = rest[rest.index(after: close)...]
            }
            // Literal text around the references may only be the ':' separator: no inline secrets.
            let literal = (u.replacingOccurrences(of: #"\$\{[^}]*\}"#, with: "", options: .regularExpression))
            guard literal.isEmpty || literal == ":" else {
                throw fail("inline credentials are not allowed; write ${USER}:${PASSWORD} and set them in the environment, or use credentials_file")
            }
            credentials = expanded + rest
        } else if let f = credentialsFile {
            let content: String
            do {
                content = try String(contentsOfFile: f, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw fail("cannot read credentials_file \(f) (\(reason(error)))")
            }
            let parts = content.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw fail("credentials_file \(f) must hold user:password") }
            credentials = parts.map { $0.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? $0 }.joined(separator: ":")
        }
        let display = "\(scheme)://\(credentials == nil ? "" : "***@")\(hostPart)\(path)"
        return ("\(scheme)://\(credentials.map { $0 + "@" } ?? "")\(hostPart)\(path)", display)
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        return ns.code == NSFileReadNoSuchFileError ? "no such file" : ns.localizedDescription
    }
}

extension ConfigLoader {
    /// The MQTT section's files: each must be readable now (libmosquitto reads the TLS files only when it
    /// connects, in the background), and the password is read from `password_file` like a source's
    /// `credentials_file`, so it never sits in the configuration.
    static func resolveMQTT(_ settings: MQTTSettings, _ place: Place) throws -> MQTTSettings {
        var s = settings
        let files: [(field: String, path: String?, expected: String)] = [
            ("password_file", s.passwordFile, "a file holding the broker password"),
            ("tls.ca_file", s.tls?.caFile, "the PEM certificate of the CA that signed the broker's"),
            ("tls.cert_file", s.tls?.certFile, "this client's PEM certificate"),
            ("tls.key_file", s.tls?.keyFile, "the PEM key of cert_file"),
        ]
        for (field, path, expected) in files {
            guard let path else { continue }
            if let problem = pathProblem(path) { throw place.error(at: ["mqtt"] + field.split(separator: ".").map(String.init), problem) }
            guard !FileManager.default.isReadableFile(atPath: path) else { continue }
            let why = FileManager.default.fileExists(atPath: path) ? "is not readable by this user" : "does not exist"
            throw place.error(at: ["mqtt"] + field.split(separator: ".").map(String.init), "\(path) \(why); expected \(expected)")
        }
        if let f = s.passwordFile {
            let content: String
            do {
                content = try String(contentsOfFile: f, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw place.error(at: ["mqtt", "password_file"], "cannot read \(f) (\(reason(error)))")
            }
            guard !content.isEmpty else { throw place.error(at: ["mqtt", "password_file"], "\(f) is empty; expected the broker password") }
            guard !content.contains("\0") else {
                throw place.error(at: ["mqtt", "password_file"], "\(f) holds a NUL character, which would end the password early")
            }
            s.password = content
        }
        return s
    }
}
