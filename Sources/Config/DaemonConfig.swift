import Foundation
import MQTT
import Publisher

/// The whole validated configuration.
public struct DaemonConfig: Sendable {
    public var file: String
    /// Sorted by name.
    public var pipelines: [PipelineConfig]
    /// One ZeroMQ XPUB socket shared by every pipeline of the process.
    public var publisher: PublisherSettings
    public var metrics: MetricsSettings
    /// Events and status to an MQTT broker too; nil (no `mqtt` section) publishes on ZeroMQ only.
    public var mqtt: MQTTSettings?
    /// The review page; nil (no `ui` section) serves none.
    public var ui: UISettings?
    public var engine: EngineSettings
}

/// A `listen` setting's `HOST:PORT`, the one reading of it: the port after the last colon, the host before it
/// (IPv6 brackets removed). Port 0 (any free port) parses; the settings require a real one.
public struct ListenAddress: Sendable, Equatable {
    public let host: String
    public let port: Int

    public init?(_ listen: String) {
        guard !listen.contains("\0"), let colon = listen.lastIndex(of: ":"), colon > listen.startIndex,
              let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }
}

/// Prometheus /metrics, /healthz and /readyz over HTTP; off unless `listen` is given.
public struct MetricsSettings: Decodable, Sendable, Equatable {
    /// HOST:PORT.
    public var listen: String?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case listen }

    public init(from decoder: Decoder) throws {
        listen = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .listen)
    }

    var invalidKey: (key: String, problem: String)? {
        listen.flatMap { listen in
            expect(ListenAddress(listen).map { $0.port > 0 } == true, CodingKeys.listen, "HOST:PORT (e.g. 127.0.0.1:9108)", quoted(listen))
        }
    }
}

extension MetricsSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}

/// The file's top level. `defaults` and `pipelines` are read as YAML nodes: each pipeline's entry is merged over
/// `defaults` and decoded on its own (`ConfigLoader`).
struct TopLevel: Decodable {
    var publisher = PublisherSettings()
    var metrics = MetricsSettings()
    var mqtt: MQTTSettings?
    var ui: UISettings?
    var engine = EngineSettings()

    enum CodingKeys: String, CodingKey, CaseIterable { case defaults, publisher, metrics, mqtt, ui, engine, pipelines }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        publisher = try c.section(PublisherSettings.self, forKey: .publisher) ?? publisher
        metrics = try c.section(MetricsSettings.self, forKey: .metrics) ?? metrics
        engine = try c.section(EngineSettings.self, forKey: .engine) ?? engine
        mqtt = try c.section(MQTTSettings.self, forKey: .mqtt)
        // `ui:` with nothing under it serves the page on the default loopback address.
        if c.contains(.ui) { ui = try c.section(UISettings.self, forKey: .ui) ?? UISettings() }
        if mqtt != nil {
            // Again as a section of its own: an unknown key under `tls` is an error too.
            mqtt!.tls = try c.nestedContainer(keyedBy: MQTTSettings.CodingKeys.self, forKey: .mqtt)
                .section(MQTTTLSSettings.self, forKey: .tls)
        }
    }
}

extension TopLevel: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { nil }
}
