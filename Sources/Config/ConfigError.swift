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
        self.field = field
        self.message = message
    }

    public var description: String {
        let place = line.map { l in column.map { "\(file):\(l):\($0)" } ?? "\(file):\(l)" } ?? file
        return field.isEmpty ? "\(place): \(message)" : "\(place): \(field): \(message)"
    }

    /// EX_CONFIG from sysexits.h: systemd's RestartPreventExitStatus=78 stops a restart loop on a bad config.
    public static let exitCode: Int32 = 78
}
