import FoundationEssentials

/// NMEA 0183 sentences (GPS receivers, weather stations, depth sounders): the checksum is checked
/// (XOR of the characters between `$` and `*`) and the common sentences become samples:
///
/// | sentence | samples |
/// |---|---|
/// | GGA | `latitude`, `longitude` (degrees, south and west negative), `fix_quality`, `satellites`, `hdop`, `altitude` (m) |
/// | RMC | `latitude`, `longitude`, `speed` (kn), `course` (°); only with status A (valid) |
/// | VTG | `course` (°), `speed` (km/h) |
/// | MWV | `wind_angle` (°), `wind_speed` (its unit: km/h, m/s or kn); only with status A |
/// | MTW | `water_temperature` (°C) |
/// | DPT | `depth` (m) |
/// | XDR | one sample per transducer, named after it (`AirTemp` → `airtemp`), with its unit |
///
/// Other sentence types are skipped without a reject: receivers send many a gateway does not need.
enum NMEASentence {
    static func decode(_ line: String) -> DecodedPayload {
        var text = Substring(line)
        guard let first = text.first, first == "$" || first == "!" else { return .reject(.invalidFrame) }
        text = text.dropFirst()
        if let star = text.lastIndex(of: "*") {
            let body = text[..<star]
            let given = text[text.index(after: star)...].prefix(2)
            let sum = body.utf8.reduce(UInt8(0)) { $0 ^ $1 }
            guard given.count == 2, let expected = UInt8(given, radix: 16), expected == sum else { return .reject(.checksumMismatch) }
            text = body
        }
        let fields = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let head = fields.first, head.count >= 5 else { return .reject(.invalidFrame) }
        let talker = String(head.prefix(head.count - 3))
        let type = String(head.suffix(3))
        var out = DecodedPayload()
        func add(_ name: String, _ value: Double?, _ unit: String? = nil) {
            guard let value else { return }
            var sample = PayloadSample(name: name, value: value, unit: unit)
            if !talker.isEmpty { sample.labels = [.init("talker", talker)] }
            out.samples.append(sample)
        }
        func field(_ i: Int) -> String { i < fields.count ? fields[i] : "" }
        switch type {
        case "GGA":
            add("latitude", coordinate(field(2), field(3)), "°")
            add("longitude", coordinate(field(4), field(5)), "°")
            add("fix_quality", Double(field(6)))
            add("satellites", Double(field(7)))
            add("hdop", Double(field(8)))
            add("altitude", Double(field(9)), "m")
        case "RMC":
            guard field(2) == "A" else { return out }
            add("latitude", coordinate(field(3), field(4)), "°")
            add("longitude", coordinate(field(5), field(6)), "°")
            add("speed", Double(field(7)), "kn")
            add("course", Double(field(8)), "°")
        case "VTG":
            add("course", Double(field(1)), "°")
            add("speed", Double(field(7)), "km/h")
        case "MWV":
            guard field(5).hasPrefix("A") else { return out }
            add("wind_angle", Double(field(1)), "°")
            let unit = ["K": "km/h", "M": "m/s", "N": "kn", "S": "mph"][field(4)]
            add("wind_speed", Double(field(3)), unit)
        case "MTW":
            add("water_temperature", Double(field(1)), "°C")
        case "DPT":
            add("depth", Double(field(1)), "m")
        case "XDR":
            var i = 1
            while i + 3 < fields.count || (i + 3 == fields.count && !field(i + 2).isEmpty) {
                let unit = xdrUnit(type: field(i), unit: field(i + 2))
                let name = field(i + 3).lowercased().filter { $0.isLetter || $0.isNumber || $0 == "_" }
                add(name.isEmpty ? "transducer_\((i - 1) / 4)" : name, Double(field(i + 1)), unit)
                i += 4
            }
        default:
            break
        }
        return out
    }

    /// `4807.038`,`N` → 48.1173; `01131.000`,`E` → 11.5167; south and west negative.
    static func coordinate(_ value: String, _ hemisphere: String) -> Double? {
        guard let raw = Double(value), let dot = value.firstIndex(of: "."), value.distance(from: value.startIndex, to: dot) >= 3 else { return nil }
        let degrees = (raw / 100).rounded(.towardZero)
        let decimal = degrees + (raw - degrees * 100) / 60
        return hemisphere == "S" || hemisphere == "W" ? -decimal : decimal
    }

    static func xdrUnit(type: String, unit: String) -> String? {
        switch (type, unit) {
        case ("C", "C"): "°C"
        case ("P", "B"): "bar"
        case ("P", "P"): "Pa"
        case ("H", "P"): "%"
        case ("A", "D"): "°"
        case ("U", "V"): "V"
        case ("I", "A"): "A"
        default: nil
        }
    }
}
