import VigilCore

/// `vigil alerts test`: replays readings through the rules with the readings' own timestamps as
/// the clock (ticking every evaluation interval in between, as the gateway does) and reports every
/// transition and the notifications it would queue. Self-alerts are left out: they watch the
/// gateway, not the data.
public struct AlertReplay {
    public struct Event: Sendable {
        public let timeMs: Int64
        public let rule: String
        public let series: String
        public let from: AlertState
        public let to: AlertState
        public let value: Double?
        public let unit: String?
        public let annotations: [String: String]
        /// `notifier (reason)` for each notification the transition queues.
        public let notifications: [String]
    }

    var evaluator: AlertEvaluator
    let planner: NotificationPlanner
    let tickMs: Int64
    var clockMs: Int64?

    public init(config: AlertsConfig) {
        evaluator = AlertEvaluator(rules: config.rules, resolvedRetention: config.resolvedRetention)
        planner = NotificationPlanner(routes: config.effectiveRoutes, notifiers: config.notifiers)
        tickMs = max(100, config.evaluationInterval.milliseconds)
    }

    /// Feeds readings (in timestamp order) and returns what happened.
    public mutating func feed(_ readings: [Reading]) -> [Event] {
        var events: [Event] = []
        for reading in readings {
            events += advanceClock(to: reading.timestampMs)
            events += record(evaluator.observe(reading, now: reading.timestampMs), at: reading.timestampMs)
            clockMs = max(clockMs ?? reading.timestampMs, reading.timestampMs)
        }
        return events
    }

    /// Lets time run on after the last reading (stale rules, `for`, `keep_firing_for`).
    public mutating func finish(after duration: Duration) -> [Event] {
        guard let clock = clockMs else { return [] }
        return advanceClock(to: clock + duration.milliseconds)
    }

    private mutating func advanceClock(to target: Int64) -> [Event] {
        guard var clock = clockMs else { return [] }
        var events: [Event] = []
        while clock + tickMs <= target {
            clock += tickMs
            events += record(evaluator.tick(now: clock).transitions, at: clock)
            events += repeats(at: clock)
        }
        clockMs = clock
        return events
    }

    private mutating func record(_ transitions: [AlertTransition], at now: Int64) -> [Event] {
        transitions.map { transition in
            var instance = transition.instance
            let planned = planner.plan(&instance, silenced: false, now: now)
            evaluator.setNotified(instance.notified, for: instance.key)
            return Event(timeMs: now, rule: instance.rule, series: instance.key.series, from: transition.from, to: transition.to,
                         value: instance.value, unit: instance.unit, annotations: instance.annotations,
                         notifications: planned.map { "\($0.notifier) (\($0.reason.rawValue))" })
        }
    }

    private mutating func repeats(at now: Int64) -> [Event] {
        var events: [Event] = []
        for var instance in evaluator.instances.values where instance.state == .firing {
            let planned = planner.plan(&instance, silenced: false, now: now)
            guard !planned.isEmpty else { continue }
            evaluator.setNotified(instance.notified, for: instance.key)
            events.append(Event(timeMs: now, rule: instance.rule, series: instance.key.series, from: .firing, to: .firing,
                                value: instance.value, unit: instance.unit, annotations: instance.annotations,
                                notifications: planned.map { "\($0.notifier) (\($0.reason.rawValue))" }))
        }
        return events.sorted { $0.series < $1.series }
    }
}
