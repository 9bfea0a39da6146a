import VigilCore
import VigilStore

/// The rule state machine, without I/O and without a clock of its own: the caller passes `now`
/// (wall-clock milliseconds live; the readings' own timestamps in `vigil alerts test`), which is
/// what makes the semantics testable table by table.
///
/// On each reading the matching rules are evaluated for that series; `tick` advances what time
/// alone changes: stale series, `for`, `keep_firing_for`, and forgetting old resolved alerts.
public struct AlertEvaluator: Sendable {
    public private(set) var rules: [AlertRule]
    private var ruleIndex: [String: Int] = [:]
    public private(set) var instances: [AlertInstance.Key: AlertInstance] = [:]
    private var windows: [AlertInstance.Key: ChangeWindow] = [:]
    /// Which rules match a series, worked out once per series (selectors can hold regexes).
    private var matching: [SeriesKey: [Int]] = [:]
    /// Metric names some rule selects by equality (`temperature{…}`), and whether any rule
    /// selects otherwise (by a regex or no name). Most readings belong to no rule: with every
    /// rule naming its metric, their metric name tells it from a small table, where looking the
    /// whole series up in `matching` (10 000 series) cost three cache misses per reading, an
    /// eighth of ingest CPU.
    private var namedMetrics: Set<String> = []
    private var unnamedRules = false
    public var resolvedRetentionMs: Int64

    public init(rules: [AlertRule], resolvedRetention: Duration = .seconds(3600), restored: [AlertInstance] = []) {
        self.rules = []
        self.resolvedRetentionMs = resolvedRetention.milliseconds
        replaceRules(rules)
        for instance in restored where ruleIndex[instance.rule] != nil { instances[instance.key] = instance }
    }

