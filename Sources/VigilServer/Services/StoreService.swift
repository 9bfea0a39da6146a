import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilStore

/// Lands every reading from the bus in the metric store.
///
/// Appends happen as batches arrive (in memory, cheap); a flush every `store.flush_interval`
/// commits them in one transaction. Compaction, rollups and retention run in small slices on a
/// timer. Everything that touches the disk runs on NIO's blocking thread pool, never on the
/// concurrency pool, so a slow fsync cannot stall the event loops or ingest.
///
/// On shutdown the service keeps consuming until the bus is finished (after the sources have
/// stopped), then flushes once more: nothing accepted is lost. Readings keep flowing into the
/// store during the drain; the store is written before the HTTP listener closes.
struct StoreService: Service {
    let store: MetricStore
    let subscription: ReadingSubscription
    /// Settles every batch per source: stored, replaced, refused by the store.
    let ledger: IngestLedger
    let flushInterval: Duration
    let health: StoreHealth
    let logger: Logger
    let rateLimiter = RateLimiter(burst: 3, window: .seconds(60))

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await consume() }
            group.addTask { await flushLoop() }
            group.addTask { await maintenanceLoop() }
            await group.next()  // the consumer ends when the bus is finished
            group.cancelAll()
        }
        // The last flush runs here, synchronously: this task may be cancelled by now (a shutdown
        // past its grace period), and a cancelled hop to the thread pool would skip it. It cuts
        // every head, so the next start has no log to read back.
        do {
            try store.checkpoint()
        } catch {
            health.failed("\(error)")
            logger.error("final store flush failed: \(error)")
        }
        let counters = store.counters
        logger.notice("store closed", metadata: [
            "samples_flushed": "\(counters.flushed)", "series": "\(store.seriesCount)", "path": "\(store.options.path)",
        ])
        // The bus can finish before this service's turn in the shutdown order; a service that
        // returns before its turn fails the whole group, so wait for it.
        try? await gracefulShutdown()
    }

    private func consume() async {
        while let batches = await subscription.nextBatches() {
            for batch in batches {
                let result = store.append(batch.readings)
                ledger.settled(batch.source, stored: result.accepted - result.replaced, duplicate: result.replaced,
                               refused: [("too_old", result.tooOld), ("non_finite_value", result.invalid)])
                if result.tooOld > 0 { warn("too_old", "samples older than the out-of-order window dropped", count: result.tooOld) }
                if result.invalid > 0 { warn("invalid", "NaN or infinite values dropped", count: result.invalid) }
            }
        }
    }

    private func flushLoop() async {
        while (try? await Task.sleep(for: flushInterval)) != nil {
            await flush()
        }
    }

    private func flush() async {
        let store = self.store
        let started = ContinuousClock.now
        do {
            try await NIOThreadPool.singleton.runIfActive { try store.flush() }
            health.flushed(duration: ContinuousClock.now - started)
        } catch is CancellationError {
            return  // shutting down: the final flush in run() commits what is pending
        } catch {
            health.failed("\(error)")
            warn("flush", "flush failed; samples stay in memory and are retried: \(error)", count: 1)
        }
    }

    /// Compaction every 5 s, rollups every 30 s, retention every minute, each a bounded slice.
    private func maintenanceLoop() async {
        let store = self.store
        var tick = 0
        while (try? await Task.sleep(for: .seconds(5))) != nil {
            tick += 1
            let (rollUp, retention) = (tick % 6 == 0, tick % 12 == 0)
            do {
                try await NIOThreadPool.singleton.runIfActive {
                    try store.compact(maxSeries: 64)
                    if rollUp { try store.rollUp(maxBlocks: 16) }
                    if retention {
                        try store.applyRetention(maxRows: 2000)
                        // Compaction and retention free pages; give them back once they pile up.
                        try store.reclaimFreePages()
                    }
                }
            } catch {
                warn("maintenance", "background maintenance failed: \(error)", count: 1)
            }
        }
    }

    private func warn(_ key: String, _ message: String, count: Int) {
        let decision = rateLimiter.check(key)
        guard decision.emit else { return }
        var metadata: Logger.Metadata = ["count": "\(count)"]
        if decision.suppressed > 0 { metadata["suppressed_since_last"] = "\(decision.suppressed)" }
        logger.warning("store: \(message)", metadata: metadata)
    }
}

/// The store's state for /readyz and /metrics: ready while the last flush succeeded.
final class StoreHealth: Sendable {
    private struct State {
        var lastError: String?
        var lastFlushSeconds = 0.0
    }
    private let state = Mutex(State())

    func flushed(duration: Duration) {
        state.withLock {
            $0.lastError = nil
            $0.lastFlushSeconds = duration.inSeconds
        }
    }

    func failed(_ error: String) { state.withLock { $0.lastError = error } }

    var lastError: String? { state.withLock { $0.lastError } }
    var lastFlushSeconds: Double { state.withLock { $0.lastFlushSeconds } }
}
