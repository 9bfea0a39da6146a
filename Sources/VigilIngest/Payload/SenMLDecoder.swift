import VigilCore

/// Options of the `senml` payload format.
public struct SenMLOptions: Sendable {
    /// When the base name ends in `:` or `/` (`urn:dev:ow:10e2073a01:`), it becomes this label and
    /// the record name alone names the reading. Empty: names are concatenated as RFC 8428 says.
    public var baseNameLabel: String = "device"
    public init() {}
}

/// SenML JSON (RFC 8428): an array of records; base name, base time, base unit and base value
/// apply to the records after them. Times are seconds; a resolved time below 2^28 is relative to
/// now. Numeric (`v`) and boolean (`vb`) values become samples; string and data values (`vs`,
/// `vd`) and sums (`s`) are not numbers to store and are skipped.
enum SenMLDecoder {
    static func decode(_ payload: [UInt8], options: SenMLOptions, receivedMs: Int64) -> DecodedPayload {
        let document: JSONValue
        do {
            document = try JSONValue.parse(payload)
        } catch {
            return String(validating: payload, as: UTF8.self) == nil ? .reject(.invalidUTF8) : .reject(.invalidSenML)
        }
        guard case .array(let records) = document else { return .reject(.invalidSenML) }
        var out = DecodedPayload()
        var baseName = "", baseTime = 0.0, baseUnit: String?, baseValue = 0.0
        for record in records {
            guard case .object = record else {
                out.rejects.append(.invalidSenML)
                continue
            }
            if case .string(let bn)? = record["bn"] { baseName = bn }
            if case .number(let bt)? = record["bt"] { baseTime = bt }
            if case .string(let bu)? = record["bu"] { baseUnit = bu }
            if case .number(let bv)? = record["bv"] { baseValue = bv }
            let value: Double
            if case .number(let v)? = record["v"] {
                value = baseValue + v
            } else if case .bool(let vb)? = record["vb"] {
                value = vb ? 1 : 0
            } else if record["vs"] != nil || record["vd"] != nil || record["s"] != nil {
                continue
            } else if record["n"] != nil || record["t"] != nil {
                out.rejects.append(.invalidSenML)  // a record that names something but has no value
                continue
            } else {
                continue  // a record of base fields only
            }
            guard value.isFinite else {
                out.rejects.append(.nonFinite)
                continue
            }
            var name: String
            if case .string(let n)? = record["n"] { name = n } else { name = "" }
            var labels: [PayloadSample.Label] = []
            if !options.baseNameLabel.isEmpty, let last = baseName.last, last == ":" || last == "/", !name.isEmpty {
                labels.append(.init(options.baseNameLabel, String(baseName.dropLast())))
            } else {
                name = baseName + name
            }
            guard !name.isEmpty else {
                out.rejects.append(.invalidSenML)
                continue
            }
            var time = baseTime
            if case .number(let t)? = record["t"] { time += t }
            // RFC 8428 §4.5.3: values below 2^28 are relative to the current time; 0 means now.
            // A time that is not finite or lies outside years 1-9999 is refused, never converted.
            guard let ms = Checked.int64(time, times: 1000),
                  let timestampMs = TimeBounds.checked(abs(time) < 268_435_456 ? Checked.add(receivedMs, ms) : ms) else {
                out.rejects.append(.invalidTimestamp)
                continue
            }
            var unit = baseUnit
            if case .string(let u)? = record["u"] { unit = u }
            out.samples.append(PayloadSample(name: name, labels: labels, value: value, timestampMs: timestampMs, unit: unit))
        }
        return out
    }
}
