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

/// A config problem, always tied to a place in a file, printed as one line:
/// `samples/demo.yaml:14:7: unknown key 'qos_level' in mqtt.brokers[0] (did you mean 'qos'?)`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let location: ConfigLocation?
    public let message: String

    public init(_ message: String, at location: ConfigLocation?) {
        self.location = location
        self.message = message
    }

    public var description: String {
        guard let location else { return message }
        return "\(location): \(message)"
    }
}

/// A non-fatal finding (`vigil check-config` prints these; `vigil run` logs them).
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    public let location: ConfigLocation?
    public let message: String

    public init(_ message: String, at location: ConfigLocation?) {
        self.location = location
        self.message = message
    }

    public var description: String {
        guard let location else { return "warning: \(message)" }
        return "\(location): warning: \(message)"
    }
}
