import VigilCore

/// What makes an alert instance active. Every condition is evaluated per series.
public enum AlertCondition: Sendable {
    /// The latest value compared with a threshold. With `clear`, an active alert stays active until
    /// the value crosses `clear` instead (hysteresis: `> 80` with clear 75 ends at 75 or below).
    case threshold(Comparison, Double, clear: Double?)
    /// The latest value outside `[low, high]`.
    case outside(low: Double, high: Double)
    /// No reading from a series that has reported before for at least this long.
    case stale(Duration)
    /// The change of the value over a trailing window: as a rate (per `per`, e.g. °C per minute) or
    /// as a plain difference (`delta`). Needs two readings in the window.
    case change(Change, window: Duration, Comparison, Double, clear: Double?)

    public enum Change: Sendable, Equatable {
        case rate(per: Duration)
        case delta
    }

    /// The window of past readings the condition needs, or nil when the latest is enough.
    var window: Duration? {
        if case .change(_, let window, _, _, _) = self { return window }
        return nil
    }

    /// A short human form for listings and `alerts test`: `> 80 (clear 75)`, `rate per 1m over 5m > 2`.
    public var summary: String {
        switch self {
        case .threshold(let op, let value, let clear):
            return "\(op.rawValue) \(Self.format(value))" + (clear.map { " (clear \(Self.format($0)))" } ?? "")
        case .outside(let low, let high):
            return "outside [\(Self.format(low)), \(Self.format(high))]"
        case .stale(let duration):
            return "no reading for \(duration.compactDescription)"
        case .change(let kind, let window, let op, let value, let clear):
            let head = switch kind {
            case .rate(let per): "rate per \(per.compactDescription) over \(window.compactDescription)"
            case .delta: "change over \(window.compactDescription)"
            }
            return "\(head) \(op.rawValue) \(Self.format(value))" + (clear.map { " (clear \(Self.format($0)))" } ?? "")
        }
    }

    static func format(_ value: Double) -> String { value.plainText }
}

extension Duration {
    /// `90s` → `1m30s`, `0s`, `250ms`.
    public var compactDescription: String {
        var ms = milliseconds
        if ms == 0 { return "0s" }
        if ms < 1000 { return "\(ms)ms" }
        var out = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where ms >= size {
            out += "\(ms / size)\(unit)"
            ms %= size
        }
        if ms > 0 { out += "\(ms)ms" }
        return out
    }
}
