#if canImport(Glibc)
import Glibc
#endif
import VigilConfig
import VigilCore

/// The line settings of a serial device.
public struct SerialSettings: Sendable, Equatable {
    public enum Parity: String, Sendable, CaseIterable { case none, even, odd }
    public enum FlowControl: String, Sendable, CaseIterable { case none, rtsCts = "rtscts", xonXoff = "xonxoff" }

    public var baud: Int
    public var dataBits: Int
    public var parity: Parity
    public var stopBits: Int
    public var flowControl: FlowControl

    public static let speeds: [Int: Int32] = [
        1200: Int32(B1200), 2400: Int32(B2400), 4800: Int32(B4800), 9600: Int32(B9600), 19200: Int32(B19200),
        38400: Int32(B38400), 57600: Int32(B57600), 115200: Int32(B115200), 230400: Int32(B230400),
        460800: Int32(B460800), 921600: Int32(B921600),
    ]

    var speedConstant: Int32 { Self.speeds[baud] ?? Int32(B9600) }

    static func decode(_ object: ConfigObject, defaultBaud: Int) throws(ConfigError) -> SerialSettings {
        let baud = try object.int("baud", default: defaultBaud, in: 50...4_000_000)
        guard speeds[baud] != nil else {
            throw ConfigError("\(object.qualified("baud")): \(baud) is not a standard speed (\(speeds.keys.sorted().map(String.init).joined(separator: ", ")))",
                              at: object.location(of: "baud"))
        }
        return SerialSettings(
            baud: baud,
            dataBits: try object.int("data_bits", default: 8, in: 5...8),
            parity: Parity(rawValue: try object.choice("parity", from: Parity.allCases.map(\.rawValue), default: "none")) ?? .none,
            stopBits: try object.int("stop_bits", default: 1, in: 1...2),
            flowControl: FlowControl(rawValue: try object.choice("flow_control", from: FlowControl.allCases.map(\.rawValue), default: "none")) ?? .none)
    }

    /// `9600 8N1`
    public var summary: String { "\(baud) \(dataBits)\(parity.rawValue.prefix(1).uppercased())\(stopBits)" }
}

/// `serial:` — devices that talk text over a serial line.
public struct SerialConfig: Sendable {
    public var ports: [SerialPortConfig]

    public static func decode(_ section: ConfigObject) throws(ConfigError) -> SerialConfig {
        let ports = try section.namedObjects("ports", what: "a serial port", name: \.name, SerialPortConfig.decode)
        try section.finish()
        return SerialConfig(ports: ports)
    }
}

/// One entry of `serial.ports`.
public struct SerialPortConfig: Sendable {
    public struct Poll: Sendable {
        public var command: [UInt8]
        public var interval: Duration
        public var timeout: Duration
    }

    public var name: String
    public var device: String
    public var settings: SerialSettings
    public var framing: FrameSplitter.Framing
    public var maxFrame: Int
    public var format: LineFormat
    /// Prepended to every metric name the format produces (`weather_` + `temperature`).
    public var metricPrefix: String
    /// The metric of the `value` format.
    public var metric: String?
    public var labels: Labels
    public var units: [String: String]
    /// Frames starting with this are skipped (headers, comments, prompts).
    public var skipPrefix: String?
    public var poll: Poll?
    /// Reopening a vanished device waits at most this long between attempts.
    public var reopenMax: Duration

    public var sourceName: String { "serial/\(name)" }

