/// Sparkplug B datatypes (Sparkplug 3.0, 6.4.16) and how a metric's value becomes a reading's
/// number: integers, floats and booleans do; strings, dates, bytes, data sets, templates and
/// arrays do not.
enum SparkplugDataType: UInt32, Sendable {
    case unknown = 0
    case int8 = 1, int16 = 2, int32 = 3, int64 = 4
    case uint8 = 5, uint16 = 6, uint32 = 7, uint64 = 8
    case float = 9, double = 10, boolean = 11
    case string = 12, dateTime = 13, text = 14, uuid = 15, dataSet = 16, bytes = 17, file = 18, template = 19
    case propertySet = 20, propertySetList = 21
    // 22...34 are arrays; they have no case here and are not numbers.

    var isNumeric: Bool { rawValue >= 1 && rawValue <= 11 }
}

typealias SparkplugMetric = Org_Eclipse_Tahu_Protobuf_Payload.Metric

enum SparkplugValue {
    /// The metric's value as a number, reading it as `datatype` says (the metric's own datatype,
    /// else its birth's). Signed integers of 8, 16 and 32 bits travel in a uint32: only their own
    /// width counts, so both sign-extended and zero-extended encodings (publishers differ) read
    /// right. `nil` datatype: go by the value's field alone.
    static func number(_ metric: SparkplugMetric, datatype raw: UInt32?) -> Result<Double, PayloadReject> {
        if metric.isNull { return .failure(.nullValue) }
        let type = raw.flatMap(SparkplugDataType.init(rawValue:))
        if let raw, raw != 0, type?.isNumeric != true { return .failure(.unsupportedType) }
        guard let value = metric.value else { return .failure(.nullValue) }
        let number: Double
        switch value {
        case .intValue(let bits):
            switch type {
            case .int8: number = Double(Int8(truncatingIfNeeded: bits))
            case .int16: number = Double(Int16(truncatingIfNeeded: bits))
            case .int32: number = Double(Int32(bitPattern: bits))
            case .uint8: number = Double(UInt8(truncatingIfNeeded: bits))
            case .uint16: number = Double(UInt16(truncatingIfNeeded: bits))
            default: number = Double(bits)
            }
        case .longValue(let bits):
            number = type == .int64 ? Double(Int64(bitPattern: bits)) : Double(bits)
        case .floatValue(let float): number = decimal(float)
        case .doubleValue(let double): number = double
        case .booleanValue(let bool): number = bool ? 1 : 0
        case .stringValue, .bytesValue: return .failure(.unsupportedType)
        }
        return number.isFinite ? .success(number) : .failure(.nonFinite)
    }

    /// A Float (32 bits) as the decimal it stands for: a PLC's 21.37 arrives as the float nearest
    /// to it, which widened to a Double reads 21.3700008392334. The shortest decimal that rounds
    /// back to the same float is what the device meant; it also keeps the store's decimal
    /// compression working (widened floats defeat it, and cost it most of its time in bench/mqtt).
    static func decimal(_ float: Float) -> Double {
        let wide = Double(float)
        guard float.isFinite, wide != wide.rounded() else { return wide }
        var scale = 1.0
        for _ in 0...9 {
            let candidate = (wide * scale).rounded() / scale
            if Float(candidate) == float { return candidate }
            scale *= 10
        }
        return wide
    }

    /// The engineering unit a metric's properties name (`engUnit`, as Ignition and Tahu write it).
    static func unit(_ metric: SparkplugMetric) -> String? {
        guard metric.hasProperties else { return nil }
        let properties = metric.properties
        for (index, key) in properties.keys.enumerated() where index < properties.values.count {
            guard key.lowercased() == "engunit", case .stringValue(let unit)? = properties.values[index].value,
                  !unit.isEmpty else { continue }
            return unit
        }
        return nil
    }

    /// The session number in an NBIRTH or NDEATH (`bdSeq`), whichever integer field carries it.
    static func sessionNumber(_ metrics: [SparkplugMetric]) -> UInt64? {
        guard let metric = metrics.first(where: { $0.name == "bdSeq" }) else { return nil }
        switch metric.value {
        case .longValue(let value)?: return value
        case .intValue(let value)?: return UInt64(value)
        default: return nil
        }
    }
}
