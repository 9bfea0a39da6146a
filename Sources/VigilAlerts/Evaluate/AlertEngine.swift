import VigilCore

/// The alerting rules, their instances, silences and notification plans as one value, with no I/O:
/// every step returns what changed and what to save. `AlertCenter` keeps it behind a lock and hands
/// the writes to `AlertPersistence`, which saves them outside that lock.
struct AlertEngine: Sendable {
    /// What one step changed.
    struct Outcome: Sendable {
        var writes = AlertWrites()
        /// Instances whose state changed, or whose acknowledgement did (console live stream).
        var changed: [AlertInstance] = []
        /// State transitions, for the log.
        var transitions: [AlertTransition] = []
    }

    private(set) var evaluator: AlertEvaluator
    private var planner: NotificationPlanner
    private(set) var silences: SilenceSet
    private(set) var config: AlertsConfig
    let gateway: String
    let externalURL: String
    private var lastCheckpointMs: Int64 = 0

    /// How often the last arrival time of series watched by stale rules is saved (for restarts).
    static let checkpointIntervalMs: Int64 = 30_000
    /// Expired silences stay listed this long.
    static let expiredSilenceKeepMs: Int64 = 24 * 3_600_000

    init(config: AlertsConfig, restored: [AlertInstance], silences: [Silence], gateway: String, externalURL: String) {
        evaluator = AlertEvaluator(rules: config.effectiveRules, resolvedRetention: config.resolvedRetention, restored: restored)
        planner = NotificationPlanner(routes: config.effectiveRoutes, notifiers: config.notifiers)
        self.silences = SilenceSet(silences)
        self.config = config
        self.gateway = gateway
        self.externalURL = externalURL
    }

    // MARK: evaluation

    mutating func observe(_ readings: [Reading], now: Int64) -> Outcome {
        var outcome = Outcome()
        settle(evaluator.observe(readings, now: now), forgotten: [], now: now, into: &outcome)
        return outcome
    }

    mutating func tick(now: Int64) -> Outcome {
        var outcome = Outcome()
        let (transitions, forgotten) = evaluator.tick(now: now)
        settle(transitions, forgotten: forgotten, now: now, into: &outcome)
        planRepeats(now: now, into: &outcome)
        for id in silences.expire(now: now, keepMs: Self.expiredSilenceKeepMs) { outcome.writes.deleteSilence(id) }
        // Stale rules need the last arrival time after a restart; save it now and then, not per reading.
        if now - lastCheckpointMs >= Self.checkpointIntervalMs {
            lastCheckpointMs = now
            for instance in evaluator.instances.values where instance.lastSeenMs != nil && instance.state != .resolved {
                if outcome.writes.instances[instance.key] == nil { outcome.writes.save(instance) }
            }
        }
        return outcome
    }

    /// Plans the notifications of each transition and saves the instances with them.
    private mutating func settle(_ transitions: [AlertTransition], forgotten: [AlertInstance.Key], now: Int64, into outcome: inout Outcome) {
        for transition in transitions {
            var instance = transition.instance
            plan(&instance, now: now, into: &outcome.writes)
            evaluator.setNotified(instance.notified, for: instance.key)
            outcome.writes.save(instance)
            outcome.changed.append(instance)
            outcome.transitions.append(transition)
        }
        for key in forgotten { outcome.writes.forget(key) }
    }

    /// Repeats (and firing notifications held back by a silence that ended) for alerts still
    /// firing. Only the notified record changes, so there is nothing to announce.
    private mutating func planRepeats(now: Int64, into outcome: inout Outcome) {
        for var instance in evaluator.instances.values where instance.state == .firing {
            let before = instance.notified
            var writes = AlertWrites()
            plan(&instance, now: now, into: &writes)
            guard instance.notified != before else { continue }
            evaluator.setNotified(instance.notified, for: instance.key)
            outcome.writes.merge(writes)
            outcome.writes.save(instance)
        }
    }

    private func plan(_ instance: inout AlertInstance, now: Int64, into writes: inout AlertWrites) {
        let silenced = !silences.matching(instance, at: now).isEmpty
        for item in planner.plan(&instance, silenced: silenced, now: now) {
            let notification = AlertNotification.make(instance, reason: item.reason, gateway: gateway, externalURL: externalURL, now: now)
            writes.queue(AlertDatabase.Queued(notifier: item.notifier, alert: instance.key.id, reason: item.reason.rawValue,
                                              body: notification.encoded(), createdMs: now))
        }
    }

    // MARK: reload

    /// New rules and routes; notifiers stay as they were started. Returns the instances removed.
    mutating func reload(_ newConfig: AlertsConfig) -> (removed: [AlertInstance], outcome: Outcome) {
        var outcome = Outcome()
        let removed = evaluator.replaceRules(newConfig.effectiveRules)
        evaluator.resolvedRetentionMs = newConfig.resolvedRetention.milliseconds
        planner = NotificationPlanner(routes: newConfig.effectiveRoutes, notifiers: config.notifiers)
        var kept = newConfig
        kept.notifiers = config.notifiers
        config = kept
        for instance in removed { outcome.writes.forget(instance.key) }
        return (removed, outcome)
    }

    // MARK: operator actions

    /// Sets or removes (nil) the acknowledgement of a pending or firing alert; nil if there is none with that id.
    mutating func acknowledge(id: String, ack: AlertAck?) -> Outcome? {
        guard let key = evaluator.instances.keys.first(where: { $0.id == id }),
              evaluator.instances[key]?.isActive == true,
              let instance = evaluator.setAck(ack, for: key) else { return nil }
        var outcome = Outcome()
        outcome.writes.save(instance)
        outcome.changed = [instance]
        return outcome
    }

    mutating func addSilence(_ silence: Silence) -> Outcome {
        silences.add(silence)
        var outcome = Outcome()
        outcome.writes.save(silence)
        return outcome
    }

    /// Ends a silence now (kept listed until it is a day old, as expired); nil if there is none with that id.
    mutating func expireSilence(id: String, now: Int64) -> Outcome? {
        guard var silence = silences.silences.first(where: { $0.id == id }) else { return nil }
        silence.endsAtMs = min(silence.endsAtMs, now)
        silences.add(silence)
        var outcome = Outcome()
        outcome.writes.save(silence)
        return outcome
    }
}
