import Foundation
import Logging
import Synchronization
import VigilCore
import VigilStore

/// The alerting subsystem's one shared object: the evaluator, its persisted state, silences and
/// the outbox, behind one lock. The alert service feeds it readings and ticks; the HTTP API lists,
/// acks and silences through it; the outbox deliverers take notifications from it.
public final class AlertCenter: Sendable {
    /// An alert as the API and the console show it.
    public struct View: Sendable {
        public let instance: AlertInstance
        public let silencedBy: [String]
    }

    struct Core: ~Copyable {
        var evaluator: AlertEvaluator
        var planner: NotificationPlanner
        var silences: SilenceSet
        var config: AlertsConfig
        let database: AlertDatabase
        var lastCheckpointMs: Int64 = 0
    }

    private let core: Mutex<Core>
    private let observers = Mutex<[@Sendable ([AlertInstance]) -> Void]>([])
    let doorbells: [String: Doorbell]
    public let gateway: String
    public let externalURL: String
    let logger: Logger

    public init(config: AlertsConfig, databasePath: String, gateway: String, externalURL: String, logger: Logger) throws(StoreError) {
        let database = try AlertDatabase(path: databasePath)
        let restored = try database.loadInstances()
        let silences = try database.loadSilences()
        let dropped = try database.dropOutbox(except: config.notifiers.map(\.name))
        if dropped > 0 {
            logger.warning("dropped queued notifications for notifiers that are no longer configured", metadata: ["count": "\(dropped)"])
        }
        core = Mutex(Core(
            evaluator: AlertEvaluator(rules: config.effectiveRules, resolvedRetention: config.resolvedRetention, restored: restored),
            planner: NotificationPlanner(routes: config.effectiveRoutes, notifiers: config.notifiers),
            silences: SilenceSet(silences), config: config, database: database))
        doorbells = Dictionary(uniqueKeysWithValues: config.notifiers.map { ($0.name, Doorbell()) })
        self.gateway = gateway
        self.externalURL = externalURL
        self.logger = logger
        let firing = restored.filter { $0.state == .firing }.count
        if !restored.isEmpty {
            logger.info("alert state restored", metadata: ["instances": "\(restored.count)", "firing": "\(firing)"])
        }
    }

