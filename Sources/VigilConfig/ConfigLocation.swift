/// Where a config value came from: file, 1-based line and column.
public struct ConfigLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A finding about the config, named by file, line and column: an error (the config is refused;
/// thrown as `ConfigError`) or a warning (`vigil check-config` prints it, `vigil run` logs it).
public struct ConfigDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable {
        case error, warning
    }

    public let severity: Severity
    public let location: ConfigLocation?
    public let message: String

    /// An error: the config cannot be used.
    public init(_ message: String, at location: ConfigLocation?) {
        self.init(message, at: location, severity: .error)
    }

    public init(_ message: String, at location: ConfigLocation?, severity: Severity) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// A finding that does not stop the config from being used.
    public static func warning(_ message: String, at location: ConfigLocation?) -> ConfigDiagnostic {
        ConfigDiagnostic(message, at: location, severity: .warning)
    }

    /// `file:line:column: message` for errors, `file:line:column: warning: message` for warnings.
    public var description: String {
        let text = severity == .warning ? "warning: \(message)" : message
        guard let location else { return text }
        return "\(location): \(text)"
    }
}

/// What config decoding throws: a diagnostic of severity `.error`.
public typealias ConfigError = ConfigDiagnostic
