import Decisions
import Detector
import Ingest
import MQTT
import Publisher

/// A settings type that is one mapping of the file. The keys it may hold and the ranges of their values belong to
/// the type (beside its fields), so adding a setting touches that type, its documentation and its use.
protocol ConfigSection: Decodable {
    /// The keys the mapping may hold; any other is an error (a misspelt option must not fall back to a default).
    static var keyNames: [String] { get }
    /// The first key whose value the runtime could not use, and what it must be.
    var invalidKey: (key: String, problem: String)? { get }
}

extension ConfigSection {
    /// Decodes a section: an unknown key, a value of the wrong type and one out of range are each a
    /// `DecodingError` at that key, which `ConfigLoader` turns into file, line and field.
    init(section decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(Self.keyNames)
        self = try Self(from: decoder)
        if let (key, problem) = invalidKey {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [AnyKey(stringValue: key)],
                                                    debugDescription: problem))
        }
    }
}

/// A whole YAML node decoded as a section (`YAMLDecoder` calls `init(from:)`).
struct Root<Section: ConfigSection>: Decodable {
    let section: Section
    init(from decoder: Decoder) throws { section = try Section(section: decoder) }
}

extension KeyedDecodingContainer {
    /// A nested section; absent or null keeps the type's defaults.
    func section<T: ConfigSection>(_: T.Type, forKey key: Key) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try T(section: superDecoder(forKey: key))
    }

    /// A file path or URL: not empty, without NUL (the C libraries would end it there and open another file), at
    /// most 4096 bytes (PATH_MAX).
    func decodePath(forKey key: Key) throws -> String? {
        guard let s = try decodeIfPresent(String.self, forKey: key) else { return nil }
        if let problem = pathProblem(s) { throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: problem) }
        return s
    }
}

func pathProblem(_ s: String) -> String? {
    if s.isEmpty { return "expected a path, got an empty string" }
    if s.contains("\0") { return "a NUL character ends the path early; remove it" }
    if s.utf8.count > 4096 { return "expected at most 4096 bytes (PATH_MAX), got \(s.utf8.count)" }
    return nil
}

/// One range check of a section: nil when `ok`, else the key and "expected <range>, got <value>".
func expect<Key: CodingKey>(_ ok: Bool, _ key: Key, _ range: String, _ value: Any) -> (key: String, problem: String)? {
    ok ? nil : (key.stringValue, "expected \(range), got \(value)")
}

// The stages' own settings types, as sections.

extension DetectorSettings: ConfigSection {
    static var keyNames: [String] { configKeys.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

extension DecisionSettings: ConfigSection {
    static var keyNames: [String] { configKeys.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

extension PublisherSettings: ConfigSection {
    static var keyNames: [String] { configKeys.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

extension MQTTSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

extension MQTTTLSSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

extension ClipSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

/// Any key of a mapping, for listing them.
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; self.intValue = nil }
    init(intValue: Int) { self.stringValue = "\(intValue)"; self.intValue = intValue }
}

extension Decoder {
    /// Throws for the first key of this mapping that is not one of `known`.
    func rejectUnknownKeys(_ known: [String]) throws {
        let container = try self.container(keyedBy: AnyKey.self)
        let allowed = Set(known)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath + [key],
                debugDescription: "unknown key \(quoted(key.stringValue)) (expected one of: \(known.sorted().joined(separator: ", ")))"))
        }
    }
}

/// A value from the file, shown in a message: quoted and cut at 80 characters (`ConfigError` escapes the rest).
func quoted(_ s: String) -> String {
    "'" + (s.count > 80 ? s.prefix(80) + "..." : s) + "'"
}
