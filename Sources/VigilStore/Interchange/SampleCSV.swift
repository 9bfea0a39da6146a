import VigilCore

/// The CSV that `vigil export` writes and `vigil import --format csv` reads:
///
///     series,timestamp_ms,value
///     "temperature{device=""boiler-1"",site=""a""}",1700000000000,21.3
///
/// `series` is in selector form (equality matchers only), quoted as CSV requires when it holds a
/// comma or a quote. Values are written as the shortest decimal that reads back to the same
/// float64, so export → import is bit-exact.
public enum SampleCSV {
    public static let header = "series,timestamp_ms,value"

    public struct LineError: Error, Equatable, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static func line(_ series: SeriesKey, _ timestampMs: Int64, _ value: Double) -> String {
        field(series.description) + "," + String(timestampMs) + "," + "\(value)"
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacing("\"", with: "\"\"") + "\""
    }

    /// Parses series text once per distinct series; a large import has few series and many lines.
    public struct Reader {
        private var keys: [Substring: SeriesKey] = [:]

        public init() {}

        /// One line → a reading; nil for the header, blank lines and `#` comments.
        public mutating func parse(_ line: Substring) throws(LineError) -> Reading? {
            var text = line
            while let last = text.last, last == "\r" || last == "\n" { text = text.dropLast() }
            guard !text.isEmpty, text.first != "#", text != Substring(SampleCSV.header) else { return nil }
            // The value and the timestamp never hold a comma: split from the right.
            guard let lastComma = text.lastIndex(of: ",") else { throw LineError(message: "expected series,timestamp_ms,value") }
            let head = text[..<lastComma]
            guard let middleComma = head.lastIndex(of: ",") else { throw LineError(message: "expected series,timestamp_ms,value") }
            let valueText = text[text.index(after: lastComma)...]
            let timeText = head[head.index(after: middleComma)...]
            let seriesText = head[..<middleComma]
            guard let timestamp = Int64(timeText) else { throw LineError(message: "timestamp_ms '\(timeText)' is not an integer") }
            guard let value = Double(valueText) else { throw LineError(message: "value '\(valueText)' is not a number") }
            guard value.isFinite else { throw LineError(message: "value '\(valueText)' is not finite") }
            return Reading(series: try key(seriesText), timestampMs: timestamp, value: value)
        }

        private mutating func key(_ raw: Substring) throws(LineError) -> SeriesKey {
            if let key = keys[raw] { return key }
            var text = String(raw)
            if text.hasPrefix("\"") {
                guard text.count >= 2, text.hasSuffix("\"") else { throw LineError(message: "unterminated quoted series") }
                text = String(text.dropFirst().dropLast()).replacing("\"\"", with: "\"")
            }
            let selector: SeriesSelector
            do { selector = try SeriesSelector.parse(text) } catch { throw LineError(message: "series: \(error)") }
            var metric: String?
            var labels: [(String, String)] = []
            for matcher in selector.matchers {
                guard matcher.op == .equal else { throw LineError(message: "series: only '=' matchers name a series") }
                if matcher.name == "__name__" { metric = matcher.value } else { labels.append((matcher.name, matcher.value)) }
            }
            guard let metric, NameRules.isValidMetricName(metric) else { throw LineError(message: "series '\(text)' has no valid metric name") }
            let key = SeriesKey(metric: metric, labels: Labels(labels))
            if keys.count < 1_000_000 { keys[raw] = key }
            return key
        }
    }
}
