/// The configuration's optional `mqtt:` section: a broker the daemon also publishes its events and statuses to,
/// beside ZeroMQ. Absent keys keep the defaults below; `firstInvalid` holds the ranges, which the configuration
/// loader enforces. The password never sits in the file: `password_file` names a file holding it, which the loader
/// reads into `password`.
public struct MQTTSettings: Decodable, Sendable, Equatable {
    /// The broker's host name or address (required).
    public var host: String = ""
    /// 1883, or 8883 with `tls`.
    public var port: Int?
    /// Default `anomalyd-<host name>`, with `-<pipeline>` when the process runs one pipeline (`--pipeline`): a
    /// broker disconnects the older of two clients with the same id.
    public var clientID: String?
    /// Topics are `<topic_prefix>/<pipeline>/event|status|model` and `<topic_prefix>/available`.
    public var topicPrefix: String = "anomalyd"
    public var qos: Int = 1
    public var username: String?
    public var passwordFile: String?
    /// Read from `password_file` by the configuration loader.
    public var password: String?
    public var tls: MQTTTLSSettings?
    /// Home Assistant's discovery prefix; `false` in the file (nil here) publishes no discovery.
    public var discoveryPrefix: String? = "homeassistant"
    /// Messages held for the broker (waiting while it is down, or sent and not yet acknowledged); past it new
    /// messages are dropped and counted.
    public var queue: Int = 1000
    /// Seconds of silence after which client and broker each take the connection for dead (the broker then
    /// publishes our will, `offline`).
    public var keepaliveSeconds: Int = 30

    public init(host: String) { self.host = host }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case host, port, clientID = "client_id", topicPrefix = "topic_prefix", qos, username
        case passwordFile = "password_file", tls, discoveryPrefix = "discovery_prefix", queue
        case keepaliveSeconds = "keepalive_s"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        clientID = try c.decodeIfPresent(String.self, forKey: .clientID)
        topicPrefix = try c.decodeIfPresent(String.self, forKey: .topicPrefix) ?? topicPrefix
        qos = try c.decodeIfPresent(Int.self, forKey: .qos) ?? qos
        username = try c.decodeIfPresent(String.self, forKey: .username)
        passwordFile = try c.decodeIfPresent(String.self, forKey: .passwordFile)
        // `discovery_prefix: false` turns discovery off; a string replaces "homeassistant".
        if let on = try? c.decodeIfPresent(Bool.self, forKey: .discoveryPrefix) {
            guard !on else {
                throw DecodingError.dataCorruptedError(forKey: .discoveryPrefix, in: c,
                    debugDescription: "expected a topic prefix (e.g. homeassistant) or false, got true")
            }
            discoveryPrefix = nil
        } else {
            discoveryPrefix = try c.decodeIfPresent(String.self, forKey: .discoveryPrefix) ?? discoveryPrefix
        }
        queue = try c.decodeIfPresent(Int.self, forKey: .queue) ?? queue
        keepaliveSeconds = try c.decodeIfPresent(Int.self, forKey: .keepaliveSeconds) ?? keepaliveSeconds
        tls = try c.decodeIfPresent(MQTTTLSSettings.self, forKey: .tls)
    }

    public var effectivePort: Int { port ?? (tls == nil ? 1883 : 8883) }

    /// The first setting the client cannot use, and what it must be; nil when all are usable.
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        func expect(_ ok: Bool, _ key: CodingKeys, _ range: String, _ value: Any) -> (key: CodingKeys, problem: String)? {
            ok ? nil : (key, "expected \(range), got \(value)")
        }
        let checks: [(key: CodingKeys, problem: String)?] = [
            expect(!host.isEmpty && !host.contains("\0") && !host.contains(" "), .host,
                   "the broker's host name or address (e.g. 127.0.0.1)", "'\(host.prefix(80))'"),
            port.flatMap { expect((1...65535).contains($0), .port, "1...65535", $0) },
            // MQTT 3.1.1 brokers must accept ids of up to 23 bytes; most take more, so only the protocol's limit.
            clientID.flatMap { expect(!$0.isEmpty && $0.utf8.count <= 65535 && !$0.contains("\0"), .clientID,
                                      "a non-empty client id", "'\($0.prefix(80))'") },
            Self.topicProblem(topicPrefix).map { (.topicPrefix, $0) },
            expect((0...2).contains(qos), .qos, "0, 1 or 2", qos),
            username.flatMap { expect(!$0.isEmpty && !$0.contains("\0"), .username, "a non-empty user name", "'\($0.prefix(80))'") },
            expect(passwordFile == nil || username != nil, .passwordFile, "username beside password_file", "no username"),
            discoveryPrefix.flatMap { Self.topicProblem($0).map { (.discoveryPrefix, $0 + " (or false)") } },
            // 0 would make every publish a drop; the bound is memory, at most a few KB a message.
            expect((1...1_000_000).contains(queue), .queue, "1...1000000 messages", queue),
            expect((5...3600).contains(keepaliveSeconds), .keepaliveSeconds, "5...3600 seconds", keepaliveSeconds),
        ]
        return checks.lazy.compactMap { $0 }.first
    }

    /// A prefix of topic levels: not empty, no wildcard (+, #), no NUL, no leading or trailing '/'.
    static func topicProblem(_ t: String) -> String? {
        let shown = "'\(t.prefix(80))'"
        guard !t.isEmpty, !t.hasPrefix("/"), !t.hasSuffix("/"), !t.contains("+"), !t.contains("#"), !t.contains("\0"),
              t.utf8.count <= 1024 else {
            return "expected topic levels without wildcards (+, #) or a leading or trailing '/', e.g. anomalyd; got \(shown)"
        }
        return nil
    }

    /// The client id when `client_id` is not set: `pipeline` is the one pipeline the process runs, if so.
    public func clientID(host: String, pipeline: String?) -> String {
        clientID ?? (["anomalyd", host] + (pipeline.map { [$0] } ?? [])).joined(separator: "-")
    }
}

/// `mqtt.tls`: a TLS connection, the broker checked against `ca_file`; `cert_file` and `key_file` (both or
/// neither) authenticate the daemon by certificate.
public struct MQTTTLSSettings: Decodable, Sendable, Equatable {
    public var caFile: String
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case caFile = "ca_file", certFile = "cert_file", keyFile = "key_file"
    }

    /// The first setting that cannot be used, and what it must be.
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        if (certFile == nil) != (keyFile == nil) {
            return (certFile == nil ? .certFile : .keyFile, "expected cert_file and key_file together (a client certificate and its key)")
        }
        return nil
    }
}
