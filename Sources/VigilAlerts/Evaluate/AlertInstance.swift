import VigilCore

/// inactive → pending → firing → resolved (and back to pending when the condition holds again).
public enum AlertState: String, Sendable, Codable, CaseIterable {
    case inactive, pending, firing, resolved

    /// Order in listings: firing first, then pending, resolved, inactive.
    var listingRank: Int {
        switch self {
        case .firing: 0
        case .pending: 1
        case .resolved: 2
        case .inactive: 3
        }
    }
}

/// An operator's acknowledgement of a firing alert: repeats stop until `until` (or until it resolves).
public struct AlertAck: Sendable, Codable, Equatable {
    public var by: String
    public var atMs: Int64
    public var untilMs: Int64?
    public var comment: String

    public init(by: String, atMs: Int64, untilMs: Int64?, comment: String) {
        self.by = by
        self.atMs = atMs
        self.untilMs = untilMs
        self.comment = comment
    }
}

/// One rule applied to one series. Persisted (without the change window) so that a restart
/// neither re-sends nor forgets what was firing.
public struct AlertInstance: Sendable, Codable, Equatable {
    public struct Key: Sendable, Hashable, Codable {
        public let rule: String
        public let series: String
        public init(rule: String, series: String) {
            self.rule = rule
            self.series = series
        }
        /// Stable text id for APIs and notifications: `rule/series`.
        public var id: String { "\(rule)/\(series)" }
    }

    public let key: Key
    public var labels: [String: String]
    public var annotations: [String: String]
    public var severity: String
    public var state: AlertState
    /// When the condition started holding (pending began); the alert's `startsAt`.
    public var activeSinceMs: Int64?
    public var firedAtMs: Int64?
    public var resolvedAtMs: Int64?
    /// While firing: when the condition stopped holding (for keep_firing_for).
    public var clearSinceMs: Int64?
    /// Whether the condition held at the last evaluation.
    public var holding: Bool
    public var value: Double?
    public var unit: String?
    /// Arrival time of the series' latest reading (stale rules).
    public var lastSeenMs: Int64?
    /// Notifier name → when a firing (or repeat) notification was last queued for it.
    public var notified: [String: Int64]
    public var ack: AlertAck?

    init(key: Key, labels: Labels, severity: String) {
        self.key = key
        self.labels = Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        self.annotations = [:]
        self.severity = severity
        self.state = .inactive
        self.holding = false
        self.notified = [:]
    }

    public var rule: String { key.rule }
    public var isActive: Bool { state == .pending || state == .firing }

    /// The labels as a series key, so silences can use the selector syntax: `metric` is both the
    /// name (`__name__`) and a label, so `{metric="temp"}` and `temp{…}` both match.
    public var labelKey: SeriesKey {
        SeriesKey(metric: labels["metric"] ?? "", labels: Labels(labels))
    }
}

/// A change of state the engine reports, with the instance as it is afterwards.
public struct AlertTransition: Sendable {
    public let from: AlertState
    public let instance: AlertInstance
    public var to: AlertState { instance.state }
}
