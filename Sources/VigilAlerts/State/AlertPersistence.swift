import Logging
import Metrics
import NIOPosix
import Synchronization
import VigilCore

/// Saves what the alert engine decided, in order, on a thread of its own, never under the engine's
/// lock: a slow fsync of `alerts.db` (`synchronous=FULL`) delays only the saving and the delivery
/// of notifications, not evaluation, the API or /metrics. The thread is not the store's pool
/// (two threads on a two-core box): a stalled `alerts.db` waits out SQLite's busy timeout, and
/// must not hold a thread the store's queries and commits need, nor wait behind them.
///
/// Writes submitted while a commit runs are merged into one batch (the latest form of an instance
/// wins; notifications keep their order), so a stalled disk costs a bounded batch, not a queue
/// per tick. A commit that fails is kept and retried with backoff before anything newer, so a
/// disk that comes back gets everything. The outbox's depth for /metrics is a snapshot taken after
/// each change, so a scrape runs no SQL.
final class AlertPersistence: Sendable {
    private struct Queue {
        var pending = AlertWrites()
        /// Tickets of the writes in `pending`, and of the batch being committed.
        var pendingThrough: UInt64 = 0
        var nextTicket: UInt64 = 0
        var savedThrough: UInt64 = 0
        var draining = false
        var lastError: String?
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
    }

    struct OutboxDepth: Sendable {
        let depth: Int
        let oldestMs: Int64
    }

    private let database: Mutex<AlertDatabase>
    private let queue = Mutex(Queue())
    private let depths: Mutex<[String: OutboxDepth]>
    let doorbells: [String: Doorbell]
    private let logger: Logger
    private let failureLog = RateLimiter(burst: 3, window: .seconds(60))
    private let commitFailures = Counter(label: "vigil_alert_state_save_failures_total")

    init(database: sending AlertDatabase, notifiers: [String], logger: Logger) {
        self.depths = Mutex(Self.depths(of: database))
        self.database = Mutex(database)
        self.doorbells = Dictionary(uniqueKeysWithValues: notifiers.map { ($0, Doorbell()) })
        self.logger = logger
    }

    // MARK: saving

    /// Queues writes to be saved after every earlier submission; returns their ticket. Cheap and
    /// non-blocking: callers submit while holding the engine's lock, which fixes the order.
    @discardableResult
    func submit(_ writes: AlertWrites) -> UInt64 {
        guard !writes.isEmpty else { return queue.withLock { $0.nextTicket } }
        let (ticket, start) = queue.withLock { queue -> (UInt64, Bool) in
            queue.nextTicket += 1
            queue.pending.merge(writes)
            queue.pendingThrough = queue.nextTicket
            defer { queue.draining = true }
            return (queue.nextTicket, !queue.draining)
        }
        if start { Task { await self.drain() } }
        return ticket
    }

    /// Waits until the writes of `ticket` are saved (true), or until an attempt to save them failed
    /// (false; they stay queued and are retried).
    func saved(_ ticket: UInt64) async -> Bool {
        await withCheckedContinuation { continuation in
            let done = queue.withLock { queue -> Bool in
                if queue.savedThrough >= ticket { return true }
                queue.waiters.append((ticket, continuation))
                return false
            }
            if done { continuation.resume(returning: true) }
        }
    }

    /// Waits until everything submitted so far is saved (true) or an attempt failed (false).
    func flush() async -> Bool {
        await saved(queue.withLock { $0.nextTicket })
    }

    /// The last save error, while saving fails (for status and tests).
    var lastError: String? { queue.withLock { $0.lastError } }

    private func drain() async {
        var backoff = ReconnectBackoff(minimum: .milliseconds(100), maximum: .seconds(10))
        while true {
            let next = queue.withLock { queue -> (AlertWrites, UInt64)? in
                guard !queue.pending.isEmpty else {
                    queue.draining = false
                    return nil
                }
                defer { queue.pending = AlertWrites() }
                return (queue.pending, queue.pendingThrough)
            }
            guard let (batch, through) = next else { return }
            let error: String? = await runOnPool { [self] in
                database.withLock { database in
                    do throws(AlertStateError) {
                        try database.commit(batch)
                    } catch {
                        return "\(error)"
                    }
                    depths.withLock { $0 = Self.depths(of: database) }
                    return nil
                }
            }
            if let error {
                commitFailures.increment()
                let decision = failureLog.check("commit")
                if decision.emit {
                    logger.error("cannot save alert state, will retry: \(error)", metadata: ["suppressed_since_last": "\(decision.suppressed)"])
                }
                let waiters = queue.withLock { queue in
                    // Put the batch back in front of anything submitted meanwhile.
                    var retry = batch
                    retry.merge(queue.pending)
                    queue.pending = retry
                    queue.lastError = error
                    return queue.waiters.take { $0.ticket <= through }.map(\.continuation)
                }
                for waiter in waiters { waiter.resume(returning: false) }
                try? await Task.sleep(for: backoff.nextDelay())
                continue
            }
            backoff.reset()
            let waiters = queue.withLock { queue in
                queue.savedThrough = max(queue.savedThrough, through)
                queue.lastError = nil
                return queue.waiters.take { $0.ticket <= through }.map(\.continuation)
            }
            for waiter in waiters { waiter.resume(returning: true) }
            for notifier in batch.notifiers { doorbells[notifier]?.ring() }
        }
    }

    // MARK: outbox (for the deliverers)

    func outboxHead(_ notifier: String) async -> AlertDatabase.OutboxEntry? {
        await runOnPool { [self] in
            database.withLock { database in
                do { return try database.head(notifier: notifier) } catch {
                    logger.error("cannot read the alert outbox: \(error)")
                    return nil
                }
            }
        }
    }

    func markDelivered(_ entry: AlertDatabase.OutboxEntry) async {
        await update("cannot update the alert outbox") { database throws(AlertStateError) in try database.delivered(id: entry.id) }
    }

    func markFailed(_ entry: AlertDatabase.OutboxEntry, error: String, retryAtMs: Int64) async {
        await update("cannot update the alert outbox") { database throws(AlertStateError) in
            try database.failed(id: entry.id, error: error, nextAttemptMs: retryAtMs)
        }
    }

    /// Queued notifications per notifier, as of the last change (no SQL: /metrics reads it).
    func outboxDepths() -> [String: OutboxDepth] { depths.withLock { $0 } }

    private func update(_ what: String, _ body: @escaping @Sendable (AlertDatabase) throws(AlertStateError) -> Void) async {
        await runOnPool { [self] in
            database.withLock { database in
                do throws(AlertStateError) {
                    try body(database)
                    depths.withLock { $0 = Self.depths(of: database) }
                } catch {
                    logger.error("\(what): \(error)")
                }
            }
        }
    }

    private static func depths(of database: AlertDatabase) -> [String: OutboxDepth] {
        ((try? database.outboxStatistics()) ?? [:]).mapValues { OutboxDepth(depth: $0.depth, oldestMs: $0.oldestMs) }
    }

    /// One thread for every `alerts.db` of the process (there is one per gateway), started on
    /// first use and kept for the process's life, like NIO's singleton pool.
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Runs blocking SQLite work on the alert state's own thread; inline if the pool is not
    /// active, so a late call at exit still completes.
    private func runOnPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        (try? await Self.pool.runIfActive(body)) ?? body()
    }
}

extension Array {
    /// Removes and returns the elements matching `predicate`.
    fileprivate mutating func take(where predicate: (Element) -> Bool) -> [Element] {
        let taken = filter(predicate)
        removeAll(where: predicate)
        return taken
    }
}