    /// Swaps the rule set (hot reload). Instances of rules that still exist keep their state;
    /// instances of removed rules are returned so the caller can forget them.
    @discardableResult
    public mutating func replaceRules(_ newRules: [AlertRule]) -> [AlertInstance] {
        rules = newRules
        ruleIndex = Dictionary(newRules.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        matching.removeAll(keepingCapacity: true)
        namedMetrics = []
        unnamedRules = false
        for rule in newRules {
            if let name = rule.selector.matchers.first(where: { $0.name == "__name__" && $0.op == .equal }) {
                namedMetrics.insert(name.value)
            } else {
                unnamedRules = true
            }
        }
        var removed: [AlertInstance] = []
        for (key, instance) in instances where ruleIndex[key.rule] == nil {
            removed.append(instance)
            instances[key] = nil
            windows[key] = nil
        }
        return removed
    }

    public func rule(named name: String) -> AlertRule? { ruleIndex[name].map { rules[$0] } }

    /// Evaluates every rule matching the reading's series. `now` is when it arrived.
    public mutating func observe(_ reading: Reading, now: Int64) -> [AlertTransition] {
        let indices = rulesMatching(reading.series)
        guard !indices.isEmpty else { return [] }
        var transitions: [AlertTransition] = []
        let seriesText = reading.series.description
        for index in indices {
            let rule = rules[index]
            let key = AlertInstance.Key(rule: rule.name, series: seriesText)
            var instance = instances[key] ?? AlertInstance(key: key, labels: rule.instanceLabels(for: reading.series),
                                                          severity: rule.severity)
            instance.value = reading.value
            instance.unit = reading.unit
            instance.lastSeenMs = now
            let holds: Bool
            switch rule.condition {
            case .threshold(let op, let threshold, let clear):
                holds = op.holds(reading.value, instance.isActive ? (clear ?? threshold) : threshold)
            case .outside(let low, let high):
                holds = reading.value < low || reading.value > high
            case .stale:
                holds = false
            case .change(let kind, let window, let op, let threshold, let clear):
                var changes = windows[key] ?? ChangeWindow()
                changes.add(timestampMs: reading.timestampMs, value: reading.value, windowMs: window.milliseconds)
                windows[key] = changes
                // A rate from readings a few seconds apart is noise: the readings must cover at
                // least half the window before the condition can hold.
                if let (change, spanMs) = changes.delta, spanMs > 0, spanMs * 2 >= window.milliseconds {
                    let amount: Double = switch kind {
                    case .rate(let per): change / Double(spanMs) * Double(per.milliseconds)
                    case .delta: change
                    }
                    instance.value = amount
                    holds = op.holds(amount, instance.isActive ? (clear ?? threshold) : threshold)
                } else {
                    instance.value = nil
                    holds = false // too little of the window covered: no rate, and an active alert resolves
                }
            }
            if let transition = advance(&instance, holds: holds, rule: rule, now: now) { transitions.append(transition) }
            instances[key] = instance
        }
        return transitions
    }

    public mutating func observe(_ readings: [Reading], now: Int64) -> [AlertTransition] {
        var out: [AlertTransition] = []
        for reading in readings { out += observe(reading, now: now) }
        return out
    }

    /// Advances what time alone changes. Returns the transitions, and the instances forgotten
    /// (resolved for longer than the retention).
    public mutating func tick(now: Int64) -> (transitions: [AlertTransition], forgotten: [AlertInstance.Key]) {
        var transitions: [AlertTransition] = []
        var forgotten: [AlertInstance.Key] = []
        for (key, var instance) in instances {
            guard let index = ruleIndex[key.rule] else { continue }
            let rule = rules[index]
            if instance.state == .resolved, let resolvedAt = instance.resolvedAtMs, now - resolvedAt >= resolvedRetentionMs {
                forgotten.append(key)
                continue
            }
            let holds: Bool
            if case .stale(let limit) = rule.condition {
                guard let lastSeen = instance.lastSeenMs else { continue }
                holds = now - lastSeen >= limit.milliseconds
            } else {
                guard instance.state == .pending || instance.state == .firing else { continue }
                holds = instance.holding
            }
            guard let transition = advance(&instance, holds: holds, rule: rule, now: now) else {
                instances[key] = instance
                continue
            }
            instances[key] = instance
            transitions.append(transition)
        }
        for key in forgotten {
            instances[key] = nil
            windows[key] = nil
        }
        return (transitions, forgotten)
    }

    /// Applies an acknowledgement (or clears it with nil). Returns the updated instance.
    public mutating func setAck(_ ack: AlertAck?, for key: AlertInstance.Key) -> AlertInstance? {
        guard var instance = instances[key] else { return nil }
        instance.ack = ack
        instances[key] = instance
        return instance
    }

    /// Records that notifications were queued (the planner decides; the engine keeps the record).
    public mutating func setNotified(_ notified: [String: Int64], for key: AlertInstance.Key) {
        instances[key]?.notified = notified
    }

    /// The state machine for one instance. Pending that stops holding goes back to inactive
    /// silently (as in Prometheus); firing that stops holding resolves after `keep_firing_for`.
    private func advance(_ instance: inout AlertInstance, holds: Bool, rule: AlertRule, now: Int64) -> AlertTransition? {
        let from = instance.state
        instance.holding = holds
        switch instance.state {
        case .inactive, .resolved:
            guard holds else { return nil }
            instance.activeSinceMs = now
            instance.firedAtMs = nil
            instance.resolvedAtMs = nil
            instance.clearSinceMs = nil
            instance.ack = nil
            instance.notified = [:]
            instance.state = .pending
            if rule.pendingFor <= .zero { fire(&instance, now: now) }
        case .pending:
            if !holds {
                instance.state = .inactive
                instance.activeSinceMs = nil
            } else if let since = instance.activeSinceMs, now - since >= rule.pendingFor.milliseconds {
                fire(&instance, now: now)
            }
        case .firing:
            if holds {
                instance.clearSinceMs = nil
            } else {
                let since = instance.clearSinceMs ?? now
                instance.clearSinceMs = since
                if now - since >= rule.keepFiringFor.milliseconds {
                    instance.state = .resolved
                    instance.resolvedAtMs = now
                    instance.clearSinceMs = nil
                }
            }
        }
        render(&instance, rule: rule)
        guard instance.state != from else { return nil }
        return AlertTransition(from: from, instance: instance)
    }

    private func fire(_ instance: inout AlertInstance, now: Int64) {
        instance.state = .firing
        instance.firedAtMs = now
    }

    private func render(_ instance: inout AlertInstance, rule: AlertRule) {
        guard instance.state != .inactive, !rule.annotations.isEmpty else { return }
        let labels = Labels(instance.labels)
        for (name, template) in rule.annotations {
            instance.annotations[name] = template.render(labels: labels, value: instance.value, unit: instance.unit,
                                                         rule: rule.name, severity: rule.severity)
        }
    }

    private mutating func rulesMatching(_ series: SeriesKey) -> [Int] {
        if !unnamedRules, !namedMetrics.contains(series.metric) { return [] }
        if let cached = matching[series] { return cached }
        let indices = rules.indices.filter { rules[$0].selector.matches(series) }
        if matching.count > 200_000 { matching.removeAll(keepingCapacity: true) } // bound memory on label churn
        matching[series] = indices
        return indices
    }
}
