import Logging
import VigilConfig

/// The `logging:` section.
public struct LoggingSettings: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var level: Logger.Level
    public var format: Format
    /// How often the ingest summary line is logged; zero turns it off.
    public var ingestSummaryInterval: Duration

    static func decode(_ object: ConfigObject) throws(ConfigError) -> LoggingSettings {
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        let level = try object.choice("level", from: levels, default: "info")
        let format = try object.choice("format", from: Format.allCases.map(\.rawValue), default: "text")
        let summary = try object.duration("ingest_summary", default: .seconds(60))
        try object.finish()
        return LoggingSettings(level: Logger.Level(rawValue: level) ?? .info,
                               format: Format(rawValue: format) ?? .text,
                               ingestSummaryInterval: summary)
    }
}
