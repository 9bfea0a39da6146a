/// Prometheus-compatible naming: what a metric or label name may contain, and how an arbitrary
/// string (a topic level, a JSON field) is turned into one.
///
/// - metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`
/// - label names: `[a-zA-Z_][a-zA-Z0-9_]*`, and names starting with `__` are reserved.
public enum NameRules {
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isMetricStart(first) else { return false }
        return name.utf8.dropFirst().allSatisfy { isMetricStart($0) || isDigit($0) }
    }

    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLabelStart(first) else { return false }
        guard !name.hasPrefix("__") else { return false }
        return name.utf8.dropFirst().allSatisfy { isLabelStart($0) || isDigit($0) }
    }

    /// Makes `raw` a valid metric name: every disallowed byte becomes `_`, runs of `_` fold into
    /// one, trailing `_` is dropped, and a leading digit gets a `_` in front.
    /// Returns nil when nothing usable is left (an empty or all-punctuation input).
    public static func sanitizeMetricName(_ raw: String) -> String? {
        sanitize(raw, allowColon: true)
    }

    /// Like `sanitizeMetricName`, for label names (no `:`, and never a reserved `__` prefix).
    public static func sanitizeLabelName(_ raw: String) -> String? {
        guard var name = sanitize(raw, allowColon: false) else { return nil }
        while name.hasPrefix("__") { name.removeFirst() }
        return name.isEmpty || name == "_" ? nil : name
    }

    private static func sanitize(_ raw: String, allowColon: Bool) -> String? {
        if allowColon ? isValidMetricName(raw) : isValidLabelName(raw) { return raw }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.utf8.count + 1)
        for byte in raw.utf8 {
            let ok = isLabelStart(byte) || isDigit(byte) || (allowColon && byte == UInt8(ascii: ":"))
            let out = ok ? byte : UInt8(ascii: "_")
            if out == UInt8(ascii: "_"), bytes.last == UInt8(ascii: "_") { continue }
            bytes.append(out)
        }
        while bytes.last == UInt8(ascii: "_") { bytes.removeLast() }
        while bytes.first == UInt8(ascii: "_"), bytes.count > 1, bytes[1] == UInt8(ascii: "_") { bytes.removeFirst() }
        guard !bytes.isEmpty else { return nil }
        if isDigit(bytes[0]) { bytes.insert(UInt8(ascii: "_"), at: 0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isLabelStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }
    private static func isMetricStart(_ b: UInt8) -> Bool { isLabelStart(b) || b == 0x3A }
}
