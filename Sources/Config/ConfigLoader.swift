import Foundation
import Yams

/// Reads, decodes and validates a configuration file. Every error is a `ConfigError` naming file, line and field.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DaemonConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, field: "", message: "cannot read the configuration file (\(reason(error)))")
        }
        return try parse(text, file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> DaemonConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, field: "", message: "the file is empty; expected a mapping with 'pipelines'")
            }
            root = node
        } catch let e as ConfigError {
            throw e
        } catch let e as YamlError {
            throw syntaxError(e, file: file)
        }
        let raw: ConfigFile
        do {
            raw = try YAMLDecoder().decode(ConfigFile.self, from: root)
        } catch let e as DecodingError {
            throw locate(e, in: root, file: file)
        }
        return try validate(raw, root: root, file: file, environment: environment)
    }

    // MARK: Validation

    static func validate(_ raw: ConfigFile, root: Node, file: String, environment: [String: String]) throws -> DaemonConfig {
        func fail(_ path: [String], _ message: String) -> ConfigError {
            let mark = node(at: path, in: root)?.mark
            return ConfigError(file: file, line: mark?.line, column: mark?.column, field: path.joined(separator: "."), message: message)
        }
        guard !raw.pipelines.isEmpty else { throw fail(["pipelines"], "no pipelines declared; add at least one under 'pipelines'") }
        try checkEndpoint(raw.publisher.endpoint) { throw fail(["publisher", "endpoint"], $0) }
        guard raw.publisher.heartbeatS > 0, raw.publisher.statusS > 0 else {
            throw fail(["publisher"], "heartbeat_s and status_s must be positive")
        }
        // Readability only: the key's content is checked when the publisher binds (it needs libzmq).
        if let key = raw.publisher.curveSecretKeyFile, !FileManager.default.isReadableFile(atPath: key) {
            let why = FileManager.default.fileExists(atPath: key) ? "is not readable by this user" : "does not exist"
            throw fail(["publisher", "curve_secret_key_file"], "\(key) \(why); expected a secret key file from 'anomalyd keygen'")
        }
        if let listen = raw.metrics.listen, hostPort(listen) == nil {
            throw fail(["metrics", "listen"], "expected HOST:PORT (e.g. 127.0.0.1:9108), got '\(listen)'")
        }

        var pipelines: [PipelineConfig] = []
        for name in raw.pipelines.keys.sorted() {
            let s = raw.pipelines[name]!.merged(over: raw.defaults)
            let at = ["pipelines", name]
            guard isValidName(name) else {
                throw fail(at, "pipeline names must match [a-z0-9_-]+ (they become ZeroMQ topics)")
            }
            guard let rawSource = s.source, !rawSource.isEmpty else {
                throw fail(at, "no 'source' (a video file path, an rtsp:// URL, or a /dev/video device)")
            }
            let (source, display) = try resolveSource(rawSource, credentialsFile: s.credentialsFile, environment: environment) {
                fail(at + ["source"], $0)
            }
            let sampleFps = s.sampleFps ?? BuiltIn.sampleFps
            guard sampleFps > 0, sampleFps <= 120 else { throw fail(at + ["sample_fps"], "expected a rate in (0, 120] frames/s, got \(sampleFps)") }
            let resize = s.resize ?? BuiltIn.resize
            guard ["squash", "crop"].contains(resize) else { throw fail(at + ["resize"], "expected 'squash' or 'crop', got '\(resize)'") }
            let transport = s.rtspTransport ?? BuiltIn.rtspTransport
            guard ["tcp", "udp"].contains(transport) else { throw fail(at + ["rtsp_transport"], "expected 'tcp' or 'udp', got '\(transport)'") }
            if let t = s.stallTimeoutS, t <= 0 { throw fail(at + ["stall_timeout_s"], "expected a positive number of seconds") }
            let maxFrames = s.batch?.maxFrames ?? BuiltIn.batchMaxFrames
            guard (1...64).contains(maxFrames) else { throw fail(at + ["batch", "max_frames"], "expected 1...64, got \(maxFrames)") }
            let maxWait = s.batch?.maxWaitMs ?? BuiltIn.batchMaxWaitMs
            guard maxWait >= 0 else { throw fail(at + ["batch", "max_wait_ms"], "expected a non-negative number of milliseconds") }
            let learningFrames = s.learning?.frames ?? BuiltIn.learningFrames
            guard learningFrames >= 20 else {
                throw fail(at + ["learning", "frames"], "expected at least 20 frames (the held-out calibration needs some), got \(learningFrames)")
            }
            if let secs = s.learning?.seconds, secs <= 0 { throw fail(at + ["learning", "seconds"], "expected a positive duration") }
            if let d = s.decision {
                if let v = d.sensitivity, !(0...1).contains(v) { throw fail(at + ["decision", "sensitivity"], "expected a value in [0, 1], got \(v)") }
                if let v = d.framesToStart, v < 1 { throw fail(at + ["decision", "frames_to_start"], "expected at least 1") }
                if let v = d.framesToEnd, v < 1 { throw fail(at + ["decision", "frames_to_end"], "expected at least 1") }
                if let v = d.maxDurationS, v <= 0 { throw fail(at + ["decision", "max_duration_s"], "expected a positive duration") }
                if let v = d.updateIntervalS, v < 0 { throw fail(at + ["decision", "update_interval_s"], "expected a non-negative duration") }
            }
            if let d = s.detector {
                if let v = d.epochs, v < 1 { throw fail(at + ["detector", "epochs"], "expected at least 1") }
                if let v = d.studentDepth, v < 1 { throw fail(at + ["detector", "student_depth"], "expected at least 1") }
                if let v = d.learningRate, !(v > 0) { throw fail(at + ["detector", "learning_rate"], "expected a positive rate") }
                if let v = d.maskRatio, !(0..<1).contains(v) { throw fail(at + ["detector", "mask_ratio"], "expected a value in [0, 1)") }
                if let v = d.holdout, !(v > 0 && v < 0.5) { throw fail(at + ["detector", "holdout"], "expected a share in (0, 0.5)") }
                if let v = d.thresholdQuantile, !(v > 0.5 && v < 1) { throw fail(at + ["detector", "threshold_quantile"], "expected a quantile in (0.5, 1)") }
                if let v = d.gaussianFeature, !["cls", "cls+patch_mean"].contains(v) {
                    throw fail(at + ["detector", "gaussian_feature"], "expected 'cls' or 'cls+patch_mean', got '\(v)'")
                }
                if let v = d.gaussianCovariance, !["pca", "ledoit_wolf"].contains(v) {
                    throw fail(at + ["detector", "gaussian_covariance"], "expected 'pca' or 'ledoit_wolf', got '\(v)'")
                }
                if let v = d.varianceKept, !(v > 0 && v <= 1) { throw fail(at + ["detector", "variance_kept"], "expected a share in (0, 1]") }
                if let v = d.studentScore, !["mean", "channel_profile"].contains(v) {
                    throw fail(at + ["detector", "student_score"], "expected 'mean' or 'channel_profile', got '\(v)'")
                }
            }
            if let r = s.refit { try validateRefit(r) { fail(at + ["refit", $0], $1) } }
            pipelines.append(PipelineConfig(
                name: name, source: source, displaySource: display, sampleFps: sampleFps, resize: resize,
                realtime: s.realtime ?? false, loop: s.loop ?? false, rtspTransport: transport, stallTimeoutS: s.stallTimeoutS,
                teacher: s.teacher ?? BuiltIn.teacher, stateDir: s.stateDir ?? BuiltIn.stateDir + "/" + name,
                evidenceJpeg: s.evidenceJpeg ?? true, batchMaxFrames: maxFrames, batchMaxWaitMs: maxWait,
                learningFrames: learningFrames, learningSeconds: s.learning?.seconds, detector: s.detector, decision: s.decision, refit: s.refit))
        }
        return DaemonConfig(file: file, pipelines: pipelines, publisher: raw.publisher, metrics: raw.metrics)
    }

    static func validateRefit(_ r: RefitSection, _ fail: (String, String) -> ConfigError) throws {
        if let v = r.everyHours, !(v > 0) { throw fail("every_hours", "expected a positive number of hours, got \(v)") }
        if let v = r.everyNewFrames, v < 1 { throw fail("every_new_frames", "expected at least 1 frame, got \(v)") }
        if let v = r.minFrames, v < 20 { throw fail("min_frames", "expected at least 20 frames (validation and calibration hold some out), got \(v)") }
        if let v = r.normalMargin, !(0..<0.5).contains(v) { throw fail("normal_margin", "expected a margin in [0, 0.5) below the threshold score 0.5, got \(v)") }
        if let v = r.sampleIntervalS, v < 0 { throw fail("sample_interval_s", "expected a non-negative number of seconds, got \(v)") }
        if let v = r.maxFrames, v < 20 { throw fail("max_frames", "expected at least 20 frames, got \(v)") }
        if let v = r.maxBytes, v < 20 * 224 * 224 * 3 { throw fail("max_bytes", "expected at least \(20 * 224 * 224 * 3) bytes (20 frames of 224x224 RGB), got \(v)") }
        if let v = r.epochs, v < 1 { throw fail("epochs", "expected at least 1, got \(v)") }
        if let v = r.validationHoldout, !(v > 0 && v < 0.5) { throw fail("validation_holdout", "expected a share in (0, 0.5), got \(v)") }
        if let v = r.falseAlarmMargin, !(0...1).contains(v) { throw fail("false_alarm_margin", "expected a rate in [0, 1], got \(v)") }
        if let v = r.evidenceMinScore, !(v > 0.5 && v <= 1) { throw fail("evidence_min_score", "expected a score in (0.5, 1], got \(v)") }
        if let v = r.evidenceMaxFrames, v < 0 { throw fail("evidence_max_frames", "expected a non-negative count, got \(v)") }
        if let m = r.minFrames, let cap = r.maxFrames, m > cap { throw fail("min_frames", "min_frames (\(m)) exceeds max_frames (\(cap))") }
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    static func checkEndpoint(_ e: String, _ fail: (String) throws -> Never) throws {
        if e.hasPrefix("tcp://") {
            guard hostPort(String(e.dropFirst(6))) != nil else { try fail("expected tcp://HOST:PORT, got '\(e)'") }
        } else if e.hasPrefix("ipc://") {
            guard e.count > 6 else { try fail("expected ipc://PATH, got '\(e)'") }
        } else {
            try fail("expected a ZeroMQ endpoint tcp://HOST:PORT or ipc://PATH, got '\(e)'")
        }
    }

    static func hostPort(_ s: String) -> (String, Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port),
              colon > s.startIndex else { return nil }
        return (String(s[..<colon]), port)
    }

    // MARK: Sources and credentials

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

    // MARK: Locating errors

    static func syntaxError(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, column: mark.column, field: "", message: "YAML syntax error: \(problem)")
        default:
            return ConfigError(file: file, field: "", message: "YAML error: \(e)")
        }
    }

    static func locate(_ e: DecodingError, in root: Node, file: String) -> ConfigError {
        let (path, message): ([CodingKey], String) = {
            switch e {
            case .typeMismatch(let type, let c): return (c.codingPath, "expected \(describe(type))")
            case .valueNotFound(let type, let c): return (c.codingPath, "expected \(describe(type)), found nothing")
            case .keyNotFound(let key, let c): return (c.codingPath + [key], "required key is missing")
            case .dataCorrupted(let c): return (c.codingPath, c.debugDescription)
            @unknown default: return ([], "\(e)")
            }
        }()
        let names = path.map { $0.intValue.map(String.init) ?? $0.stringValue }
        // An unknown key is pointed at by its key; a missing key has no node, so its parent mapping stands in.
        let isUnknownKey = message.hasPrefix("unknown key")
        let mark = ((isUnknownKey ? node(at: names, in: root, key: true) : nil) ?? node(at: names, in: root)
            ?? node(at: Array(names.dropLast()), in: root))?.mark
        var text = message
        if case .typeMismatch = e, let found = node(at: names, in: root) { text += ", found \(describe(found))" }
        if case .dataCorrupted = e, let found = node(at: names, in: root), found.scalar != nil, !message.hasPrefix("unknown key") {
            text = "invalid value \(describe(found)): \(message)"
        }
        return ConfigError(file: file, line: mark?.line, column: mark?.column, field: names.joined(separator: "."), message: text)
    }

    /// The node at a key path (with `key`, the last key's own node rather than its value).
    static func node(at path: [String], in root: Node, key wantKey: Bool = false) -> Node? {
        var current = root
        for (i, key) in path.enumerated() {
            if let mapping = current.mapping {
                guard let pair = mapping.first(where: { $0.key.string == key }) else { return nil }
                current = wantKey && i == path.count - 1 ? pair.key : pair.value
            } else if let seq = current.sequence, let i = Int(key), i < seq.count {
                current = seq[i]
            } else {
                return nil
            }
        }
        return current
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let n = "\(type)"
            if n.hasSuffix("Scalar") { return "a single value" }   // Yams's name for "not a list or mapping"
            return n.hasPrefix("Dictionary") ? "a mapping" : n.hasPrefix("Array") ? "a list" : "a \(n) mapping"
        }
    }

    static func describe(_ node: Node) -> String {
        if let s = node.scalar { return "'\(s.string)'" }
        if node.mapping != nil { return "a mapping" }
        if node.sequence != nil { return "a list" }
        return "something else"
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        return ns.code == NSFileReadNoSuchFileError ? "no such file" : ns.localizedDescription
    }
}
