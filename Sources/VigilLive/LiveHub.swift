import FoundationEssentials
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilStore
import VigilWebSocket

/// The live fan-out. One bus subscriber encodes each batch of readings once and hands it to every
/// event loop that has live connections (one task per loop and batch, not per connection); on the
/// loop, connections with the same subscriptions share one encoded (and compressed) update body.
/// Streams whose connection is gone get the batch queued, for `resume_window`.
package final class LiveHub: Service, Sendable {
    package let settings: LiveSettings
    package let store: MetricStore
    package let board: SourceStatusBoard
    package let subscription: ReadingSubscription
    package let logger: Logger
    /// The series seen and their units: units for snapshots (the store keeps none), and new
    /// series announced to every console.
    package let known = SeriesMemory()
    private let shards = Mutex([ObjectIdentifier: LiveShard]())
    /// Every stream, and those waiting without a connection, under one lock: a resume and the
    /// expiry of the same stream must not interleave (with two locks, a stream expired between
    /// the two steps could be resumed and then dropped from the registry while in use).
    private let registry = Mutex(Registry())
    private struct Registry {
        var streams: [String: LiveStream] = [:]
        var detached: [String: LiveStream] = [:]
        /// The last few broadcast batches. A batch handed to a connection's event loop just as the
        /// connection closed reaches neither the connection nor the parked stream (the hub saw
        /// the stream still attached); parking replays what the stream has not applied yet.
        /// Such a batch is on its way for microseconds to milliseconds: keep at most 32, none
        /// older than 2 s, and none while nobody watches.
        var recent: [Batch] = []
    }
    private static let recentBatches = 32
    private static let recentMs: Int64 = 2_000
    private let newest = Atomic<UInt64>(0)
    private let owners = Atomic<Int>(0)
    package let connections = Atomic<Int>(0)
    /// Connections closed because they were too slow or stopped answering pings (self-alert input).
    package let droppedClients = Atomic<Int>(0)
    package let rtt = Metrics.Timer(label: "vigil_live_rtt_seconds", preferredDisplayUnit: .seconds)
    package let connectionsGauge = Gauge(label: "vigil_live_connections")
    package let streamsGauge = Gauge(label: "vigil_live_streams")
    /// How many series `known` holds: its memory grows with them, and past its limit new series
    /// are no longer announced to consoles.
    package let seriesKnownGauge = Gauge(label: "vigil_live_series_known")
    package let closedSlow = Counter(label: "vigil_live_closed_total", dimensions: [("reason", "too_slow")])
    package let closedSilent = Counter(label: "vigil_live_closed_total", dimensions: [("reason", "missed_pings")])
    package let closedStalled = Counter(label: "vigil_live_closed_total", dimensions: [("reason", "stalled")])
    package let slowLog = RateLimiter(burst: 5, window: .seconds(60))

    package init(settings: LiveSettings, store: MetricStore, board: SourceStatusBoard, bus: ReadingBus, logger: Logger) {
        self.settings = settings
        self.store = store
        self.board = board
        self.subscription = bus.subscribe("live", capacity: 200_000)
        self.logger = logger
    }

    package func connected(_ delta: Int) {
        let now = connections.add(delta, ordering: .relaxed).newValue
        connectionsGauge.record(now)
    }

    package func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                var number: UInt64 = 0
                known.seed(store.series(.all))
                seriesKnownGauge.record(known.count)
                for await batch in subscription {
                    number += 1
                    let fresh = known.note(batch)
                    if !fresh.isEmpty {
                        seriesKnownGauge.record(known.count)
                        announce(fresh.map { batch[$0] })
                    }
                    broadcast(batch, number: number)
                }
            }
            group.addTask { [self] in
                while (try? await Task.sleep(for: settings.pingInterval)) != nil { heartbeat() }
            }
            group.addTask { [self] in
                while (try? await Task.sleep(for: .seconds(5))) != nil { expire() }
            }
            group.addTask { [self] in
                // Source status changes go to every connection as `source` events.
                var version = board.stateVersion  // read before the snapshot: no change falls between
                var last = Dictionary(board.snapshot().map { ($0.name, $0) }, uniquingKeysWith: { $1 })
                while (try? await Task.sleep(for: .seconds(1))) != nil {
                    // Thousands of sources (Sparkplug devices) made copying and comparing all of
                    // them every second show in the profile; most seconds nothing changed.
                    let current = board.stateVersion
                    guard current != version else { continue }
                    version = current
                    for status in board.snapshot() {
                        let before = last[status.name]
                        last[status.name] = status
                        guard before?.state != status.state || before?.detail != status.detail || before?.silences != status.silences else { continue }
                        let event = "{\"type\":\"source\"," + LiveMessages.sourceFields(status) + "}"
                        for shard in shards.withLock({ Array($0.values) }) { shard.send(event) }
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
        try? await gracefulShutdown()
        for shard in shards.withLock({ Array($0.values) }) { shard.closeAll() }
    }

    // MARK: Broadcast

    /// One bus batch on its way to the connections. Its readings are encoded as JSON fragments
    /// when a subscription first selects them, once for every connection that gets them: a console
    /// that follows its screen wants a few dozen series of the 10 000 a second, and encoding all of
    /// them for it was most of what it cost the gateway.
    package final class Batch: Sendable {
        let number: UInt64
        let nowMs: Int64
        let readings: [Reading]
        /// Fragments encoded so far, shared by every connection the batch goes to; dropped once
        /// every event loop has delivered the batch (`delivered`), so the recent batches the hub
        /// keeps for parked streams hold readings, not their JSON (with 20 ms hand-offs, 32
        /// batches held thousands of encoded readings).
        private let encoded: Mutex<[LiveStream.Fragment?]>
        private let loopsToGo: Atomic<Int>

        init(number: UInt64, nowMs: Int64, readings: [Reading], loops: Int = 0) {
            self.number = number
            self.nowMs = nowMs
            self.readings = readings
            self.encoded = Mutex(Array(repeating: nil, count: readings.count))
            self.loopsToGo = Atomic(loops)
        }

        /// The fragments of the readings that any of `subscriptions` matches, in batch order.
        func select(_ subscriptions: [LiveSubscription]) -> [LiveStream.Fragment] {
            var chosen: [Int] = []
            for (index, reading) in readings.enumerated() where subscriptions.contains(where: { $0.matches(reading.series) }) {
                chosen.append(index)
            }
            guard !chosen.isEmpty else { return [] }
            return encoded.withLock { encoded in
                let allocator = ByteBufferAllocator()
                let caching = encoded.count == readings.count
                return chosen.map { index in
                    if caching, let fragment = encoded[index] { return fragment }
                    let reading = readings[index]
                    let fragment = LiveStream.Fragment(key: reading.series, json: LiveMessages.reading(reading, allocator: allocator))
                    if caching { encoded[index] = fragment }
                    return fragment
                }
            }
        }

        /// An event loop is done with the batch; after the last, the cache goes.
        func delivered() {
            guard loopsToGo.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
            encoded.withLock { $0 = [] }
        }
    }

    package func broadcast(_ readings: [Reading], number: UInt64) {
        // Nobody watching and no stream waiting to be resumed: encoding every reading for no one
        // was most of the gateway's ingest CPU (measured with bench/mqtt and perf: 40 %).
        newest.store(number, ordering: .relaxed)
        guard connections.load(ordering: .relaxed) > 0 || registry.withLock({ registry in
            if registry.detached.isEmpty, !registry.recent.isEmpty { registry.recent = [] }
            return !registry.detached.isEmpty
        }) else { return }
        let loops = shards.withLock { Array($0.values) }
        let batch = Batch(number: number, nowMs: WallClock.nowMs(), readings: readings, loops: loops.count)
        for shard in loops { shard.deliver(batch) }
        let parked = registry.withLock { registry -> [LiveStream] in
            registry.recent.append(batch)
            let oldest = registry.recent.firstIndex { batch.nowMs - $0.nowMs <= Self.recentMs } ?? 0
            registry.recent.removeFirst(max(oldest, registry.recent.count - Self.recentBatches))
            return Array(registry.detached.values)
        }
        for stream in parked { stream.enqueueDetached(batch: number) { batch.select($0) } }
    }

    /// Series seen for the first time go to every connection (`series`, unnumbered), whatever it
    /// subscribed to: consoles add them to their tree and search at once.
    package func announce(_ readings: [Reading]) {
        guard connections.load(ordering: .relaxed) > 0 else { return }
        let allocator = ByteBufferAllocator()
        for start in stride(from: 0, to: readings.count, by: LiveMessages.maxReadingsPerUpdate) {
            let part = readings[start..<min(start + LiveMessages.maxReadingsPerUpdate, readings.count)]
            sendEvent("{\"type\":\"series\",\"readings\":[" + part.map { String(buffer: LiveMessages.reading($0, allocator: allocator)) }.joined(separator: ",") + "]}")
        }
    }

    /// An unnumbered event (`alert`, …) to every live connection.
    package func sendEvent(_ event: String) {
        for shard in shards.withLock({ Array($0.values) }) { shard.send(event) }
    }

    package func heartbeat() {
        for shard in shards.withLock({ Array($0.values) }) { shard.heartbeat() }
    }

    // MARK: Connections and streams

    package func shard(for loop: any EventLoop) -> LiveShard {
        shards.withLock { shards in
            if let shard = shards[ObjectIdentifier(loop)] { return shard }
            let shard = LiveShard(loop: loop)
            shards[ObjectIdentifier(loop)] = shard
            return shard
        }
    }

    package func newOwner() -> Int { owners.add(1, ordering: .relaxed).newValue }

    package func newStream(owner: String) -> LiveStream {
        let stream = LiveStream(id: Secrets.hex(Secrets.randomBytes(12)), owner: owner, settings: settings)
        registry.withLock { $0.streams[stream.id] = stream }
        return stream
    }

    /// Takes over a stream for a resuming connection (`owner`): only the stream's user may, and
    /// only while it is registered and its replay buffer reaches `seq`. Returns the stream and
    /// the entries after `seq`; nil means the client must subscribe afresh.
    package func resume(_ id: String, user: String, owner: Int, after seq: UInt64, instead current: LiveStream?) -> (LiveStream, [LiveStream.Entry])? {
        let now = WallClock.nowMs()
        let window = settings.resumeWindow.milliseconds
        return registry.withLock { registry -> (LiveStream, [LiveStream.Entry])? in
            guard let stream = registry.streams[id], stream.owner == user, stream !== current,
                  !stream.expired(nowMs: now, window: window),
                  let missed = stream.attach(owner: owner, after: seq) else { return nil }
            registry.detached.removeValue(forKey: id)
            return (stream, missed)
        }
    }

    /// A stream lost its connection: the hub queues its updates until it is resumed or expires.
    /// `after`: the newest batch its connection saw; newer recent batches are replayed into the
    /// stream in order (it skips any it has applied).
    package func parked(_ stream: LiveStream, after seen: UInt64) {
        registry.withLock { registry in
            registry.detached[stream.id] = stream
            for batch in registry.recent where batch.number > seen {
                stream.enqueueDetached(batch: batch.number) { batch.select($0) }
            }
        }
    }

    /// The number of the newest batch broadcast (0 before the first).
    package var newestBatch: UInt64 { newest.load(ordering: .relaxed) }

    package func remove(_ stream: LiveStream) {
        registry.withLock { registry in
            registry.streams.removeValue(forKey: stream.id)
            registry.detached.removeValue(forKey: stream.id)
        }
    }

    /// Whether a stream is still known to the hub (tests and diagnostics).
    package func isRegistered(_ id: String) -> Bool { registry.withLock { $0.streams[id] != nil } }

    package func expire() {
        let now = WallClock.nowMs()
        let window = settings.resumeWindow.milliseconds
        let count = registry.withLock { registry -> Int in
            for stream in registry.detached.values where stream.expired(nowMs: now, window: window) {
                registry.detached.removeValue(forKey: stream.id)
                registry.streams.removeValue(forKey: stream.id)
            }
            return registry.streams.count
        }
        streamsGauge.record(count)
    }
}

/// The live connections of one event loop. Its set is only touched on that loop.
package final class LiveShard: Sendable {
    package let loop: any EventLoop
    package let sessions: NIOLoopBoundBox<[ObjectIdentifier: LiveSession]>

    package init(loop: any EventLoop) {
        self.loop = loop
        self.sessions = NIOLoopBoundBox([:], eventLoop: loop)
    }

    package func deliver(_ batch: LiveHub.Batch) {
        loop.execute { [sessions] in
            defer { batch.delivered() }
            guard !sessions.value.isEmpty else { return }
            var bodies: [LiveSession.Signature: LiveSession.SharedBody] = [:]
            for session in sessions.value.values { session.deliver(batch, bodies: &bodies) }
        }
    }

    /// An unnumbered event to every connection of the loop.
    package func send(_ event: String) {
        loop.execute { [sessions] in
            for session in sessions.value.values { session.event(event) }
        }
    }

    package func heartbeat() {
        loop.execute { [sessions] in
            for session in sessions.value.values { session.heartbeat() }
        }
    }

    package func closeAll() {
        loop.execute { [sessions] in
            for session in sessions.value.values { session.socket?.close(code: WebSocketConnection.CloseCode.goingAway, reason: "server shutting down") }
        }
    }
}
