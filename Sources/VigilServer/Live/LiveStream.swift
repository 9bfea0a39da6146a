import Synchronization
import VigilCore
import VigilStore

/// One console's stream of updates. It outlives its WebSocket connection for
/// `http.ws.resume_window`, so a client that reconnects can `resume` from its last sequence
/// number: what was sent is kept in a bounded replay ring, what was not sent yet waits in a bounded
/// queue. A client that falls behind gets conflated updates (latest value per series); past the
/// hard limit it is closed with 1013.
final class LiveStream: Sendable {
    struct Fragment: Sendable {
        let key: String
        let json: String
    }

    struct State {
        var subscriptions: [Int: SeriesSelector] = [:]
        var pending: [Fragment] = []
        /// Conflation mode: latest fragment per series, in first-arrival order.
        var conflated: [String: String]?
        var conflatedOrder: [String] = []
        var seq: UInt64 = 0
        var ring: [(seq: UInt64, message: String)] = []
        var ringHead = 0
        var wakeup: AsyncStream<Void>.Continuation?
        /// Which connection is attached: a late detach from an earlier one must not cut off the
        /// connection that resumed the stream.
        var attachment = 0
        var detachedAtMs: Int64?
        var overflowed = false
    }

    let id: String
    let owner: String
    let settings: HTTPSettings.WebSocketSettings
    private let state = Mutex(State())

    init(id: String, owner: String, settings: HTTPSettings.WebSocketSettings) {
        self.id = id
        self.owner = owner
        self.settings = settings
    }

    var subscriptions: [Int: SeriesSelector] { state.withLock { $0.subscriptions } }

    func subscribe(_ id: Int, _ selector: SeriesSelector) { state.withLock { $0.subscriptions[id] = selector } }
    func unsubscribe(_ id: Int) { state.withLock { _ = $0.subscriptions.removeValue(forKey: id) } }

    /// Queues update fragments; conflates when the queue is long. Returns false once the stream
    /// has overflowed its hard limit.
    @discardableResult
    func enqueue(_ fragments: [Fragment]) -> Bool {
        let (wakeup, ok) = state.withLock { state -> (AsyncStream<Void>.Continuation?, Bool) in
            if state.conflated != nil {
                for fragment in fragments {
                    if state.conflated![fragment.key] == nil { state.conflatedOrder.append(fragment.key) }
                    state.conflated![fragment.key] = fragment.json
                }
            } else {
                state.pending += fragments
                if state.pending.count > settings.sendQueue {
                    var latest: [String: String] = [:]
                    var order: [String] = []
                    for fragment in state.pending {
                        if latest[fragment.key] == nil { order.append(fragment.key) }
                        latest[fragment.key] = fragment.json
                    }
                    state.pending = []
                    state.conflated = latest
                    state.conflatedOrder = order
                }
            }
            if (state.conflated?.count ?? 0) > settings.sendQueueHardLimit {
                state.overflowed = true
                state.conflated = [:]
                state.conflatedOrder = []
            }
            return (state.wakeup, !state.overflowed)
        }
        wakeup?.yield()
        return ok
    }

    var overflowed: Bool { state.withLock { $0.overflowed } }

    /// The next update message (at most `limit` readings), numbered and kept for replay.
    func nextUpdate(limit: Int = 500) -> String? {
        state.withLock { state -> String? in
            var jsons: [String] = []
            if state.conflated != nil {
                let take = state.conflatedOrder.prefix(limit)
                for key in take { if let json = state.conflated![key] { jsons.append(json) } }
                for key in take { state.conflated![key] = nil }
                state.conflatedOrder.removeFirst(take.count)
                if state.conflatedOrder.isEmpty { state.conflated = nil }
            } else if !state.pending.isEmpty {
                let take = min(limit, state.pending.count)
                jsons = state.pending[..<take].map(\.json)
                state.pending.removeFirst(take)
            }
            guard !jsons.isEmpty else { return nil }
            state.seq += 1
            // `t`: when the server sent it (Unix ms), for the client's latency figures.
            let message = "{\"type\":\"update\",\"seq\":\(state.seq),\"t\":\(WallClock.nowMs()),\"readings\":[" + jsons.joined(separator: ",") + "]}"
            Self.remember(&state, state.seq, message, capacity: settings.replayBuffer)
            return message
        }
    }

    /// A numbered message that is not an update (a snapshot), kept for replay like updates.
    func numbered(_ build: (UInt64) -> String) -> String {
        state.withLock { state in
            state.seq += 1
            let message = build(state.seq)
            Self.remember(&state, state.seq, message, capacity: settings.replayBuffer)
            return message
        }
    }

    private static func remember(_ state: inout State, _ seq: UInt64, _ message: String, capacity: Int) {
        guard capacity > 0 else { return }
        state.ring.append((seq, message))
        if state.ring.count - state.ringHead > capacity { state.ringHead += 1 }
        if state.ringHead > 1024, state.ringHead * 2 > state.ring.count {
            state.ring.removeFirst(state.ringHead)
            state.ringHead = 0
        }
    }

    /// Messages after `seq` for a resuming client, or nil when the ring no longer reaches back
    /// that far (the client must take a fresh snapshot).
    func replay(after seq: UInt64) -> [String]? {
        state.withLock { state -> [String]? in
            if seq == state.seq { return [] }
            guard seq < state.seq, !state.overflowed else { return nil }
            let kept = state.ring[state.ringHead...]
            guard let first = kept.first, first.seq <= seq + 1 else { return nil }
            return kept.filter { $0.seq > seq }.map(\.message)
        }
    }

    /// Connects a writer: returns the signal it waits on for new updates, and its attachment.
    func attach() -> (signal: AsyncStream<Void>, attachment: Int) {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (old, attachment) = state.withLock { state in
            defer {
                state.wakeup = continuation
                state.attachment += 1
                state.detachedAtMs = nil
            }
            return (state.wakeup, state.attachment + 1)
        }
        old?.finish()
        continuation.yield()  // whatever waits already
        return (stream, attachment)
    }

    /// Disconnects the writer of `attachment` (nil: whoever is attached).
    func detach(nowMs: Int64, attachment: Int? = nil) {
        let wakeup = state.withLock { state -> AsyncStream<Void>.Continuation? in
            guard attachment == nil || attachment == state.attachment else { return nil }
            defer {
                state.wakeup = nil
                state.detachedAtMs = nowMs
            }
            return state.wakeup
        }
        wakeup?.finish()
    }

    /// Detached for longer than `window`: the hub forgets the stream.
    func expired(nowMs: Int64, window: Int64) -> Bool {
        state.withLock { state in state.detachedAtMs.map { nowMs - $0 > window } ?? false }
    }
}
