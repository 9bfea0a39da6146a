import FoundationEssentials
import VigilCore

/// How one serial frame becomes samples. The payload formats MQTT uses (a plain value, JSON lines,
/// Influx lines) plus the ones serial devices speak: CSV with a column map, key=value pairs, a
/// regular expression with named captures, and NMEA 0183 sentences.
public enum LineFormat: Sendable {
    case payload(PayloadFormat)
    case csv(separator: Character, columns: [String?])
    case keyValue(separator: Character, rename: [String: String])
    case regex(NamedCaptureRegex)
    case nmea

    public var name: String {
        switch self {
        case .payload(let format): format.name
        case .csv: "csv"
        case .keyValue: "kv"
        case .regex: "regex"
        case .nmea: "nmea"
        }
    }

    public func decode(_ frame: [UInt8], receivedMs: Int64) -> DecodedPayload {
        if case .payload(let format) = self { return format.decode(frame, receivedMs: receivedMs) }
        guard let text = String(validating: frame, as: UTF8.self) else { return .reject(.invalidUTF8) }
        switch self {
        case .payload: return DecodedPayload()
        case .csv(let separator, let columns): return Self.csv(text, separator: separator, columns: columns)
        case .keyValue(let separator, let rename): return Self.keyValue(text, separator: separator, rename: rename)
        case .regex(let regex): return Self.regex(text, regex)
        case .nmea: return NMEASentence.decode(text)
        }
    }

    static func csv(_ text: String, separator: Character, columns: [String?]) -> DecodedPayload {
        let fields = text.split(separator: separator, omittingEmptySubsequences: false)
        guard let lastNeeded = columns.lastIndex(where: { $0 != nil }), fields.count > lastNeeded else { return .reject(.columnCount) }
        var out = DecodedPayload()
        for (index, name) in columns.enumerated() {
            guard let name else { continue }
            if let value = number(fields[index]) { out.samples.append(PayloadSample(name: name, value: value)) } else { out.rejects.append(.notANumber) }
        }
        return out
    }

    static func keyValue(_ text: String, separator: Character, rename: [String: String]) -> DecodedPayload {
        var out = DecodedPayload()
        for pair in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == ";" }) {
            guard let split = pair.firstIndex(of: separator) else { out.rejects.append(.invalidFrame); continue }
            let key = String(pair[..<split])
            guard let value = number(pair[pair.index(after: split)...]) else { out.rejects.append(.notANumber); continue }
            out.samples.append(PayloadSample(name: rename[key] ?? key, value: value))
        }
        if out.samples.isEmpty, out.rejects.isEmpty { out.rejects.append(.invalidFrame) }
        return out
    }

    static func regex(_ text: String, _ regex: NamedCaptureRegex) -> DecodedPayload {
        guard let captures = regex.captures(in: text) else { return .reject(.noPatternMatch) }
        var out = DecodedPayload()
        for (name, value) in captures {
            if let number = number(Substring(value)) { out.samples.append(PayloadSample(name: name, value: number)) } else { out.rejects.append(.notANumber) }
        }
        return out
    }

    /// A number, or a state word (on/off, open/closed, true/false), with surrounding blanks and quotes removed.
    static func number(_ field: Substring) -> Double? {
        var text = field.trimmingSpaces()
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
        guard !text.isEmpty else { return nil }
        if case .success(let value) = PlainValueParser.parse(Array(text.utf8)) { return value }
        return nil
    }
}

/// A regular expression whose named captures are metric names: `T=(?<temperature>[-0-9.]+)`.
public struct NamedCaptureRegex: @unchecked Sendable {
    // @unchecked: a Regex is immutable once built; Regex<AnyRegexOutput> is not marked Sendable.
    let regex: Regex<AnyRegexOutput>
    public let pattern: String
    public let names: [String]

    public init(_ pattern: String) throws {
        regex = try Regex(pattern)
        self.pattern = pattern
        names = Self.groupNames(pattern)
    }

    /// The named groups of a pattern, `(?<name>…)` (and `(?P<name>…)`), not the lookbehinds
    /// `(?<=` and `(?<!`. Read from the text: Swift's Regex names them only on a match.
    static func groupNames(_ pattern: String) -> [String] {
        var names: [String] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            if chars[i] == "\\" { i += 2; continue }
            if chars[i] == "(", i + 2 < chars.count, chars[i + 1] == "?" {
                var j = i + 2
                if chars[j] == "P" { j += 1 }
                if j < chars.count, chars[j] == "<", j + 1 < chars.count, chars[j + 1] != "=", chars[j + 1] != "!" {
                    var name = ""
                    j += 1
                    while j < chars.count, chars[j] != ">" { name.append(chars[j]); j += 1 }
                    names.append(name)
                }
            }
            i += 1
        }
        return names
    }

    /// Name → captured text for the first match, or nil when the line does not match.
    func captures(in text: String) -> [(String, String)]? {
        guard let match = try? regex.firstMatch(in: text) else { return nil }
        var out: [(String, String)] = []
        for element in match.output {
            if let name = element.name, let substring = element.substring { out.append((name, String(substring))) }
        }
        return out
    }
}
