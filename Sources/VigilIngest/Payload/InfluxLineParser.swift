import VigilCore

/// InfluxDB line protocol (`measurement,tag=v field=1.5,other=2i 1700000000000000000`) into
/// readings: one per numeric field, named `measurement_field` (just `measurement` for a field
/// called `value`), with the tags as labels. Used by `vigil import` and by MQTT payloads.
///
/// Integers (`12i`, `12u`), floats and booleans (`t`, `true`, `F`, …) become values; string
/// fields are skipped. Names are made Prometheus-valid the same way topic levels are.
public enum InfluxLineParser {
    public enum Precision: String, Sendable, CaseIterable {
        case ns, us, ms, s
        var divisorToMs: Int64 {
            switch self { case .ns: 1_000_000; case .us: 1000; case .ms: 1; case .s: 1 }
        }
    }

    public struct LineError: Error, Equatable, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// Parses one line. Blank lines and `#` comments give no readings. `defaultTimeMs` is used when
    /// the line has no timestamp.
    public static func parse(_ line: Substring, precision: Precision = .ns, defaultTimeMs: Int64) throws(LineError) -> [Reading] {
        var cursor = Cursor(Array(line.utf8))
        cursor.skipSpaces()
        guard !cursor.atEnd, cursor.peek != UInt8(ascii: "#") else { return [] }

        let measurement = cursor.token(stopAt: [UInt8(ascii: ","), UInt8(ascii: " ")])
        guard !measurement.isEmpty else { throw LineError("missing measurement name") }
        var labels: [(String, String)] = []
        while cursor.peek == UInt8(ascii: ",") {
            cursor.advance()
            let key = cursor.token(stopAt: [UInt8(ascii: "=")])
            guard cursor.peek == UInt8(ascii: "=") else { throw LineError("tag '\(key)' has no '='") }
            cursor.advance()
            let value = cursor.token(stopAt: [UInt8(ascii: ","), UInt8(ascii: " ")])
            guard !key.isEmpty, !value.isEmpty else { throw LineError("empty tag key or value") }
            guard let name = NameRules.sanitizeLabelName(key) else { throw LineError("tag key '\(key)' cannot be a label name") }
            labels.append((name, value))
        }
        guard cursor.peek == UInt8(ascii: " ") else { throw LineError("missing fields after the measurement and tags") }
        cursor.skipSpaces()

        var fields: [(String, Double)] = []
        var sawField = false
        repeat {
            if sawField { cursor.advance() }  // the ','
            sawField = true
            let key = cursor.token(stopAt: [UInt8(ascii: "=")])
            guard cursor.peek == UInt8(ascii: "="), !key.isEmpty else { throw LineError("field '\(key)' has no '='") }
            cursor.advance()
            if cursor.peek == UInt8(ascii: "\"") {
                try cursor.skipQuotedString()
                continue
            }
            let raw = cursor.token(stopAt: [UInt8(ascii: ","), UInt8(ascii: " ")], escapes: false)
            guard let value = fieldValue(raw) else { throw LineError("field '\(key)': '\(raw)' is not a number or boolean") }
            fields.append((key, value))
        } while cursor.peek == UInt8(ascii: ",")

        var timestampMs = defaultTimeMs
        cursor.skipSpaces()
        if !cursor.atEnd {
            let raw = cursor.token(stopAt: [UInt8(ascii: " ")], escapes: false)
            guard let t = Int64(raw) else { throw LineError("timestamp '\(raw)' is not an integer") }
            guard let ms = TimeBounds.checked(precision == .s ? Checked.multiply(t, 1000) : t / precision.divisorToMs) else {
                throw LineError("timestamp '\(raw)' is outside the years 1-9999")
            }
            timestampMs = ms
            cursor.skipSpaces()
            guard cursor.atEnd else { throw LineError("unexpected text after the timestamp") }
        }
        guard !fields.isEmpty else { throw LineError("no numeric field") }

        let labelSet = Labels(labels)
        var readings: [Reading] = []
        for (key, value) in fields {
            let raw = key == "value" ? measurement : measurement + "_" + key
            guard let metric = NameRules.sanitizeMetricName(raw) else { throw LineError("'\(raw)' cannot be a metric name") }
            readings.append(Reading(metric: metric, labels: labelSet, timestampMs: timestampMs, value: value))
        }
        return readings
    }

    static func fieldValue(_ raw: String) -> Double? {
        switch raw {
        case "t", "T", "true", "True", "TRUE": return 1
        case "f", "F", "false", "False", "FALSE": return 0
        default: break
        }
        if raw.hasSuffix("i") || raw.hasSuffix("u") { return Int64(raw.dropLast()).map(Double.init) }
        guard let value = Double(raw), value.isFinite else { return nil }
        return value
    }

    /// A byte cursor that understands the protocol's backslash escapes.
    struct Cursor {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) {
            var end = bytes.count
            while end > 0, bytes[end - 1] == UInt8(ascii: "\r") || bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
            self.bytes = Array(bytes[..<end])
        }
        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }
        mutating func advance() { index += 1 }
        mutating func skipSpaces() { while peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") { index += 1 } }

        /// Bytes up to the next unescaped stop byte or space.
        mutating func token(stopAt stops: [UInt8], escapes: Bool = true) -> String {
            var out: [UInt8] = []
            while let byte = peek, !stops.contains(byte), byte != UInt8(ascii: " ") {
                if escapes, byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                    out.append(bytes[index + 1])
                    index += 2
                    continue
                }
                out.append(byte)
                index += 1
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func skipQuotedString() throws(LineError) {
            index += 1
            while let byte = peek {
                index += 1
                if byte == UInt8(ascii: "\\") { index += 1; continue }
                if byte == UInt8(ascii: "\"") { return }
            }
            throw LineError("unterminated string field")
        }
    }
}