    /// Called with the instances that changed state (console live stream).
    public func addObserver(_ observer: @escaping @Sendable ([AlertInstance]) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    public var rules: [AlertRule] { core.withLock { $0.evaluator.rules } }
    public var config: AlertsConfig { core.withLock { $0.config } }

    // MARK: evaluation

    public func observe(_ readings: [Reading], now: Int64) {
        let changed = core.withLock { core in
            let transitions = core.evaluator.observe(readings, now: now)
            return settle(&core, transitions: transitions, forgotten: [], now: now)
        }
        announce(changed)
    }

    public func tick(now: Int64) {
        let changed = core.withLock { core in
            let (transitions, forgotten) = core.evaluator.tick(now: now)
            let changed = settle(&core, transitions: transitions, forgotten: forgotten, now: now)
            planRepeats(&core, now: now)
            let expired = core.silences.expire(now: now, keepMs: 24 * 3_600_000)
            if !expired.isEmpty { try? core.database.deleteSilences(expired) }
            // Stale rules need the last arrival time after a restart; save it now and then, not per reading.
            if now - core.lastCheckpointMs >= 30_000 {
                core.lastCheckpointMs = now
                let seen = core.evaluator.instances.values.filter { $0.lastSeenMs != nil && $0.state != .resolved }
                persist(&core, save: Array(seen), forget: [], queued: [], now: now)
            }
            return changed
        }
        announce(changed)
    }

    /// Persists transitions and queues their notifications in one transaction.
    private func settle(_ core: inout Core, transitions: [AlertTransition], forgotten: [AlertInstance.Key], now: Int64) -> [AlertInstance] {
        guard !transitions.isEmpty || !forgotten.isEmpty else { return [] }
        var save: [AlertInstance] = []
        var queued: [AlertDatabase.Queued] = []
        for transition in transitions {
            var instance = transition.instance
            queued += plan(&core, &instance, now: now)
            core.evaluator.setNotified(instance.notified, for: instance.key)
            save.append(instance)
            logTransition(transition, instance: instance)
        }
        persist(&core, save: save, forget: forgotten, queued: queued, now: now)
        return save
    }

    /// Repeats (and firing notifications held back by a silence that ended) for alerts still
    /// firing. Only the notified record changes, so there is nothing to announce.
    private func planRepeats(_ core: inout Core, now: Int64) {
        var save: [AlertInstance] = []
        var queued: [AlertDatabase.Queued] = []
        for var instance in core.evaluator.instances.values where instance.state == .firing {
            let before = instance.notified
            let items = plan(&core, &instance, now: now)
            guard instance.notified != before else { continue }
            core.evaluator.setNotified(instance.notified, for: instance.key)
            queued += items
            save.append(instance)
        }
        persist(&core, save: save, forget: [], queued: queued, now: now)
    }

    private func plan(_ core: inout Core, _ instance: inout AlertInstance, now: Int64) -> [AlertDatabase.Queued] {
        let silenced = !core.silences.matching(instance, at: now).isEmpty
        return core.planner.plan(&instance, silenced: silenced, now: now).map { item in
            let notification = AlertNotification.make(instance, reason: item.reason, gateway: gateway, externalURL: externalURL, now: now)
            return AlertDatabase.Queued(notifier: item.notifier, alert: instance.key.id, reason: item.reason.rawValue,
                                        body: notification.encoded())
        }
    }

    private func persist(_ core: inout Core, save: [AlertInstance], forget: [AlertInstance.Key], queued: [AlertDatabase.Queued], now: Int64) {
        do {
            try core.database.commit(save: save, forget: forget, enqueue: queued, now: now)
        } catch {
            logger.error("cannot save alert state: \(error)")
            return
        }
        for notifier in Set(queued.map(\.notifier)) { doorbells[notifier]?.ring() }
    }

    private func logTransition(_ transition: AlertTransition, instance: AlertInstance) {
        let metadata: Logger.Metadata = [
            "alert": "\(instance.rule)", "series": "\(instance.key.series)", "state": "\(transition.to.rawValue)",
            "from": "\(transition.from.rawValue)", "value": "\(instance.value.map { "\($0)" } ?? "n/a")",
            "severity": "\(instance.severity)",
        ]
        switch transition.to {
        case .firing: logger.warning("alert firing", metadata: metadata)
        case .resolved: logger.notice("alert resolved", metadata: metadata)
        case .pending: logger.info("alert pending", metadata: metadata)
        case .inactive: logger.debug("alert back to inactive", metadata: metadata)
        }
    }

    private func announce(_ changed: [AlertInstance]) {
        guard !changed.isEmpty else { return }
        for observer in observers.withLock({ $0 }) { observer(changed) }
    }

    // MARK: reload

    /// New rules and routes (hot reload). Notifiers are fixed until a restart; the caller warns.
    public func reload(_ config: AlertsConfig, now: Int64) {
        let removed = core.withLock { core in
            let removed = core.evaluator.replaceRules(config.effectiveRules)
            core.evaluator.resolvedRetentionMs = config.resolvedRetention.milliseconds
            core.planner = NotificationPlanner(routes: config.effectiveRoutes, notifiers: core.config.notifiers)
            var kept = config
            kept.notifiers = core.config.notifiers
            core.config = kept
            persist(&core, save: [], forget: removed.map(\.key), queued: [], now: now)
            return removed
        }
        logger.info("alert rules loaded", metadata: ["rules": "\(config.effectiveRules.count)", "removed_instances": "\(removed.count)"])
    }

    // MARK: API

    /// Every pending, firing and resolved alert, most severe state first.
    public func list(now: Int64) -> [View] {
        core.withLock { core in
            core.evaluator.instances.values.filter { $0.state != .inactive }.map {
                View(instance: $0, silencedBy: core.silences.matching($0, at: now).map(\.id))
            }
        }.sorted { a, b in
            if a.instance.state != b.instance.state { return a.instance.state.listingRank < b.instance.state.listingRank }
            return a.instance.key.id < b.instance.key.id
        }
    }

    public enum APIError: Error, CustomStringConvertible {
        case notFound(String), invalid(String)
        public var description: String {
            switch self {
            case .notFound(let message), .invalid(let message): message
            }
        }
    }

    /// Acknowledges a firing or pending alert by id (`rule/series`); nil `ack` removes the acknowledgement.
    public func acknowledge(id: String, ack: AlertAck?, now: Int64) throws(APIError) -> AlertInstance {
        let result: AlertInstance? = core.withLock { core in
            guard let key = core.evaluator.instances.keys.first(where: { $0.id == id }),
                  core.evaluator.instances[key]?.isActive == true,
                  let instance = core.evaluator.setAck(ack, for: key) else { return nil }
            persist(&core, save: [instance], forget: [], queued: [], now: now)
            return instance
        }
        guard let result else { throw .notFound("no pending or firing alert with id '\(id)'") }
        logger.notice(ack == nil ? "alert acknowledgement removed" : "alert acknowledged",
                      metadata: ["alert": "\(id)", "by": "\(ack?.by ?? "-")"])
        announce([result])
        return result
    }

    public func silences(now: Int64) -> [Silence] {
        core.withLock { $0.silences.silences }.sorted { $0.startsAtMs < $1.startsAtMs }
    }

    public func addSilence(_ silence: Silence) throws(APIError) {
        let saved: Bool = core.withLock { core in
            do { try core.database.saveSilence(silence) } catch { return false }
            core.silences.add(silence)
            return true
        }
        guard saved else { throw .invalid("cannot save the silence") }
        logger.notice("silence added", metadata: ["id": "\(silence.id)", "matchers": "\(silence.matchers)",
                                                   "by": "\(silence.createdBy)", "ends": "\(RFC3339.format(silence.endsAtMs))"])
    }

    /// Ends a silence now (kept listed until it is a day old, as expired).
    public func expireSilence(id: String, now: Int64) throws(APIError) {
        let found: Bool = core.withLock { core in
            guard var silence = core.silences.silences.first(where: { $0.id == id }) else { return false }
            silence.endsAtMs = min(silence.endsAtMs, now)
            try? core.database.saveSilence(silence)
            core.silences.add(silence)
            return true
        }
        guard found else { throw .notFound("no silence with id '\(id)'") }
        logger.notice("silence expired", metadata: ["id": "\(id)"])
    }

    // MARK: outbox (for the deliverers)

    func outboxHead(_ notifier: String) -> AlertDatabase.OutboxEntry? {
        core.withLock { core in
            do { return try core.database.head(notifier: notifier) } catch {
                logger.error("cannot read the alert outbox: \(error)")
                return nil
            }
        }
    }

    func markDelivered(_ entry: AlertDatabase.OutboxEntry) {
        core.withLock { core in
            do { try core.database.delivered(id: entry.id) } catch { logger.error("cannot update the alert outbox: \(error)") }
        }
    }

    func markFailed(_ entry: AlertDatabase.OutboxEntry, error: String, retryAtMs: Int64) {
        core.withLock { core in
            do { try core.database.failed(id: entry.id, error: error, nextAttemptMs: retryAtMs) } catch {
                logger.error("cannot update the alert outbox: \(error)")
            }
        }
    }

    public struct OutboxStatistics: Sendable {
        public let notifier: String
        public let depth: Int
        public let oldestAgeSeconds: Double
    }

    public func outboxStatistics(now: Int64) -> [OutboxStatistics] {
        let (stats, names) = core.withLock { core in ((try? core.database.outboxStatistics()) ?? [:], core.config.notifiers.map(\.name)) }
        return names.map { name in
            let entry = stats[name]
            return OutboxStatistics(notifier: name, depth: entry?.depth ?? 0,
                                    oldestAgeSeconds: entry.map { max(0, Double(now - $0.oldestMs) / 1000) } ?? 0)
        }
    }

    /// Counts of instances by rule and state (for /metrics).
    public func stateCounts() -> [(rule: String, state: AlertState, count: Int)] {
        core.withLock { core in
            var counts: [String: [AlertState: Int]] = [:]
            for rule in core.evaluator.rules { counts[rule.name] = [:] }
            for instance in core.evaluator.instances.values { counts[instance.rule, default: [:]][instance.state, default: 0] += 1 }
            return counts.keys.sorted().flatMap { rule in
                [AlertState.pending, .firing, .resolved].map { (rule, $0, counts[rule]?[$0] ?? 0) }
            }
        }
    }
}