    static func decode(_ object: ConfigObject) throws(ConfigError) -> SerialPortConfig {
        let name = try object.requiredString("name")
        let device = try object.requiredString("device")
        let settings = try SerialSettings.decode(object, defaultBaud: 9600)
        let maxFrame = try object.int("max_frame", default: 1024, in: 1...65536)
        let framing = try decodeFraming(object)
        let formatName = try object.choice("format", from: ["value", "csv", "kv", "json", "influx", "regex", "nmea"], default: "value")
        let format: LineFormat
        switch formatName {
        case "csv":
            let separator = try object.string("separator", default: ",")
            guard separator.count == 1, let character = separator.first else {
                throw ConfigError("\(object.qualified("separator")): one character, e.g. \",\" or \";\"", at: object.location(of: "separator"))
            }
            let columns = try object.stringList("columns", default: [])
            guard columns.contains(where: { $0 != "-" && !$0.isEmpty }) else {
                throw ConfigError("\(object.qualified("columns")): name the columns, e.g. [temperature, humidity, -, pressure] (- skips one)",
                                  at: object.location(of: "columns"))
            }
            format = .csv(separator: character, columns: columns.map { $0 == "-" || $0.isEmpty ? nil : $0 })
        case "kv":
            let separator = try object.string("separator", default: "=")
            guard separator.count == 1, let character = separator.first else {
                throw ConfigError("\(object.qualified("separator")): one character, e.g. \"=\" or \":\"", at: object.location(of: "separator"))
            }
            var rename: [String: String] = [:]
            for entry in try object.stringMap("keys") { rename[entry.key] = entry.value }
            format = .keyValue(separator: character, rename: rename)
        case "regex":
            let (pattern, location) = try object.scalar("pattern") ?? ("", object.location)
            let regex: NamedCaptureRegex
            do { regex = try NamedCaptureRegex(pattern) } catch {
                throw ConfigError("\(object.qualified("pattern")): not a valid regular expression: \(error)", at: location)
            }
            guard !regex.names.isEmpty else {
                throw ConfigError("\(object.qualified("pattern")): name each value with a named group, e.g. T=(?<temperature>[-0-9.]+)", at: location)
            }
            format = .regex(regex)
        case "nmea":
            format = .nmea
        default:
            format = .payload(try SubscriptionConfig.decodeFormat(formatName, object))
        }
        let metric = try object.optionalString("metric")
        if formatName == "value", metric == nil {
            throw ConfigError("\(object.path): the value format needs 'metric' (the name of the one value per line)", at: object.location)
        }
        var labels = Labels()
        for entry in try object.stringMap("labels") {
            guard NameRules.isValidLabelName(entry.key) else {
                throw ConfigError("\(object.qualified("labels")).\(entry.key): not a valid label name", at: entry.location)
            }
            labels[entry.key] = entry.value
        }
        if labels["device"] == nil { labels["device"] = name }
        var units: [String: String] = [:]
        for entry in try object.stringMap("units") { units[entry.key] = entry.value }
        var poll: Poll?
        if let pollObject = try object.object("poll") {
            let command = try pollObject.requiredString("command")
            poll = Poll(command: Array(unescape(command).utf8),
                        interval: try pollObject.duration("interval", default: .seconds(5)),
                        timeout: try pollObject.duration("timeout", default: .seconds(1)))
            guard poll!.interval > .zero, poll!.timeout > .zero, poll!.timeout <= poll!.interval else {
                throw ConfigError("\(pollObject.path): interval and timeout must be above 0, timeout at most the interval", at: pollObject.location)
            }
            try pollObject.finish()
        }
        let config = SerialPortConfig(
            name: name, device: device, settings: settings, framing: framing, maxFrame: maxFrame, format: format,
            metricPrefix: try object.string("metric_prefix", default: ""), metric: metric, labels: labels, units: units,
            skipPrefix: try object.optionalString("skip_prefix"), poll: poll,
            reopenMax: try object.duration("reopen_max", default: .seconds(1)))
        try object.finish()
        return config
    }

    static func decodeFraming(_ object: ConfigObject) throws(ConfigError) -> FrameSplitter.Framing {
        switch try object.choice("framing", from: ["line", "fixed", "markers"], default: "line") {
        case "fixed":
            return .fixed(length: try object.int("frame_length", default: 0, in: 1...65536))
        case "markers":
            let start = Array(unescape(try object.requiredString("start_marker")).utf8)
            let end = Array(unescape(try object.requiredString("end_marker")).utf8)
            guard !start.isEmpty, !end.isEmpty else {
                throw ConfigError("\(object.path): start_marker and end_marker must not be empty", at: object.location(of: "start_marker"))
            }
            return .markers(start: start, end: end)
        default:
            let terminator = unescape(try object.string("terminator", default: "\\n"))
            guard !terminator.isEmpty else { throw ConfigError("\(object.qualified("terminator")): must not be empty", at: object.location(of: "terminator")) }
            return .line(terminator: Array(terminator.utf8))
        }
    }

    /// `\r`, `\n`, `\t`, `\\` and `\xHH` in marker, terminator and command strings (YAML single-quoted
    /// strings keep backslashes, so both quoting styles work).
    static func unescape(_ text: String) -> String {
        var out = ""
        var chars = text.makeIterator()
        while let c = chars.next() {
            guard c == "\\" else { out.append(c); continue }
            switch chars.next() {
            case "r": out.append("\r")
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "\\": out.append("\\")
            case "x":
                let hex = String([chars.next(), chars.next()].compactMap { $0 })
                if let value = UInt8(hex, radix: 16) { out.unicodeScalars.append(Unicode.Scalar(value)) }
            case let other?: out.append("\\"); out.append(other)
            case nil: out.append("\\")
            }
        }
        return out
    }
}
