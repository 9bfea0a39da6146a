/// Identity of one time series: a metric name plus its label set.
/// Two readings belong to the same series exactly when their keys are equal.
public struct SeriesKey: Sendable, Hashable, CustomStringConvertible {
    public let metric: String
    public let labels: Labels
    /// The hash of metric and labels, computed once: a reading's key is looked up in several
    /// tables on its way (topic cache, store, alerts, live), and hashing every label string each
    /// time was the largest single item of ingest CPU (perf, 10 000 series at 1 Hz).
    private let hashCode: Int

    public init(metric: String, labels: Labels = .empty) {
        self.metric = metric
        self.labels = labels
        var hasher = Hasher()
        hasher.combine(metric)
        hasher.combine(labels)
        hashCode = hasher.finalize()
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }

    /// What `Dictionary` and `Set` use: the stored hash mixed with the table's seed by a
    /// multiply-xorshift, instead of a SipHash round over one integer (seeding and finalizing
    /// `Hasher` was 3 % of ingest CPU: a reading's key is looked up in four tables). `hashCode`
    /// itself came from a per-process seeded `Hasher`, so keys an attacker chooses still spread.
    /// (`_rawHashValue` is an underscored requirement of `Hashable` that the standard library's
    /// integer types implement the same way; it changes hash values only, never equality.)
    public func _rawHashValue(seed: Int) -> Int {
        var x = UInt64(bitPattern: Int64(hashCode ^ seed))
        x = (x ^ (x >> 31)) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(bitPattern: UInt(x))
    }

    /// The hash computed once at creation (seeded per process, like every Swift hash), for tables
    /// that mix it with more fields themselves.
    public var precomputedHash: Int { hashCode }

    public static func == (a: SeriesKey, b: SeriesKey) -> Bool {
        a.hashCode == b.hashCode && a.metric == b.metric && a.labels == b.labels
    }

    /// Selector form, as the query API and the CLI print it: `temperature{device="boiler-1",site="a"}`.
    public var description: String { metric + labels.description }

    /// The labels with the metric name as `__name__`, as Prometheus shows a series.
    public var labelsWithName: Labels { Labels([("__name__", metric)]).merging(labels) }
}
