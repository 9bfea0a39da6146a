import VigilCore

/// Parsers for the value notations configs use: durations, byte sizes, booleans, host:port.
public enum ConfigValues {
    public static func parseBool(_ raw: String) -> Bool? {
        switch raw.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }

    /// The longest duration any setting or parameter takes (100 years): far beyond every real use,
    /// and small enough that `now + duration` can never overflow.
    public static let maxDuration: Duration = .seconds(100 * 366 * 86_400)

    /// `500ms`, `15s`, `5m`, `1h30m`, `30d`, `1w`; a bare `0` is zero. Units are required otherwise,
    /// so `retention: 30` cannot silently mean 30 seconds. Longer than `maxDuration`: nil.
    public static func parseDuration(_ raw: String) -> Duration? {
        let text = raw.trimmingWhitespace()
        if text == "0" { return .zero }
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let amount = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            guard !unit.isEmpty else { return nil }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "ms": seconds = 0.001
            case "s": seconds = 1
            case "m": seconds = 60
            case "h": seconds = 3600
            case "d": seconds = 86_400
            case "w": seconds = 604_800
            default: return nil
            }
            guard let ms = Checked.int64(amount, times: seconds * 1000), ms <= maxDuration.milliseconds else { return nil }
            total += .milliseconds(ms)
            guard total <= maxDuration else { return nil }
        }
        return total
    }

    /// `1024`, `64KiB`, `512MiB`, `10GB`, `1TiB` (KB/MB/GB/TB are powers of 1000; KiB… of 1024).
    public static func parseByteSize(_ raw: String) -> Int64? {
        let text = raw.trimmingWhitespace().replacingSpaces()
        let digits = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !digits.isEmpty, let amount = Double(digits), amount >= 0 else { return nil }
        let multiplier: Double
        switch text.dropFirst(digits.count) {
        case "", "B": multiplier = 1
        case "KB", "kB": multiplier = 1e3
        case "MB": multiplier = 1e6
        case "GB": multiplier = 1e9
        case "TB": multiplier = 1e12
        case "KiB": multiplier = 1024
        case "MiB": multiplier = 1_048_576
        case "GiB": multiplier = 1_073_741_824
        case "TiB": multiplier = 1_099_511_627_776
        default: return nil
        }
        return Checked.int64((amount * multiplier).rounded(.down))
    }

    /// `host:port`, `[v6]:port` or `:port` (all interfaces). Port 0 asks the system for a free one.
    public static func parseHostPort(_ raw: String) -> (host: String, port: Int)? {
        let text = raw.trimmingWhitespace()
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil  // a bare IPv6 address needs brackets
        }
        if host.isEmpty { host = "0.0.0.0" }
        return (host, port)
    }

    /// Seconds with up to millisecond precision, for messages and docs (`90s`, `1.5s`, `5m`).
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        if ms % 86_400_000 == 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice.removeFirst() }
        while slice.last?.isWhitespace == true { slice.removeLast() }
        return String(slice)
    }

    func replacingSpaces() -> String { filter { $0 != " " } }
}
