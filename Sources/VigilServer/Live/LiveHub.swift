import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilStore

/// The live fan-out: one bus subscriber that encodes each reading once as a JSON fragment and
/// hands the fragments to every stream whose subscriptions match. Streams are kept for
/// `resume_window` after their connection ends.
final class LiveHub: Service, Sendable {
    let settings: HTTPSettings.WebSocketSettings
    let store: MetricStore
    let subscription: ReadingSubscription
    let logger: Logger
    private let streams = Mutex([String: LiveStream]())
    let connections = Atomic<Int>(0)
    let rtt = Metrics.Timer(label: "vigil_live_rtt_seconds", preferredDisplayUnit: .seconds)
    let connectionsGauge = Gauge(label: "vigil_live_connections")
    let streamsGauge = Gauge(label: "vigil_live_streams")
    let closedSlow = Counter(label: "vigil_live_closed_total", dimensions: [("reason", "too_slow")])

    func connected(_ delta: Int) {
        let now = connections.add(delta, ordering: .relaxed).newValue
        connectionsGauge.record(now)
    }

    init(settings: HTTPSettings.WebSocketSettings, store: MetricStore, bus: ReadingBus, logger: Logger) {
        self.settings = settings
        self.store = store
        self.subscription = bus.subscribe("live", capacity: 200_000)
        self.logger = logger
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for await batch in subscription { broadcast(batch) }
            }
            group.addTask { [self] in
                while (try? await Task.sleep(for: .seconds(5))) != nil { expire() }
            }
            await group.next()
            group.cancelAll()
        }
        try? await gracefulShutdown()
    }

    func broadcast(_ batch: [Reading]) {
        let all = streams.withLock { Array($0.values) }
        guard !all.isEmpty else { return }
        // One encode per reading, shared by every stream it goes to.
        let fragments = batch.map { LiveStream.Fragment(key: $0.series.description, json: Self.encode($0)) }
        for stream in all {
            // The stream's selectors once per batch, not its lock once per reading.
            let selectors = Array(stream.subscriptions.values)
            guard !selectors.isEmpty else { continue }
            var chosen: [LiveStream.Fragment] = []
            for (index, reading) in batch.enumerated() where selectors.contains(where: { $0.matches(reading.series) }) {
                chosen.append(fragments[index])
            }
            if !chosen.isEmpty { stream.enqueue(chosen) }
        }
    }

    static func encode(_ reading: Reading) -> String {
        var out = "{\"series\":\"" + QueryJSON.escape(reading.series.description) + "\",\"metric\":\"" + QueryJSON.escape(reading.metric)
            + "\",\"labels\":" + QueryJSON.labels(reading.labels) + ",\"t\":" + String(reading.timestampMs)
            + ",\"v\":" + (reading.value.isFinite ? "\(reading.value)" : "null")
        if let unit = reading.unit { out += ",\"unit\":\"" + QueryJSON.escape(unit) + "\"" }
        return out + "}"
    }

    func newStream(owner: String) -> LiveStream {
        let id = Secrets.hex(Secrets.randomBytes(12))
        let stream = LiveStream(id: id, owner: owner, settings: settings)
        streams.withLock { $0[id] = stream }
        return stream
    }

    /// A stream to resume: only its owner may take it over.
    func stream(_ id: String, owner: String) -> LiveStream? {
        streams.withLock { streams in
            guard let stream = streams[id], stream.owner == owner else { return nil }
            return stream
        }
    }

    func remove(_ stream: LiveStream) { streams.withLock { _ = $0.removeValue(forKey: stream.id) } }

    func expire() {
        let now = WallClock.nowMs()
        let count = streams.withLock { streams in
            streams = streams.filter { !$0.value.expired(nowMs: now, window: settings.resumeWindow.milliseconds) }
            return streams.count
        }
        streamsGauge.record(count)
    }
}
