import FoundationEssentials
import VigilConfig
import VigilStore

/// The `store:` section: where the metric store lives, how often it commits, and how long it keeps
/// what. See docs/configuration.md.
public struct StoreSettings: Sendable {
    /// The database file; relative paths are relative to `data_dir`.
    public var path: String
    public var flushInterval: Duration
    public var options: StoreOptions

    public init(path: String, flushInterval: Duration, options: StoreOptions) {
        self.path = path
        self.flushInterval = flushInterval
        self.options = options
    }

    /// The settings of an empty `store:` section for this data directory.
    public static func defaults(dataDir: String) -> StoreSettings {
        let path = URL(fileURLWithPath: dataDir).appendingPathComponent(defaultFile).path
        return StoreSettings(path: path, flushInterval: .seconds(1), options: StoreOptions(path: path))
    }

    static let defaultFile = "metrics.db"

    static func decode(_ object: ConfigObject, dataDir: String) throws(ConfigError) -> StoreSettings {
        let rawPath = try object.string("path", default: defaultFile)
        guard !rawPath.isEmpty else { throw ConfigError("store.path must not be empty", at: object.location(of: "path")) }
        let path = rawPath.hasPrefix("/") ? rawPath : URL(fileURLWithPath: dataDir).appendingPathComponent(rawPath).path
        var options = StoreOptions(path: path)
        let flushInterval = try object.duration("flush_interval", default: defaults(dataDir: dataDir).flushInterval)
        guard flushInterval >= .milliseconds(10), flushInterval <= .seconds(60) else {
            throw ConfigError("store.flush_interval: must be between 10ms and 1m", at: object.location(of: "flush_interval"))
        }
        options.headSpan = try object.duration("head_span", default: options.headSpan)
        guard options.headSpan >= .seconds(10), options.headSpan <= .seconds(6 * 3600) else {
            throw ConfigError("store.head_span: must be between 10s and 6h", at: object.location(of: "head_span"))
        }
        options.outOfOrderWindow = try object.duration("out_of_order_window", default: .seconds(300))
        options.retention = try object.duration("retention", default: .seconds(30 * 86_400))
        guard options.retention >= .seconds(3600) else {
            throw ConfigError("store.retention: must be at least 1h", at: object.location(of: "retention"))
        }
        options.maxBytes = try object.byteSize("max_bytes")
        if let maxBytes = options.maxBytes, maxBytes < 1 << 20 {
            throw ConfigError("store.max_bytes: must be at least 1MiB", at: object.location(of: "max_bytes"))
        }
        if let rollups = try object.object("rollups") {
            options.minuteRollupRetention = try rollups.duration("minute_retention", default: options.minuteRollupRetention)
            options.hourRollupRetention = try rollups.duration("hour_retention", default: options.hourRollupRetention)
            try rollups.finish()
        }
        try object.finish()
        return StoreSettings(path: path, flushInterval: flushInterval, options: options)
    }
}
