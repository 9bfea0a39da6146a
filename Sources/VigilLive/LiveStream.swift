import NIOCore
import Synchronization
import VigilCore
import VigilStore
import VigilWebSocket

/// One console's stream of numbered messages. It outlives its WebSocket connection for
/// `http.ws.resume_window`, so a client that reconnects can `resume` from its last sequence
/// number: what was sent is kept in a bounded replay ring, what could not be sent yet (the
/// connection was not writable, or there was none) waits in a bounded queue. A client that falls
/// behind gets conflated updates (latest value per series); past the hard limit it is closed with
/// 1013. The connection that owns the stream (`owner`) is the only one that may number messages.
package final class LiveStream: Sendable {
    /// A reading encoded once as a JSON object, shared by every stream it goes to.
    package struct Fragment: Sendable {
        /// The reading's series (conflation keeps the newest per series): the reading's own key,
        /// which costs nothing, where its text form was a string per reading.
        let key: SeriesKey
        let json: ByteBuffer
    }

    /// A numbered message kept for replay. An update is stored as its body (shared with every
    /// stream that got the same readings); its per-stream start is rebuilt from `seq`.
    package struct Entry: Sendable {
        let seq: UInt64
        let body: ByteBuffer
        let isUpdate: Bool
    }

    package enum Offer {
        /// Send now, numbered from `first` on.
        case send(first: UInt64)
        case queued
        case overflowed
        case notOwner
        case duplicate
    }

    /// A batch waiting for the connection: the update bodies every stream with the same
    /// subscriptions was offered (sent as they are, so a backlog shares its bytes and its replay
    /// entries with the other consoles instead of holding bodies of its own), and the readings in
    /// them, for conflation. Without bodies (a parked stream), bodies are made from the readings
    /// when drained.
    struct Queued {
        let bodies: [ByteBuffer]
        let fragments: [Fragment]
        /// Where each body's readings end in `fragments` (`LiveMessages.updateEnds`).
        let ends: [Int]
        /// Bodies already sent.
        var sent = 0

        init(bodies: [ByteBuffer], fragments: [Fragment]) {
            self.bodies = bodies
            self.fragments = fragments
            ends = LiveMessages.updateEnds(sizes: fragments.lazy.map(\.json.readableBytes))
        }

        /// The readings of body `index`.
        func readings(_ index: Int) -> ArraySlice<Fragment> { fragments[(index == 0 ? 0 : ends[index - 1])..<ends[index]] }

        /// The readings not yet sent.
        var unsent: ArraySlice<Fragment> { fragments[(sent == 0 ? 0 : ends[sent - 1])...] }
    }

    package struct State {
        var subscriptions: [Int: LiveSubscription] = [:]
        var queued: [Queued] = []
        /// Readings in `queued`.
        var queuedReadings = 0
        /// Conflation mode: latest fragment per series, in first-arrival order.
        var conflated: [SeriesKey: ByteBuffer]?
        var conflatedOrder: [SeriesKey] = []
        var seq: UInt64 = 0
        var ring: [Entry] = []
        var ringHead = 0
        /// Bytes of the bodies in `ring[ringHead...]`.
        var ringBytes = 0
        var owner = 0
        var detachedAtMs: Int64?
        var overflowed = false
        /// The last broadcast batch applied: a batch reaches a stream once, through its connection
        /// or (detached) through the hub, even while a resume moves it between the two.
        var lastBatch: UInt64 = 0

        var hasBacklog: Bool { !queued.isEmpty || conflated != nil }
    }

    package let id: String
    package let owner: String
    package let settings: LiveSettings
    private let state = Mutex(State())

    package init(id: String, owner: String, settings: LiveSettings) {
        self.id = id
        self.owner = owner
        self.settings = settings
    }

    package var subscriptions: [Int: LiveSubscription] { state.withLock { $0.subscriptions } }

    package func subscribe(_ id: Int, _ subscription: LiveSubscription) -> [Int: LiveSubscription] {
        state.withLock { $0.subscriptions[id] = subscription; return $0.subscriptions }
    }

    package func subscribe(_ id: Int, _ selector: SeriesSelector) -> [Int: LiveSubscription] { subscribe(id, .selector(selector)) }

    /// Adds and removes series of a `series` subscription (the console scrolled). Nil when `id`
    /// is not a series subscription of this stream.
    package func change(_ id: Int, adding: [SeriesKey], removing: [SeriesKey]) -> [Int: LiveSubscription]? {
        state.withLock { state -> [Int: LiveSubscription]? in
            guard case .series(var keys) = state.subscriptions[id] else { return nil }
            for key in removing { keys.remove(key) }
            keys.formUnion(adding)
            state.subscriptions[id] = .series(keys)
            return state.subscriptions
        }
    }

    package func unsubscribe(_ id: Int) -> [Int: LiveSubscription] {
        state.withLock { _ = $0.subscriptions.removeValue(forKey: id); return $0.subscriptions }
    }

    // MARK: Updates

    /// An update for the owning connection: numbered now when it can be written now and nothing
    /// older waits; queued otherwise.
    package func offer(owner: Int, batch: UInt64, bodies: [ByteBuffer], fragments: [Fragment], writable: Bool) -> Offer {
        state.withLock { state -> Offer in
            guard state.owner == owner else { return .notOwner }
            guard batch > state.lastBatch else { return .duplicate }
            state.lastBatch = batch
            if writable, !state.hasBacklog {
                let first = state.seq + 1
                for body in bodies {
                    state.seq += 1
                    Self.remember(&state, Entry(seq: state.seq, body: body, isUpdate: true), settings: settings)
                }
                return .send(first: first)
            }
            Self.enqueue(&state, Queued(bodies: bodies, fragments: fragments), settings: settings)
            return state.overflowed ? .overflowed : .queued
        }
    }

    /// Queues a batch's matching readings for a stream that has no connection.
    package func enqueueDetached(batch: UInt64, select: ([LiveSubscription]) -> [Fragment]) {
        state.withLock { state in
            guard state.owner == 0, batch > state.lastBatch, !state.subscriptions.isEmpty else { return }
            state.lastBatch = batch
            guard !state.overflowed else { return }
            let chosen = select(Array(state.subscriptions.values))
            guard !chosen.isEmpty else { return }
            // Without a connection nothing drains the queue, so it does not conflate: past
            // `send_queue` readings the stream overflows (a resume gets `resync`) and its queue
            // and replay buffer go, so parked streams cost little for the resume window.
            if state.queuedReadings + chosen.count > settings.sendQueue || state.conflated != nil {
                Self.overflow(&state)
            } else {
                state.queued.append(Queued(bodies: [], fragments: chosen))
                state.queuedReadings += chosen.count
            }
        }
    }

    private static func enqueue(_ state: inout State, _ batch: Queued, settings: LiveSettings) {
        guard !state.overflowed, !batch.fragments.isEmpty else { return }
        if state.conflated != nil {
            for fragment in batch.fragments {
                if state.conflated![fragment.key] == nil { state.conflatedOrder.append(fragment.key) }
                state.conflated![fragment.key] = fragment.json
            }
        } else {
            state.queued.append(batch)
            state.queuedReadings += batch.fragments.count
            if state.queuedReadings > settings.sendQueue {
                var latest: [SeriesKey: ByteBuffer] = [:]
                var order: [SeriesKey] = []
                for queued in state.queued {
                    for fragment in queued.unsent {
                        if latest[fragment.key] == nil { order.append(fragment.key) }
                        latest[fragment.key] = fragment.json
                    }
                }
                state.queued = []
                state.queuedReadings = 0
                state.conflated = latest
                state.conflatedOrder = order
            }
        }
        if (state.conflated?.count ?? 0) > settings.sendQueueHardLimit { overflow(&state) }
    }

    /// For a connection closed because it stopped reading: what waits goes, and a resume of the
    /// stream gets `resync`.
    package func dropBacklog() { state.withLock { Self.overflow(&$0) } }

    /// Drops everything queued and the replay buffer: only a fresh snapshot is whole again.
    private static func overflow(_ state: inout State) {
        state.overflowed = true
        state.conflated = nil
        state.conflatedOrder = []
        state.queued = []
        state.queuedReadings = 0
        state.ring = []
        state.ringHead = 0
        state.ringBytes = 0
    }

    /// The next queued update body, numbered now and kept for replay: a queued batch's own bodies
    /// one by one, or (conflated, or a parked stream's readings) up to `limit` readings.
    package func drain(owner: Int, nowMs: Int64, limit: Int = LiveMessages.maxReadingsPerUpdate, allocator: ByteBufferAllocator) -> (seq: UInt64, body: ByteBuffer)? {
        state.withLock { state -> (UInt64, ByteBuffer)? in
            guard state.owner == owner else { return nil }
            let body: ByteBuffer
            if state.conflated != nil {
                var jsons: [ByteBuffer] = []
                let take = state.conflatedOrder.prefix(limit)
                for key in take { if let json = state.conflated![key] { jsons.append(json) } }
                for key in take { state.conflated![key] = nil }
                state.conflatedOrder.removeFirst(take.count)
                if state.conflatedOrder.isEmpty { state.conflated = nil }
                guard !jsons.isEmpty else { return nil }
                body = LiveMessages.updateBody(nowMs: nowMs, readings: jsons, allocator: allocator)
            } else if var batch = state.queued.first {
                let readings = batch.readings(batch.sent)
                body = batch.bodies.count == batch.ends.count
                    ? batch.bodies[batch.sent]
                    : LiveMessages.updateBody(nowMs: nowMs, readings: readings.map(\.json), allocator: allocator)
                batch.sent += 1
                state.queuedReadings -= readings.count
                if batch.sent >= batch.ends.count { state.queued.removeFirst() } else { state.queued[0] = batch }
            } else {
                return nil
            }
            state.seq += 1
            Self.remember(&state, Entry(seq: state.seq, body: body, isUpdate: true), settings: settings)
            return (state.seq, body)
        }
    }

    package var overflowed: Bool { state.withLock { $0.overflowed } }

    /// A numbered message that is not an update (a snapshot), kept for replay like updates.
    /// The caller builds it from the number; nil when `owner` no longer owns the stream.
    package func numbered(owner: Int, _ build: (UInt64) -> ByteBuffer) -> ByteBuffer? {
        state.withLock { state in
            guard state.owner == owner else { return nil }
            state.seq += 1
            let message = build(state.seq)
            Self.remember(&state, Entry(seq: state.seq, body: message, isUpdate: false), settings: settings)
            return message
        }
    }

    private static func remember(_ state: inout State, _ entry: Entry, settings: LiveSettings) {
        guard settings.replayBuffer > 0, entry.body.readableBytes <= settings.replayBytes else {
            // Too large to keep: nothing older may be replayed past it either.
            state.ring.removeAll(keepingCapacity: false)
            state.ringHead = 0
            state.ringBytes = 0
            return
        }
        state.ring.append(entry)
        state.ringBytes += entry.body.readableBytes
        while state.ring.count - state.ringHead > settings.replayBuffer || state.ringBytes > settings.replayBytes {
            state.ringBytes -= state.ring[state.ringHead].body.readableBytes
            state.ring[state.ringHead] = Entry(seq: 0, body: ByteBuffer(), isUpdate: false)  // let the body go now
            state.ringHead += 1
        }
        if state.ringHead > 256, state.ringHead * 2 > state.ring.count {
            state.ring.removeFirst(state.ringHead)
            state.ringHead = 0
        }
    }

    // MARK: Ownership

    /// Takes the stream for a connection. With `after`, for a resume: the messages after that
    /// sequence number to send again, or nil when the ring no longer reaches back that far (the
    /// client must take a fresh snapshot; the stream is then left as it was).
    package func attach(owner: Int, after seq: UInt64? = nil) -> [Entry]? {
        state.withLock { state -> [Entry]? in
            var missed: [Entry] = []
            // An overflowed stream dropped readings it had queued: whatever the client saw last,
            // only a fresh snapshot is whole again.
            if seq != nil, state.overflowed { return nil }
            if let seq, seq != state.seq {
                guard seq < state.seq else { return nil }
                let kept = state.ring[state.ringHead...]
                guard let first = kept.first, first.seq <= seq + 1 else { return nil }
                missed = kept.filter { $0.seq > seq }
            }
            state.owner = owner
            state.detachedAtMs = nil
            return missed
        }
    }

    /// Lets go of the stream when `owner` still has it; true when it did.
    package func detach(owner: Int, nowMs: Int64) -> Bool {
        state.withLock { state in
            guard state.owner == owner else { return false }
            state.owner = 0
            state.detachedAtMs = nowMs
            return true
        }
    }

    /// Detached for longer than `window`: the hub forgets the stream.
    package func expired(nowMs: Int64, window: Int64) -> Bool {
        state.withLock { state in state.detachedAtMs.map { nowMs - $0 > window } ?? false }
    }
}
