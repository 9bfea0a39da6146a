/// Identity of one time series: a metric name plus its label set.
/// Two readings belong to the same series exactly when their keys are equal.
public struct SeriesKey: Sendable, Hashable, CustomStringConvertible {
    public let metric: String
    public let labels: Labels

    public init(metric: String, labels: Labels = .empty) {
        self.metric = metric
        self.labels = labels
    }

    /// Selector form, as the query API and the CLI print it: `temperature{device="boiler-1",site="a"}`.
    public var description: String { metric + labels.description }

    /// The labels with the metric name as `__name__`, as Prometheus shows a series.
    public var labelsWithName: Labels { Labels([("__name__", metric)]).merging(labels) }
}
