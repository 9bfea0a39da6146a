/// JSON written as text, for the answers and messages built by hand on hot paths (query results,
/// live updates, log lines), where going through Codable would cost several times more.
/// The one place that knows how JSON strings are escaped.
public enum JSONText {
    /// The contents of a JSON string (without the quotes): `"`, `\` and control characters escaped.
    public static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// A quoted JSON string.
    public static func string(_ text: String) -> String { "\"" + escape(text) + "\"" }

    /// A value as a JSON number, or null when it is not finite (JSON has no NaN or infinity).
    public static func number(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

    /// Labels as a JSON object of strings, in their (sorted) order.
    public static func labels(_ labels: Labels) -> String {
        "{" + labels.map { string($0.name) + ":" + string($0.value) }.joined(separator: ",") + "}"
    }
}
