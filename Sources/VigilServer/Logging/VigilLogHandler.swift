#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import VigilCore

/// Writes one line per event to standard error, as text for people or JSON for log shippers:
///
///     2026-11-25T05:21:18.123Z info vigil: connected to MQTT broker broker=local
///     {"ts":"2026-11-25T05:21:18.123Z","level":"info","logger":"vigil","msg":"connected to MQTT broker","broker":"local"}
///
/// Each line goes out in a single `write(2)`, so lines from different threads never interleave.
public struct VigilLogHandler: LogHandler {
    public let label: String
    public let format: LoggingSettings.Format
    public let control: LogLevelControl
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(label: String, format: LoggingSettings.Format, control: LogLevelControl) {
        self.label = label
        self.format = format
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.level }
        set { control.level = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        let text: String
        switch format {
        case .text: text = Self.textLine(level: level, label: label, message: "\(message)", metadata: merged)
        case .json: text = Self.jsonLine(level: level, label: label, message: "\(message)", metadata: merged)
        }
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    static func textLine(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "\(timestamp()) \(level.rawValue) \(label): \(message)"
        for key in metadata.keys.sorted() {
            let value = "\(metadata[key]!)"
            let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" }
            line += " \(key)=" + (needsQuotes ? "\"\(JSONText.escape(value))\"" : value)
        }
        return line
    }

    static func jsonLine(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"ts\":\"\(timestamp())\",\"level\":\"\(level.rawValue)\",\"logger\":\"\(JSONText.escape(label))\",\"msg\":\"\(JSONText.escape(message))\""
        for key in metadata.keys.sorted() where !["ts", "level", "logger", "msg"].contains(key) {
            line += ",\"\(JSONText.escape(key))\":\"\(JSONText.escape("\(metadata[key]!)"))\""
        }
        return line + "}"
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String { RFC3339.format(WallClock.nowMs()) }
}
