import Synchronization

/// A bounded multi-producer, single-consumer queue of reading batches with a drop-oldest policy.
/// See `ReadingBus` for why the oldest data is the one to go.
final class SubscriberQueue: Sendable {
    private struct State {
        var batches: [[Reading]] = []
        var head = 0
        var pending = 0
        var waiter: CheckedContinuation<[Reading]?, Never>?
        var finished = false
        var delivered: UInt64 = 0
        var dropped: UInt64 = 0

        mutating func drain() -> [Reading] {
            defer {
                batches.removeAll(keepingCapacity: batches.count <= 64)
                head = 0
                pending = 0
            }
            if batches.count - head == 1 { return batches[head] }
            var all: [Reading] = []
            all.reserveCapacity(pending)
            for batch in batches[head...] { all.append(contentsOf: batch) }
            return all
        }
    }

    let name: String
    let capacity: Int
    private let state = Mutex(State())

    init(name: String, capacity: Int) {
        self.name = name
        self.capacity = capacity
    }

    func push(_ batch: [Reading]) {
        let waiter: CheckedContinuation<[Reading]?, Never>? = state.withLock { state in
            if state.finished { return nil }
            if let waiter = state.waiter {
                // The consumer is parked, so nothing is queued: hand the batch over directly.
                state.waiter = nil
                state.delivered += UInt64(batch.count)
                return waiter
            }
            while state.pending + batch.count > capacity, state.head < state.batches.count {
                let oldest = state.batches[state.head]
                state.batches[state.head] = []
                state.head += 1
                state.pending -= oldest.count
                state.dropped += UInt64(oldest.count)
            }
            if state.head > 256, state.head * 2 > state.batches.count {
                state.batches.removeFirst(state.head)
                state.head = 0
            }
            state.batches.append(batch)
            state.pending += batch.count
            return nil
        }
        waiter?.resume(returning: batch)
    }

    func next() async -> [Reading]? {
        // Fast path: something is queued already.
        enum Outcome { case readings([Reading]), end, wait }
        let immediate: Outcome = state.withLock { state in
            if state.pending > 0 {
                state.delivered += UInt64(state.pending)
                return .readings(state.drain())
            }
            return state.finished ? .end : .wait
        }
        switch immediate {
        case .readings(let readings): return readings
        case .end: return nil
        case .wait: break
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Reading]?, Never>) in
                let outcome: Outcome = state.withLock { state in
                    if state.pending > 0 {
                        state.delivered += UInt64(state.pending)
                        return .readings(state.drain())
                    }
                    if state.finished || Task.isCancelled { return .end }
                    state.waiter = continuation
                    return .wait
                }
                switch outcome {
                case .readings(let readings): continuation.resume(returning: readings)
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
            state.delivered += UInt64(state.pending)
            return state.drain()
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
