import Foundation
import Yams

extension ConfigLoader {
    /// Where the errors inside one decoded node are reported: the node (a pipeline's merged entry, or the file's
    /// root), its path from the top of the file, and `defaults`, whose values keep their own path and line.
    struct Place {
        let file: String
        let node: Node
        let prefix: [String]
        let defaults: Node?
        /// Where a problem with the entry as a whole points: its name.
        var keyMark: Mark? = nil

        func error(_ e: DecodingError) -> ConfigError {
            let (codingPath, message): ([CodingKey], String) = {
                switch e {
                case .typeMismatch(let type, let c): return (c.codingPath, "expected \(describe(type))")
                case .valueNotFound(let type, let c): return (c.codingPath, "expected \(describe(type)), found nothing")
                case .keyNotFound(let key, let c): return (c.codingPath + [key], "required key is missing")
                case .dataCorrupted(let c): return (c.codingPath, c.debugDescription)
                @unknown default: return ([], "\(e)")
                }
            }()
            let path = codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            var text = message
            if case .typeMismatch = e, let found = ConfigLoader.node(at: path, in: node) { text += ", found \(describe(found))" }
            // An unknown key is pointed at by the key itself.
            return error(at: path, key: message.hasPrefix("unknown key"), text)
        }

        /// An error at `path` below the node: at its line, or its mapping's when the key is missing. A value that
        /// came from `defaults` is named by its path there.
        func error(at path: [String], key: Bool = false, mark: Mark? = nil, _ message: String) -> ConfigError {
            let exact = ConfigLoader.node(at: path, in: node, key: key)
            var field = prefix + path
            if !path.isEmpty, let found = exact?.mark, let defaults,
               let there = ConfigLoader.node(at: path, in: defaults, key: key)?.mark,
               (found.line, found.column) == (there.line, there.column) {
                field = ["defaults"] + path
            }
            let ancestor = (1..<max(1, path.count)).reversed().lazy.compactMap {
                ConfigLoader.node(at: Array(path.prefix($0)), in: node)?.mark
            }
            let at = mark ?? (path.isEmpty ? keyMark : nil) ?? exact?.mark ?? ancestor.first ?? keyMark ?? node.mark
            return ConfigError(file: file, line: at?.line, column: at?.column, field: field.joined(separator: "."), message: message)
        }
    }

    /// The node at a key path (with `key`, the last key's own node rather than its value).
    static func node(at path: [String], in root: Node, key wantKey: Bool = false) -> Node? {
        var current = root
        for (i, key) in path.enumerated() {
            if let mapping = current.mapping {
                guard let pair = mapping.first(where: { $0.key.scalar?.string == key }) else { return nil }
                current = wantKey && i == path.count - 1 ? pair.key : pair.value
            } else if let seq = current.sequence, let i = Int(key), seq.indices.contains(i) {
                current = seq[i]
            } else {
                return nil
            }
        }
        return current
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is UInt64.Type: return "a non-negative integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            // Yams names what a container needs by its node types.
            let n = "\(type)"
            if n.hasSuffix("Scalar") { return "a single value" }
            if n.hasSuffix("Sequence") || n.hasPrefix("Array") { return "a list" }
            return "a mapping"
        }
    }

    static func describe(_ node: Node) -> String {
        if let s = node.scalar { return node.null != nil ? "nothing" : quoted(s.string) }
        if node.mapping != nil { return "a mapping" }
        if node.sequence != nil { return "a list" }
        return "something else"
    }

    static func syntaxError(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, column: mark.column, field: "", message: "YAML syntax error: \(problem)")
        case .duplicatedKeysInMapping(let keys, let context):
            return ConfigError(file: file, line: context.mark.line, column: context.mark.column, field: "",
                               message: "YAML error: a mapping repeats the key(s) \(keys.map(quoted).joined(separator: ", "))")
        default:
            return ConfigError(file: file, field: "", message: "YAML error: \(e)")
        }
    }

    /// The first byte that is not part of a UTF-8 character: its offset, line and column (in characters, as YAML
    /// marks count); nil for UTF-8 text.
    static func firstInvalidUTF8(_ data: Data) -> (offset: Int, line: Int, column: Int)? {
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var offset = 0, line = 1, column = 1
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let scalar):
                offset += scalar.count
                if scalar.count == 1 && scalar.first == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput: return nil
            case .error: return (offset, line, column)
            }
        }
    }
}
