import VigilCore
import VigilStore

/// One alert rule from the config (or a built-in self-alert).
public struct AlertRule: Sendable {
    public var name: String
    /// Which series the rule watches; one alert instance per matching series.
    public var selector: SeriesSelector
    public var condition: AlertCondition
    /// How long the condition must hold before pending becomes firing.
    public var pendingFor: Duration
    /// How long a firing alert stays firing after its condition stopped holding.
    public var keepFiringFor: Duration
    public var severity: String
    /// Extra labels on every instance (besides the series labels, `alertname` and `severity`).
    public var labels: Labels
    public var annotations: [(name: String, template: AnnotationTemplate)]
    /// Where the rule was written (`file:line:column`), for messages; nil for built-ins.
    public var origin: String?
    public var builtIn: Bool

    public init(name: String, selector: SeriesSelector, condition: AlertCondition, pendingFor: Duration = .zero,
                keepFiringFor: Duration = .zero, severity: String = "warning", labels: Labels = .empty,
                annotations: [(name: String, template: AnnotationTemplate)] = [], origin: String? = nil, builtIn: Bool = false) {
        self.name = name
        self.selector = selector
        self.condition = condition
        self.pendingFor = pendingFor
        self.keepFiringFor = keepFiringFor
        self.severity = severity
        self.labels = labels
        self.annotations = annotations
        self.origin = origin
        self.builtIn = builtIn
    }

    /// The labels an instance carries: the series labels, `__name__` as `metric`, the rule's labels,
    /// then `alertname` and `severity` (which always win).
    public func instanceLabels(for series: SeriesKey) -> Labels {
        var labels = series.labels
        labels["metric"] = series.metric
        labels = labels.merging(self.labels)
        labels["alertname"] = name
        labels["severity"] = severity
        return labels
    }
}
