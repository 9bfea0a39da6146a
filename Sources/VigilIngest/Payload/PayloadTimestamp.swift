import FoundationEssentials
import VigilCore

/// Device timestamps in payloads: epoch numbers in s, ms, µs or ns, or RFC 3339 text.
public enum PayloadTimestamp {
    public enum Unit: String, Sendable, CaseIterable {
        /// Seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude (an epoch
        /// time after 1973 in seconds is under 1e11, in milliseconds under 1e14, …).
        case auto, s, ms, us, ns, rfc3339
    }

    public static func milliseconds(_ value: JSONValue, unit: Unit) -> Int64? {
        switch value {
        case .number(let number): return milliseconds(number, unit: unit)
        case .string(let text):
            if unit == .rfc3339 || unit == .auto { return rfc3339(text) }
            return Double(text).flatMap { milliseconds($0, unit: unit) }
        default: return nil
        }
    }

    public static func milliseconds(_ number: Double, unit: Unit) -> Int64? {
        guard number.isFinite else { return nil }
        let factor: Double
        switch unit {
        case .s: factor = 1000
        case .ms: factor = 1
        case .us: factor = 0.001
        case .ns: factor = 0.000001
        case .rfc3339: return nil
        case .auto:
            let magnitude = abs(number)
            factor = magnitude < 1e11 ? 1000 : magnitude < 1e14 ? 1 : magnitude < 1e17 ? 0.001 : 0.000001
        }
        return TimeBounds.checked(Checked.int64(number, times: factor))
    }

    public static func rfc3339(_ text: String) -> Int64? {
        TimeBounds.checked(RFC3339.parse(text))
    }
}
