/// One normalized sample: what every source produces and every consumer (store, live hub,
/// alerts) receives. Values are float64; timestamps are Unix epoch milliseconds.
public struct Reading: Sendable, Hashable {
    public let series: SeriesKey
    public let timestampMs: Int64
    public let value: Double
    /// Unit after normalization (for example `°C`, `W`, `kWh`), or nil when unknown.
    public let unit: String?

    public init(series: SeriesKey, timestampMs: Int64, value: Double, unit: String? = nil) {
        self.series = series
        self.timestampMs = timestampMs
        self.value = value
        self.unit = unit
    }

    public init(metric: String, labels: Labels = .empty, timestampMs: Int64, value: Double, unit: String? = nil) {
        self.init(series: SeriesKey(metric: metric, labels: labels), timestampMs: timestampMs, value: value, unit: unit)
    }

    public var metric: String { series.metric }
    public var labels: Labels { series.labels }
}
