#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-25T10:04:45.000Z`): log lines, alert
/// notifications, the alert API.
public enum RFC3339 {
    public static func format(_ ms: Int64) -> String {
        // Floor division without `ms - 999`, which overflows at Int64.min.
        var wholeSeconds = ms / 1000
        var milliseconds = ms % 1000
        if milliseconds < 0 {
            wholeSeconds -= 1
            milliseconds += 1000
        }
        var seconds = time_t(wholeSeconds)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "\(ms)ms" }  // beyond gmtime's years
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        // RFC 3339 has years 0000-9999; outside them, ISO 8601's expanded form (±YYYYYY) instead of
        // a wrong year.
        let year = Int64(parts.tm_year) + 1900
        let yearText = (0...9999).contains(year) ? pad(year, 4) : (year < 0 ? "-" : "+") + pad(abs(year), 6)
        return "\(yearText)-\(pad(Int64(parts.tm_mon) + 1, 2))-\(pad(Int64(parts.tm_mday), 2))T"
            + "\(pad(Int64(parts.tm_hour), 2)):\(pad(Int64(parts.tm_min), 2)):\(pad(Int64(parts.tm_sec), 2))."
            + "\(pad(milliseconds, 3))Z"
    }
}
