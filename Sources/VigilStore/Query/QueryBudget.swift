import Synchronization

/// What one query may cost: a deadline, a number of samples (and rollup days) read, and a way to
/// stop it from outside (the client went away, the gateway is shutting down). Reads check it per
/// series and per chunk and give up with `StoreError.queryAborted`, so no query holds a thread for
/// longer than its timeout (Prometheus: `--query.timeout`, `--query.max-samples`).
public final class QueryBudget: Sendable {
    public struct Limits: Sendable, Equatable {
        public var timeout: Duration
        public var maxSamples: Int
        public init(timeout: Duration = .seconds(30), maxSamples: Int = 5_000_000) {
            self.timeout = timeout
            self.maxSamples = maxSamples
        }
    }

    public enum Reason: String, Sendable {
        case timeout, tooManySamples = "too_many_samples", cancelled
    }

    public let limits: Limits
    let deadline: ContinuousClock.Instant
    private let samples = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    /// Asked at every check: true when whoever wanted the answer is gone.
    private let abandoned: (@Sendable () -> Bool)?

    public init(_ limits: Limits, abandoned: (@Sendable () -> Bool)? = nil) {
        self.limits = limits
        deadline = .now.advanced(by: limits.timeout)
        self.abandoned = abandoned
        let closed = QueryBudget.registry.withLock { registry in
            registry.insert(ObjectIdentifier(self), self)
            return registry.closed
        }
        if closed { cancel() }
    }

    deinit { QueryBudget.registry.withLock { $0.remove(ObjectIdentifier(self)) } }

    /// Stops the query at its next check.
    public func cancel() { stopped.store(true, ordering: .relaxed) }

    /// Samples read so far.
    public var samplesRead: Int { samples.load(ordering: .relaxed) }

    /// Throws when the query is out of time, cancelled or abandoned.
    public func check() throws(StoreError) {
        if stopped.load(ordering: .relaxed) || abandoned?() == true { throw .queryAborted(.cancelled, "the query was cancelled") }
        if ContinuousClock.now > deadline {
            throw .queryAborted(.timeout, "the query ran longer than its timeout (\(limits.timeout)); narrow the selector or the time range")
        }
    }

    /// Counts `count` samples read, then checks.
    public func charge(_ count: Int) throws(StoreError) {
        let total = samples.add(count, ordering: .relaxed).newValue
        if total > limits.maxSamples {
            throw .queryAborted(.tooManySamples,
                                "the query would read more than \(limits.maxSamples) samples; narrow the selector or the time range, or use a larger step")
        }
        try check()
    }

    // MARK: Every running query, so shutdown can stop them all

    private static let registry = Mutex(Registry())

    struct Registry {
        // Weak entries: a finished query's budget goes away with its request.
        var budgets: [ObjectIdentifier: WeakBudget] = [:]
        /// Set by `cancelAll`: queries that start during shutdown stop at their first check.
        var closed = false
        mutating func insert(_ id: ObjectIdentifier, _ budget: QueryBudget) { budgets[id] = WeakBudget(budget: budget) }
        mutating func remove(_ id: ObjectIdentifier) { budgets[id] = nil }
    }

    struct WeakBudget { weak var budget: QueryBudget? }

    /// Cancels every query that is running now, and every one started after (graceful shutdown
    /// never waits on a query).
    public static func cancelAll() {
        let running = registry.withLock { registry in
            registry.closed = true
            return registry.budgets.values.compactMap(\.budget)
        }
        for budget in running { budget.cancel() }
    }
}
