import VigilCore

/// Decides which notifications an alert instance needs now: the first firing notification per
/// notifier, repeats after the route's `repeat_interval` (Alertmanager: its `resend_interval`),
/// and one resolved notification to each notifier that heard it fire.
struct NotificationPlanner: Sendable {
    enum Reason: String, Sendable, Codable {
        case firing, `repeat`, resolved
    }

    struct Target: Sendable {
        let notifier: String
        let interval: Int64
        /// Acks do not stop Alertmanager resends: it would otherwise resolve the alert itself.
        let ignoresAck: Bool
    }

    let routes: [AlertRoute]
    let resendIntervals: [String: Int64]

    init(routes: [AlertRoute], notifiers: [NotifierConfig]) {
        self.routes = routes
        var resend: [String: Int64] = [:]
        for notifier in notifiers {
            if case .alertmanager(let settings) = notifier.kind { resend[notifier.name] = settings.resendInterval.milliseconds }
        }
        self.resendIntervals = resend
    }

    func targets(rule: String, severity: String) -> [Target] {
        var intervals: [String: Int64] = [:]
        var order: [String] = []
        for route in routes where route.matches(rule: rule, severity: severity) {
            for name in route.notifiers {
                let interval = resendIntervals[name] ?? route.repeatInterval.milliseconds
                if let existing = intervals[name] {
                    intervals[name] = min(existing, interval)
                } else {
                    intervals[name] = interval
                    order.append(name)
                }
            }
        }
        return order.map { Target(notifier: $0, interval: max(1, intervals[$0]!), ignoresAck: resendIntervals[$0] != nil) }
    }

    /// The notifications due for `instance` now; updates its `notified` record.
    func plan(_ instance: inout AlertInstance, silenced: Bool, now: Int64) -> [(notifier: String, reason: Reason)] {
        switch instance.state {
        case .firing:
            guard !silenced else { return [] }
            let acked = instance.ack.map { ack in ack.untilMs.map { now < $0 } ?? true } ?? false
            var due: [(String, Reason)] = []
            for target in targets(rule: instance.rule, severity: instance.severity) {
                if let last = instance.notified[target.notifier] {
                    guard now - last >= target.interval, !acked || target.ignoresAck else { continue }
                    due.append((target.notifier, .repeat))
                } else {
                    due.append((target.notifier, .firing))
                }
                instance.notified[target.notifier] = now
            }
            return due
        case .resolved:
            let due = instance.notified.keys.sorted().map { ($0, Reason.resolved) }
            instance.notified = [:]
            return due
        case .inactive, .pending:
            return []
        }
    }
}
