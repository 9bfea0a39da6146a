import Logging
import Synchronization
import VigilCore

/// The alerting subsystem's one shared object. The engine (rules, instances, silences, plans) is a
/// value behind a lock that is held only for computing; what it decides to save goes to
/// `AlertPersistence`, which writes `alerts.db` outside that lock. The alert service feeds it
/// readings and ticks; the HTTP API lists, acks and silences through it; the outbox deliverers take
/// notifications from its persistence.
public final class AlertCenter: Sendable {
    /// An alert as the API and the console show it.
    public struct View: Sendable {
        public let instance: AlertInstance
        public let silencedBy: [String]
    }

    private let engine: Mutex<AlertEngine>
    let persistence: AlertPersistence
    private let observers = Mutex<[@Sendable ([AlertInstance]) -> Void]>([])
    public let gateway: String
    public let externalURL: String
    let logger: Logger

    public init(config: AlertsConfig, databasePath: String, gateway: String, externalURL: String, logger: Logger) throws(AlertStateError) {
        let database = try AlertDatabase(path: databasePath)
        let restored = try database.loadInstances()
        let silences = try database.loadSilences()
        let dropped = try database.dropOutbox(except: config.notifiers.map(\.name))
        if dropped > 0 {
            logger.warning("dropped queued notifications for notifiers that are no longer configured", metadata: ["count": "\(dropped)"])
        }
        engine = Mutex(AlertEngine(config: config, restored: restored, silences: silences, gateway: gateway, externalURL: externalURL))
        persistence = AlertPersistence(database: database, notifiers: config.notifiers.map(\.name), logger: logger)
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

    public var rules: [AlertRule] { engine.withLock { $0.evaluator.rules } }
    public var config: AlertsConfig { engine.withLock { $0.config } }

    /// Runs one engine step and queues its writes while still holding the lock, so writes reach
    /// the database in the order the engine made them. Returns the outcome and its save ticket.
    private func step<T>(_ body: (inout AlertEngine) -> (T, AlertEngine.Outcome?)) -> (T, AlertEngine.Outcome?, UInt64) {
        let (value, outcome, ticket) = engine.withLock { engine in
            let (value, outcome) = body(&engine)
            return (value, outcome, persistence.submit(outcome?.writes ?? AlertWrites()))
        }
        if let outcome {
            for transition in outcome.transitions { logTransition(transition) }
            announce(outcome.changed)
        }
        return (value, outcome, ticket)
    }

    // MARK: evaluation

    public func observe(_ readings: [Reading], now: Int64) {
        _ = step { ((), $0.observe(readings, now: now)) }
    }

    public func tick(now: Int64) {
        _ = step { ((), $0.tick(now: now)) }
    }

    /// Waits until every change so far is saved; false if saving fails (it is retried). Shutdown
    /// and tests call it.
    public func flush() async -> Bool { await persistence.flush() }

    private func logTransition(_ transition: AlertTransition) {
        let instance = transition.instance
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
        let (removed, _, _) = step { engine in
            let (removed, outcome) = engine.reload(config)
            return (removed, outcome)
        }
        logger.info("alert rules loaded", metadata: ["rules": "\(config.effectiveRules.count)", "removed_instances": "\(removed.count)"])
    }

    // MARK: API

    /// Every pending, firing and resolved alert, most severe state first.
    public func list(now: Int64) -> [View] {
        engine.withLock { engine in
            engine.evaluator.instances.values.filter { $0.state != .inactive }.map {
                View(instance: $0, silencedBy: engine.silences.matching($0, at: now).map(\.id))
            }
        }.sorted { a, b in
            if a.instance.state != b.instance.state { return a.instance.state.listingRank < b.instance.state.listingRank }
            return a.instance.key.id < b.instance.key.id
        }
    }

    public enum APIError: Error, CustomStringConvertible {
        case notFound(String), invalid(String)
        /// The change is in force but `alerts.db` could not be written yet; saving is retried.
        case notSaved(String)
        public var description: String {
            switch self {
            case .notFound(let message), .invalid(let message), .notSaved(let message): message
            }
        }
    }

    /// Acknowledges a firing or pending alert by id (`rule/series`); nil `ack` removes the
    /// acknowledgement. Returns once the change is saved.
    public func acknowledge(id: String, ack: AlertAck?, now: Int64) async throws(APIError) -> AlertInstance {
        let (_, outcome, ticket) = step { engine in ((), engine.acknowledge(id: id, ack: ack)) }
        guard let instance = outcome?.changed.first else { throw .notFound("no pending or firing alert with id '\(id)'") }
        logger.notice(ack == nil ? "alert acknowledgement removed" : "alert acknowledged",
                      metadata: ["alert": "\(id)", "by": "\(ack?.by ?? "-")"])
        try await confirmSaved(ticket, what: "the acknowledgement")
        return instance
    }

    public func silences(now: Int64) -> [Silence] {
        engine.withLock { $0.silences.silences }.sorted { $0.startsAtMs < $1.startsAtMs }
    }

    /// Adds a silence; returns once it is saved.
    public func addSilence(_ silence: Silence) async throws(APIError) {
        let (_, _, ticket) = step { engine in ((), engine.addSilence(silence)) }
        logger.notice("silence added", metadata: ["id": "\(silence.id)", "matchers": "\(silence.matchers)",
                                                   "by": "\(silence.createdBy)", "ends": "\(RFC3339.format(silence.endsAtMs))"])
        try await confirmSaved(ticket, what: "the silence")
    }

    /// Ends a silence now (kept listed until it is a day old, as expired); returns once it is saved.
    public func expireSilence(id: String, now: Int64) async throws(APIError) {
        let (_, outcome, ticket) = step { engine in ((), engine.expireSilence(id: id, now: now)) }
        guard outcome != nil else { throw .notFound("no silence with id '\(id)'") }
        logger.notice("silence expired", metadata: ["id": "\(id)"])
        try await confirmSaved(ticket, what: "the silence's end")
    }

    private func confirmSaved(_ ticket: UInt64, what: String) async throws(APIError) {
        guard await persistence.saved(ticket) else {
            throw .notSaved("\(what) is in force but alerts.db cannot be written (\(persistence.lastError ?? "unknown error")); "
                            + "saving is retried in the background")
        }
    }

    // MARK: status

    public struct OutboxStatistics: Sendable {
        public let notifier: String
        public let depth: Int
        public let oldestAgeSeconds: Double
    }

    /// Queued notifications per configured notifier, as of the last outbox change (no disk I/O).
    public func outboxStatistics(now: Int64) -> [OutboxStatistics] {
        let depths = persistence.outboxDepths()
        return config.notifiers.map(\.name).map { name in
            let entry = depths[name]
            return OutboxStatistics(notifier: name, depth: entry?.depth ?? 0,
                                    oldestAgeSeconds: entry.map { max(0, Double(now - $0.oldestMs) / 1000) } ?? 0)
        }
    }

    /// Counts of instances by rule and state (for /metrics).
    public func stateCounts() -> [(rule: String, state: AlertState, count: Int)] {
        engine.withLock { engine in
            var counts: [String: [AlertState: Int]] = [:]
            for rule in engine.evaluator.rules { counts[rule.name] = [:] }
            for instance in engine.evaluator.instances.values { counts[instance.rule, default: [:]][instance.state, default: 0] += 1 }
            return counts.keys.sorted().flatMap { rule in
                [AlertState.pending, .firing, .resolved].map { (rule, $0, counts[rule]?[$0] ?? 0) }
            }
        }
    }
}
