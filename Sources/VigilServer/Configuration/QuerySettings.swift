import VigilConfig
import VigilStore

/// The `query:` section: what one API query may cost before it is stopped (docs/security.md).
enum QuerySettings {
    static func decode(_ object: ConfigObject) throws(ConfigError) -> QueryBudget.Limits {
        var limits = QueryBudget.Limits()
        limits.timeout = try object.duration("timeout", default: limits.timeout)
        guard limits.timeout >= .milliseconds(100) else {
            throw ConfigError("query.timeout: must be at least 100ms", at: object.location(of: "timeout"))
        }
        limits.maxSamples = try object.int("max_samples", default: limits.maxSamples, in: 1000...1_000_000_000)
        try object.finish()
        return limits
    }
}
