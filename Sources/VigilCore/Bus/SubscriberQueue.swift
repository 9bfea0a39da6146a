import Synchronization

/// Readings one source put on the bus in one call.
public struct ReadingBatch: Sendable {
    /// The source's name (`mqtt/local`, `serial/scale`), for the ingest ledger.
    public let source: String
    public let readings: [Reading]

    public init(source: String, readings: [Reading]) {
        self.source = source
        self.readings = readings
    }
}

/// A bounded multi-producer, single-consumer queue of reading batches with a drop-oldest policy.
/// See `ReadingBus` for why the oldest data is the one to go.
final class SubscriberQueue: Sendable {
    private struct State {
        var batches: [ReadingBatch] = []
        var head = 0
        var pending = 0
        var waiter: CheckedContinuation<[ReadingBatch]?, Never>?
        var finished = false
        var delivered: UInt64 = 0
        var dropped: UInt64 = 0

        /// Everything queued, as published, and counted as delivered.
        mutating func drain() -> [ReadingBatch] {
            defer {
                batches.removeAll(keepingCapacity: batches.count <= 64)
                head = 0
                pending = 0
            }
            delivered += UInt64(pending)
            return Array(batches[head...])
        }
    }

    let name: String
    let capacity: Int
    /// Told of every batch dropped to make room (the store's queue settles them in the ledger).
    let onDrop: (@Sendable (ReadingBatch) -> Void)?
    private let state = Mutex(State())

    init(name: String, capacity: Int, onDrop: (@Sendable (ReadingBatch) -> Void)? = nil) {
        self.name = name
        self.capacity = capacity
        self.onDrop = onDrop
    }

    func push(_ batch: ReadingBatch) {
        var droppedBatches: [ReadingBatch] = []
        let waiter: CheckedContinuation<[ReadingBatch]?, Never>? = state.withLock { state in
            if state.finished { return nil }
            if let waiter = state.waiter {
                // The consumer is parked, so nothing is queued: hand the batch over directly.
                state.waiter = nil
                state.delivered += UInt64(batch.readings.count)
                return waiter
            }
            while state.pending + batch.readings.count > capacity, state.head < state.batches.count {
                let oldest = state.batches[state.head]
                state.batches[state.head] = ReadingBatch(source: oldest.source, readings: [])
                state.head += 1
                state.pending -= oldest.readings.count
                state.dropped += UInt64(oldest.readings.count)
                if onDrop != nil { droppedBatches.append(oldest) }
            }
            if state.head > 256, state.head * 2 > state.batches.count {
                state.batches.removeFirst(state.head)
                state.head = 0
            }
            state.batches.append(batch)
            state.pending += batch.readings.count
            return nil
        }
        for dropped in droppedBatches { onDrop?(dropped) }
        waiter?.resume(returning: [batch])
    }

    /// Every reading that arrived since the previous call, in arrival order, merged.
    func next() async -> [Reading]? {
        guard let batches = await nextBatches() else { return nil }
        if batches.count == 1 { return batches[0].readings }
        var all: [Reading] = []
        all.reserveCapacity(batches.reduce(0) { $0 + $1.readings.count })
        for batch in batches { all.append(contentsOf: batch.readings) }
        return all
    }

    /// Every batch that arrived since the previous call, as published (with its source).
    func nextBatches() async -> [ReadingBatch]? {
        // Fast path: something is queued already.
        enum Outcome { case batches([ReadingBatch]), end, wait }
        let immediate: Outcome = state.withLock { state in
            if state.pending > 0 { return .batches(state.drain()) }
            return state.finished ? .end : .wait
        }
        switch immediate {
        case .batches(let batches): return batches
        case .end: return nil
        case .wait: break
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[ReadingBatch]?, Never>) in
                let outcome: Outcome = state.withLock { state in
                    if state.pending > 0 { return .batches(state.drain()) }
                    if state.finished || Task.isCancelled { return .end }
                    state.waiter = continuation
                    return .wait
                }
                switch outcome {
                case .batches(let batches): continuation.resume(returning: batches)
                case .end: continuation.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    func takePending() -> [Reading] {
        state.withLock { state in
            guard state.pending > 0 else { return [] }
            return state.drain().flatMap(\.readings)
        }
    }

    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    func statistics() -> SubscriberStatistics {
        state.withLock { state in
            SubscriberStatistics(
                name: name, capacity: capacity, pending: state.pending,
                delivered: state.delivered, dropped: state.dropped)
        }
    }
}
