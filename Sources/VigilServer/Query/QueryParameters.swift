import FoundationEssentials
import VigilConfig
import VigilCore
import VigilIngest
import VigilStore

/// Parsing of the time, step and aggregation parameters shared by the HTTP query API and
/// `vigil query` / `vigil export`.
public enum QueryParameters {
    /// Unix seconds (`1700000000`, `1700000000.5`), RFC 3339 (`2026-11-25T10:00:00Z`), `now`, or
    /// relative to now (`-1h`, `now-30m`, `+5m`). Returns epoch milliseconds within years 1-9999;
    /// anything else is nil (a 400), never an overflow.
    public static func parseTime(_ text: String, nowMs: Int64) -> Int64? {
        let raw = text.trimmingSpaces()
        if raw == "now" { return nowMs }
        for (prefix, sign) in [("now-", -1), ("now+", 1), ("-", -1), ("+", 1)] as [(String, Int64)] where raw.hasPrefix(prefix) {
            // Durations are at most ConfigValues.maxDuration, so this cannot overflow.
            guard let amount = ConfigValues.parseDuration(String(raw.dropFirst(prefix.count))) else { break }
            return TimeBounds.checked(nowMs + sign * amount.milliseconds)
        }
        if let seconds = Double(raw) { return TimeBounds.checked(Checked.int64(seconds, times: 1000)) }
        return PayloadTimestamp.rfc3339(raw)
    }

    /// The largest step a query takes (a year): wider steps answer nothing useful.
    public static let maxStepMs: Int64 = 366 * 86_400_000

    /// A duration (`15s`, `1m`, `1h30m`) or float seconds (`60`, `0.5`), in milliseconds, from 1 ms
    /// to a year; anything else is nil.
    public static func parseStep(_ text: String) -> Int64? {
        let ms = Double(text).flatMap { Checked.int64($0, times: 1000) } ?? ConfigValues.parseDuration(text)?.milliseconds
        guard let ms, ms >= 1, ms <= maxStepMs else { return nil }
        return ms
    }

    /// A step that gives about `points` points over [start, end], rounded to a readable unit.
    public static func defaultStep(start: Int64, end: Int64, points: Int64 = 250) -> Int64 {
        let raw = max(1000, (end - start) / points)
        let nice: [Int64] = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400].map { $0 * 1000 }
        return nice.first { $0 >= raw } ?? raw
    }

    public static func parseAggregation(_ text: String) -> RangeQuery.Aggregation? {
        RangeQuery.Aggregation(rawValue: text.lowercased())
    }

    /// `site,device` → ["site", "device"]; empty text → [] (everything in one group).
    public static func parseGroupBy(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    }
}

