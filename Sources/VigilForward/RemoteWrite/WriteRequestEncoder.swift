import VigilCore

/// Prometheus remote write 1.0's `WriteRequest` protobuf, written by hand (three small messages do
/// not need a code generator):
///
///     WriteRequest { repeated TimeSeries timeseries = 1; }
///     TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
///     Label        { string name = 1; string value = 2; }
///     Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: Unix ms
///
/// Labels go sorted by name, `__name__` included, as the spec requires.
public struct WriteRequestEncoder {
    public private(set) var bytes: [UInt8] = []
    public private(set) var samples = 0
    private var series: [UInt8] = []

    public init() {}

    /// Adds one series with its samples; `extra` labels (external labels) do not replace the series' own.
    public mutating func add(_ key: SeriesKey, timestamps: ArraySlice<Int64>, values: ArraySlice<Double>, extra: Labels) {
        series.removeAll(keepingCapacity: true)
        var labels: [(String, String)] = [("__name__", key.metric)]
        for label in key.labels { labels.append((label.name, label.value)) }
        for label in extra where key.labels[label.name] == nil && label.name != "__name__" { labels.append((label.name, label.value)) }
        labels.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (name, value) in labels {
            let nameBytes = Array(name.utf8), valueBytes = Array(value.utf8)
            let length = 1 + Self.varintSize(UInt64(nameBytes.count)) + nameBytes.count
                + 1 + Self.varintSize(UInt64(valueBytes.count)) + valueBytes.count
            series.append(0x0A)
            Self.varint(UInt64(length), into: &series)
            series.append(0x0A)
            Self.varint(UInt64(nameBytes.count), into: &series)
            series += nameBytes
            series.append(0x12)
            Self.varint(UInt64(valueBytes.count), into: &series)
            series += valueBytes
        }
        for (t, v) in zip(timestamps, values) {
            let tsBits = UInt64(bitPattern: t)
            series.append(0x12)
            Self.varint(UInt64(1 + 8 + 1 + Self.varintSize(tsBits)), into: &series)
            series.append(0x09)
            withUnsafeBytes(of: v.bitPattern.littleEndian) { series += $0 }
            series.append(0x10)
            Self.varint(tsBits, into: &series)
        }
        bytes.append(0x0A)
        Self.varint(UInt64(series.count), into: &bytes)
        bytes += series
        samples += timestamps.count
    }

    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var v = value >> 7
        while v != 0 { size += 1; v >>= 7 }
        return size
    }
}
