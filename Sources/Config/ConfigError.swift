/// A configuration problem, located: file, line and column (when known), the dotted field path, and what was expected.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let line: Int?
    public let column: Int?
    public let field: String
    public let message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, field: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = Self.printable(field)
        self.message = Self.printable(message)
    }

    /// Keys and values from the file may hold control characters; the message goes to a terminal or the journal.
    static func printable(_ s: String) -> String {
        s.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
    }

    public var description: String {
        let place = line.map { l in column.map { "\(file):\(l):\($0)" } ?? "\(file):\(l)" } ?? file
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }

    /// EX_CONFIG from sysexits.h: systemd's RestartPreventExitStatus=78 stops a restart loop on a bad config.
    public static let exitCode: Int32 = 78
}
