import VigilConfig
import VigilCore

/// The `normalize:` section: what every source's readings go through before the bus (MQTT now,
/// serial and Modbus later). See docs/configuration.md.
public struct NormalizeConfig: Sendable {
    public enum SkewAction: String, Sendable, CaseIterable {
        /// Keep the reading, stamped with the receive time.
        case receiveTime = "receive_time"
        case reject
    }

    /// Convert known units to their canonical unit (°F → °C, kW → W, …).
    public var convertUnits = true
    /// Device timestamps further in the future than this are handled by `onClockSkew`.
    public var maxClockSkew: Duration = .seconds(300)
    public var onClockSkew: SkewAction = .receiveTime
    /// Readings older than this (against the time they were received) are rejected (`too_old`).
    /// Unset in the config: the store's retention, since older data would be deleted anyway.
    public var maxAge: Duration = NormalizeConfig.defaultMaxAge
    public static let defaultMaxAge: Duration = .seconds(30 * 86_400)
    /// Device-timestamped readings seen again within this window (same series, time and value) are
    /// dropped as redeliveries.
    public var dedupWindow: Duration = .seconds(600)
    public var rules: [NormalizeRule] = []

    public init() {}

    /// `defaultMaxAge`: the `max_age` when the section does not set one (the store's retention).
    public static func decode(_ object: ConfigObject, defaultMaxAge: Duration = defaultMaxAge) throws(ConfigError) -> NormalizeConfig {
        var config = NormalizeConfig()
        config.convertUnits = try object.bool("convert_units", default: true)
        config.maxClockSkew = try object.duration("max_clock_skew", default: .seconds(300))
        let action = try object.choice("on_clock_skew", from: SkewAction.allCases.map(\.rawValue), default: "receive_time")
        config.onClockSkew = SkewAction(rawValue: action) ?? .receiveTime
        config.maxAge = try object.duration("max_age", default: defaultMaxAge)
        guard config.maxAge > .zero else {
            throw ConfigError("normalize.max_age: must be more than 0", at: object.location(of: "max_age"))
        }
        config.dedupWindow = try object.duration("dedup_window", default: .seconds(600))
        for rule in try object.objects("rules") { config.rules.append(try NormalizeRule.decode(rule)) }
        try object.finish()
        return config
    }

    /// The first rule for a metric name.
    func rule(for metric: String) -> NormalizeRule? { rules.first { $0.matches(metric) } }
}

/// Per-metric handling: the unit a metric arrives in when the payload does not say, a scale and
/// offset for raw device values, and bounds.
public struct NormalizeRule: Sendable {
    public enum Match: Sendable {
        case name(String)
        case regex(AnchoredPattern)
    }

    public var match: Match
    /// The unit of incoming values when neither the payload nor the subscription gives one.
    public var unit: String?
    /// value × scale + offset, applied before unit conversion (for raw counts, tenths, …).
    public var scale: Double = 1
    public var offset: Double = 0
    /// Bounds in the canonical unit; readings outside are rejected (`out_of_bounds`).
    public var min: Double?
    public var max: Double?

    func matches(_ metric: String) -> Bool {
        switch match {
        case .name(let name): name == metric
        case .regex(let pattern): pattern.matches(metric)
        }
    }

    static func decode(_ object: ConfigObject) throws(ConfigError) -> NormalizeRule {
        let match: Match
        if let name = try object.optionalString("metric") {
            match = .name(name)
        } else if let (text, location) = try object.scalar("match") {
            guard let pattern = AnchoredPattern(text) else {
                throw ConfigError("\(object.qualified("match")): invalid regular expression '\(text)'", at: location)
            }
            match = .regex(pattern)
        } else {
            throw ConfigError("\(object.path): a rule needs 'metric' (a name) or 'match' (a regular expression)", at: object.location)
        }
        var rule = NormalizeRule(match: match)
        rule.unit = try object.optionalString("unit")
        rule.scale = try object.number("scale", default: 1)
        rule.offset = try object.number("offset", default: 0)
        if object.has("min") { rule.min = try object.number("min", default: 0) }
        if object.has("max") { rule.max = try object.number("max", default: 0) }
        if let lo = rule.min, let hi = rule.max, lo > hi {
            throw ConfigError("\(object.path): min (\(lo)) is above max (\(hi))", at: object.location(of: "min"))
        }
        try object.finish()
        return rule
    }
}

/// A regular expression that must match the whole text (as in Prometheus), in linear time.
public struct AnchoredPattern: Sendable {
    let regex: LinearRegex
    public var source: String { regex.pattern }

    public init?(_ source: String) {
        guard let regex = try? LinearRegex(source) else { return nil }
        self.regex = regex
    }

    public func matches(_ text: String) -> Bool { regex.matches(text) }
}
