import Foundation
import Yams

/// Reads, decodes and validates a configuration file. Every error is a `ConfigError` naming file, line and field.
///
/// Each pipeline's entry is merged over `defaults` as YAML nodes (mappings key by key, recursively) and then decoded
/// on its own into `PipelineConfig`, whose sections are the stages' settings types: every value keeps the line it
/// was written on, in the pipeline or in `defaults`. The work per pipeline does not grow with their number.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DaemonConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(file: path, field: "", message: "cannot read the configuration file (\(reason(error)))")
        }
        if let (offset, line, column) = firstInvalidUTF8(data) {
            throw ConfigError(file: path, line: line, column: column, field: "",
                              message: "the file is not UTF-8 text (byte \(offset) of the file is not part of a UTF-8 character)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> DaemonConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, field: "", message: "the file is empty; expected a mapping with 'pipelines'")
            }
            root = node
        } catch let e as YamlError {
            throw syntaxError(e, file: file)
        }
        guard let top = root.mapping else {
            throw ConfigError(file: file, line: root.mark?.line, column: root.mark?.column, field: "",
                              message: "expected a mapping with 'pipelines', found \(describe(root))")
        }
        let place = Place(file: file, node: root, prefix: [], defaults: nil)
        let decoder = YAMLDecoder()
        let head: TopLevel
        do {
            head = try decoder.decode(Root<TopLevel>.self, from: root).section
        } catch let e as DecodingError {
            throw place.error(e)
        }
        // Readability only: the key's content is checked when the publisher binds (it needs libzmq).
        if let key = head.publisher.curveSecretKeyFile, !FileManager.default.isReadableFile(atPath: key) {
            let why = FileManager.default.fileExists(atPath: key) ? "is not readable by this user" : "does not exist"
            throw place.error(at: ["publisher", "curve_secret_key_file"],
                              "\(key) \(why); expected a secret key file from 'anomalyd keygen'")
        }
        let mqtt = try head.mqtt.map { try resolveMQTT($0, place) }
        let ui = try head.ui.map { try resolveUI($0, place) }

        let defaults = top["defaults"].flatMap { $0.null == nil ? $0 : nil }
        if let defaults, defaults.mapping == nil {
            throw place.error(at: ["defaults"], "expected a mapping of pipeline settings, found \(describe(defaults))")
        }
        guard let entries = top["pipelines"] else {
            throw place.error(at: ["pipelines"], "required key 'pipelines' is missing (a mapping of pipeline names to their settings)")
        }
        guard let named = entries.mapping, !named.isEmpty else {
            throw place.error(at: ["pipelines"], entries.mapping == nil
                ? "expected a mapping of pipeline names to their settings, found \(describe(entries))"
                : "no pipelines declared; add at least one under 'pipelines'")
        }

        var pipelines: [PipelineConfig] = []
        pipelines.reserveCapacity(named.count)
        var stateDirs: [String: String] = [:]   // standardised path -> the pipeline that has it
        for (key, entry) in try expanding(entries, place, { try flattened(named) }) {
            let name = try pipelineName(key, place)
            let node = try expanding(entry, place) { try merge(entry, over: defaults) }
            let at = Place(file: file, node: node, prefix: ["pipelines", name], defaults: defaults, keyMark: key.mark)
            var p: PipelineConfig
            do {
                p = try decoder.decode(Root<PipelineConfig>.self, from: node, userInfo: [.pipelineName: name]).section
            } catch let e as DecodingError {
                throw at.error(e)
            }
            guard !p.source.isEmpty else {
                throw at.error(at: [], "no 'source' (a video file path, an rtsp:// URL, or a /dev/video device)")
            }
            (p.source, p.displaySource) = try resolveSource(p.source, credentialsFile: p.credentialsFile,
                                                            environment: environment) { at.error(at: ["source"], $0) }
            let dir = URL(fileURLWithPath: p.stateDir, isDirectory: true).standardizedFileURL.path
            if let other = stateDirs.updateValue(name, forKey: dir) {
                throw at.error(at: ["state_dir"], "pipelines '\(other)' and '\(name)' share the state directory \(dir): "
                    + "each would run the other's model after a restart; give each its own state_dir "
                    + "(without one a pipeline uses /var/lib/anomalyd/<name>)")
            }
            pipelines.append(p)
        }
        pipelines.sort { $0.name < $1.name }
        return DaemonConfig(file: file, pipelines: pipelines, publisher: head.publisher, metrics: head.metrics, mqtt: mqtt, ui: ui,
                            engine: head.engine)
    }

    /// `body`, with an alias bomb in merge keys reported at `node` as a configuration error.
    static func expanding<T>(_ node: Node?, _ place: Place, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch is MergeExpansionTooLarge {
            throw place.error(at: ["pipelines"], mark: node?.mark,
                              "merge keys (<<) expand to more than \(mergeExpansionLimit) entries (an alias bomb?)")
        }
    }

    // MARK: Pipelines

    /// Pipeline names become ZeroMQ topics (anomaly/<name>/...) and systemd instance names.
    static func pipelineName(_ key: Node, _ place: Place) throws -> String {
        let rule = "names are 1 to 64 of a-z, 0-9, '_' and '-' (they become ZeroMQ topics)"
        guard let name = key.scalar?.string else {
            throw place.error(at: ["pipelines"], mark: key.mark, "a pipeline's name is \(describe(key)); \(rule)")
        }
        guard !name.isEmpty else { throw place.error(at: ["pipelines"], mark: key.mark, "a pipeline's name is empty; \(rule)") }
        guard name.utf8.count <= 64, name.unicodeScalars.allSatisfy({
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }) else {
            throw place.error(at: ["pipelines"], mark: key.mark, "pipeline name \(quoted(name)): \(rule)")
        }
        return name
    }

    /// `node` over `base`, as YAML nodes: where both hold a mapping the two merge key by key, recursively; elsewhere
    /// `node` wins, and a null `node` (a key with nothing after it) takes `base`. Nodes keep their marks, so an
    /// error in a value that came from `defaults` points at its line there.
    static func merge(_ node: Node, over base: Node?) throws -> Node {
        var budget = mergeExpansionLimit
        return try merge(node, over: base, budget: &budget)
    }

    private static func merge(_ node: Node, over base: Node?, budget: inout Int) throws -> Node {
        guard let base else { return node }
        if node.null != nil { return base }
        guard case .mapping(let top) = node, case .mapping(let bottom) = base else { return node }
        budget -= top.count + bottom.count
        guard budget >= 0 else { throw MergeExpansionTooLarge() }
        var pairs = try flattened(top, budget: &budget)
        var index: [String: Int] = [:]
        for (i, pair) in pairs.enumerated() { if let k = pair.0.scalar?.string { index[k] = i } }
        for pair in try flattened(bottom, budget: &budget) {
            if let k = pair.0.scalar?.string, let i = index[k] {
                pairs[i].1 = try merge(pairs[i].1, over: pair.1, budget: &budget)
            } else {
                pairs.append(pair)
            }
        }
        return .mapping(Node.Mapping(pairs, top.tag, top.style, top.mark))
    }

    /// A mapping's pairs with YAML merge keys (`<<: *base`) expanded as YAML 1.1 says: the mapping's own keys win,
    /// then the merged mappings in the order listed.
    static func flattened(_ m: Node.Mapping) throws -> [(Node, Node)] {
        var budget = mergeExpansionLimit
        return try flattened(m, budget: &budget)
    }

    /// Entries the loader may visit expanding merge keys, and merging a pipeline over `defaults`. Aliases make YAML a
    /// graph: mappings that each merge (or hold under ten keys) the one before expand to 10^n entries (an alias bomb).
    static let mergeExpansionLimit = 10_000

    struct MergeExpansionTooLarge: Error {}

    /// Only merged entries count: the `pipelines` mapping itself may hold any number of pipelines.
    private static func flattened(_ m: Node.Mapping, budget: inout Int) throws -> [(Node, Node)] {
        var own: [(Node, Node)] = [], merged: [(Node, Node)] = []
        for pair in m {
            guard pair.key.tag.rawValue == Tag.Name.merge.rawValue else {
                own.append((pair.key, pair.value))
                continue
            }
            let sources = pair.value.mapping.map { [$0] } ?? pair.value.sequence?.compactMap(\.mapping) ?? []
            for source in sources {
                budget -= source.count
                guard budget >= 0 else { throw MergeExpansionTooLarge() }
                merged += try flattened(source, budget: &budget)
            }
        }
        guard !merged.isEmpty else { return own }
        var seen = Set(own.compactMap { $0.0.scalar?.string })
        return own + merged.filter { pair in pair.0.scalar.map { seen.insert($0.string).inserted } ?? true }
    }
}
