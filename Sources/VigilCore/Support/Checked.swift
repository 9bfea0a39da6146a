/// Numbers that come from outside (payloads, serial lines, registers, HTTP parameters, config,
/// imported files) become integers through these: out of range is nil, never a trap.
/// `scripts/check-conversions.sh` (run by `make test`) refuses bare float-to-integer conversions in
/// the code that parses such input.
public enum Checked {
    /// `value` rounded to the nearest integer; nil when it is not finite or does not fit Int64.
    public static func int64(_ value: Double) -> Int64? {
        guard value.isFinite else { return nil }
        let rounded = value.rounded()
        // 2^63 is exactly representable; every double below it (and ≥ −2^63) converts.
        guard rounded >= -9.223_372_036_854_775_808e18, rounded < 9.223_372_036_854_775_808e18 else { return nil }
        return Int64(rounded)
    }

    /// `value × factor` rounded; nil when the product is not finite or does not fit Int64.
    public static func int64(_ value: Double, times factor: Double) -> Int64? { int64(value * factor) }

    /// `a + b`, nil on overflow.
    public static func add(_ a: Int64, _ b: Int64) -> Int64? {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }

    /// `a × b`, nil on overflow.
    public static func multiply(_ a: Int64, _ b: Int64) -> Int64? {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : product
    }
}

/// The timestamps Vigil can hold at all: years 1 to 9999 in Unix milliseconds, the range RFC 3339
/// can write. Parsers refuse times outside it (`invalid_timestamp`), so arithmetic on any stored
/// or queried time has ample room before Int64 overflows. The normalizer's window
/// (`normalize.max_age`, `max_clock_skew`) is much narrower for live readings.
public enum TimeBounds {
    /// 0001-01-01T00:00:00Z.
    public static let minMs: Int64 = -62_135_596_800_000
    /// 9999-12-31T23:59:59.999Z.
    public static let maxMs: Int64 = 253_402_300_799_999

    public static func contains(_ ms: Int64) -> Bool { ms >= minMs && ms <= maxMs }

    /// `ms` when it is in range, else nil.
    public static func checked(_ ms: Int64?) -> Int64? { ms.flatMap { contains($0) ? $0 : nil } }
}

extension Double {
    /// `21` for a whole number below 10^15, else Swift's shortest form (`21.5`, `1e+20`, `inf`):
    /// label values and messages made from numbers.
    public var plainText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : "\(self)"
    }
}
