import Synchronization

/// The fan-out point between ingest and everything that consumes readings (store, live hub,
/// alert engine, the demo's activity log).
///
/// `publish` never blocks and never waits for a consumer: a source on a C library's thread can
/// call it directly. Each subscriber has its own bounded queue.
///
/// **Lagging subscriber policy.** When a subscriber already has `capacity` readings waiting,
/// the oldest waiting batches are dropped to make room for the new one, and the dropped readings
/// are counted (`SubscriberStatistics.dropped`, exported as
/// `vigil_bus_dropped_readings_total{subscriber}`). Newest data wins because every consumer
/// here cares more about the present than about a backlog it cannot catch up with; a slow
/// subscriber never slows ingest or the other subscribers.
public final class ReadingBus: Sendable {
    private struct Registry {
        var queues: [SubscriberQueue] = []
        var finished = false
    }

    private let registry = Mutex(Registry())

    public init() {}

    /// Adds a subscriber. `capacity` bounds how many readings may wait for it (at least 1);
    /// `onDrop` hears of every batch dropped because the subscriber lagged that far behind.
    public func subscribe(_ name: String, capacity: Int,
                          onDrop: (@Sendable (ReadingBatch) -> Void)? = nil) -> ReadingSubscription {
        let queue = SubscriberQueue(name: name, capacity: max(1, capacity), onDrop: onDrop)
        let finished = registry.withLock { registry in
            registry.queues.append(queue)
            return registry.finished
        }
        if finished { queue.finish() }
        return ReadingSubscription(queue: queue, bus: self)
    }

    /// Hands a batch of `source`'s readings to every subscriber. Cheap: no copy of the readings,
    /// no suspension.
    public func publish(_ readings: [Reading], source: String) {
        guard !readings.isEmpty else { return }
        let batch = ReadingBatch(source: source, readings: readings)
        let queues = registry.withLock { $0.queues }
        for queue in queues { queue.push(batch) }
    }

    public func publish(_ reading: Reading, source: String) { publish([reading], source: source) }

    /// Ends every subscription: consumers receive what is still queued, then the end.
    /// Called during shutdown once ingest has stopped.
    public func finish() {
        let queues = registry.withLock { registry in
            registry.finished = true
            return registry.queues
        }
        for queue in queues { queue.finish() }
    }

    public func statistics() -> [SubscriberStatistics] {
        registry.withLock { $0.queues }.map { $0.statistics() }
    }

    fileprivate func remove(_ queue: SubscriberQueue) {
        registry.withLock { registry in registry.queues.removeAll { $0 === queue } }
    }
}

public struct SubscriberStatistics: Sendable, Equatable {
    public let name: String
    public let capacity: Int
    /// Readings waiting to be taken.
    public let pending: Int
    /// Readings handed to the consumer so far.
    public let delivered: UInt64
    /// Readings dropped because the subscriber lagged `capacity` behind.
    public let dropped: UInt64
}

/// One subscriber's view of the bus: an async sequence of batches. Each `next()` returns every
/// reading that arrived since the previous call, in arrival order, so a consumer that falls
/// behind naturally works in bigger batches.
public struct ReadingSubscription: AsyncSequence, Sendable {
    public typealias Element = [Reading]
    fileprivate let queue: SubscriberQueue
    fileprivate let bus: ReadingBus

    public var name: String { queue.name }

    /// Waits for readings; nil once the bus is finished (after the queue is drained) or the task
    /// is cancelled.
    public func next() async -> [Reading]? { await queue.next() }

    /// Whatever is queued now, without waiting (empty when nothing is). For a final drain.
    public func takePending() -> [Reading] { queue.takePending() }

    /// Like `next()`, but the batches as published, each with its source (for the ingest ledger).
    public func nextBatches() async -> [ReadingBatch]? { await queue.nextBatches() }

    /// Stops delivery to this subscriber and forgets it.
    public func cancel() {
        queue.finish()
        bus.remove(queue)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let queue: SubscriberQueue
        public mutating func next() async -> [Reading]? { await queue.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: queue) }
}
