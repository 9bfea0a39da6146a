import FoundationEssentials
import VigilCore

/// An annotation with placeholders, Prometheus-style: `{{ $labels.device }} is at {{ $value }} {{ $unit }}`.
///
/// Only variables, no functions: `$labels.<name>`, `$value`, `$unit`, `$rule`, `$severity`. The
/// template is parsed when the config loads, so a typo is a config error with its place, not a
/// surprise in a notification.
public struct AnnotationTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text(String)
        case label(String)
        case value, unit, rule, severity
    }

    let parts: [Part]
    public let source: String

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ source: String) throws(ParseError) {
        self.source = source
        var parts: [Part] = []
        var rest = Substring(source)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw ParseError(description: "unclosed '{{' in \"\(source)\"")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            switch name {
            case "$value": parts.append(.value)
            case "$unit": parts.append(.unit)
            case "$rule", "$labels.alertname": parts.append(.rule)
            case "$severity": parts.append(.severity)
            default:
                guard name.hasPrefix("$labels."), name.count > 8 else {
                    throw ParseError(description: "unknown template variable '\(name)' in \"\(source)\" "
                                     + "(known: $labels.<name>, $value, $unit, $rule, $severity)")
                }
                parts.append(.label(String(name.dropFirst(8))))
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    /// The text for one alert instance; a missing label renders as the empty string.
    public func render(labels: Labels, value: Double?, unit: String?, rule: String, severity: String) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .label(let name): out += labels[name] ?? ""
            case .value: out += value.map(Self.formatValue) ?? "n/a"
            case .unit: out += unit ?? ""
            case .rule: out += rule
            case .severity: out += severity
            }
        }
        return out
    }

    /// Short, stable number text: at most 4 decimals, no trailing zeros.
    public static func formatValue(_ value: Double) -> String {
        // Large values (every double from 2^53 up is whole) keep Swift's form: 1e+20, never a
        // conversion to Int64 that would trap.
        guard value.isFinite, abs(value) < 1e15 else { return "\(value)" }
        if value == value.rounded() { return value.plainText }
        var text = String(format4(value))
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    private static func format4(_ value: Double) -> String {
        let scaled = (value * 10_000).rounded() / 10_000
        let sign = scaled < 0 ? "-" : ""
        let magnitude = abs(scaled)
        let whole = Int64(magnitude)
        let fraction = Int64(((magnitude - Double(whole)) * 10_000).rounded())  // checked: 0...10_000 (formatValue passes |value| < 1e15)
        let padded = String(fraction).count < 4 ? String(repeating: "0", count: 4 - String(fraction).count) + String(fraction) : String(fraction)
        return "\(sign)\(whole).\(padded)"
    }
}
