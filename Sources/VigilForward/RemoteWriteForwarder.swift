import FoundationEssentials
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import VigilCore
import VigilHTTPClient
import VigilStore
#if canImport(Glibc)
import Glibc
#endif

/// Store-and-forward to one remote-write endpoint. It reads from the local store, never from
/// memory: the endpoint's cursor says up to which timestamp it has everything, and each round sends
/// the samples after it, oldest first, in requests of `batch_size` samples, paced to
/// `max_samples_per_second`. While the endpoint is down the same request is retried with backoff
/// (429 and 5xx too); other 4xx answers mean it will never take that request: counted, logged,
/// skipped. After an outage (or a gateway restart) it catches up from the cursor.
///
/// Samples newer than `delay` wait for the next round, so that readings still arriving (and the
/// store's last flush) are in place; a reading that arrives more than `delay` after its own
/// timestamp lands behind the cursor and is not forwarded.
public struct RemoteWriteForwarder: Service {
    let config: RemoteWriteConfig
    let store: MetricStore
    let board: SourceStatusBoard
    let directory: String
    let logger: Logger
    let counters: Counters
    let failureLog = FailureLog()

    public init(config: RemoteWriteConfig, store: MetricStore, board: SourceStatusBoard, dataDir: String, logger: Logger) {
        self.config = config
        self.store = store
        self.board = board
        self.directory = FilePaths.join(dataDir, "forward")
        var logger = logger
        logger[metadataKey: "endpoint"] = "\(config.name)"
        self.logger = logger
        counters = Counters(config.name)
    }

    struct Counters: Sendable {
        let sent, dropped, ok, failed: Counter
        let lagSeconds, lagSamples: Gauge

        init(_ name: String) {
            sent = Counter(label: "vigil_forward_samples_sent_total", dimensions: [("endpoint", name)])
            dropped = Counter(label: "vigil_forward_samples_dropped_total", dimensions: [("endpoint", name)])
            ok = Counter(label: "vigil_forward_requests_total", dimensions: [("endpoint", name), ("result", "ok")])
            failed = Counter(label: "vigil_forward_requests_total", dimensions: [("endpoint", name), ("result", "failed")])
            lagSeconds = Gauge(label: "vigil_forward_lag_seconds", dimensions: [("endpoint", name)])
            lagSamples = Gauge(label: "vigil_forward_lag_samples", dimensions: [("endpoint", name)])
        }
    }

    public func run() async throws {
        board.register(name: config.sourceName, kind: "remote_write", decidesReadiness: false)
        let cursorFile = try ForwardCursor(directory: directory, endpoint: config.name)
        // A refused connection fails the attempt at once; the round's own backoff retries it.
        let client = try HTTPEndpoint(url: config.url, caFile: config.caFile, insecureSkipVerify: config.insecureSkipVerify,
                                      connectTimeout: .seconds(10))
        let cursor: Int64
        if let saved = cursorFile.load() {
            cursor = saved
        } else {
            cursor = await initialCursor()
        }
        logger.info("forwarding", metadata: ["url": "\(Secrets.redactedURL(config.url))", "cursor": "\(RFC3339.format(cursor))"])
        await cancelWhenGracefulShutdown {
            var state = RoundState(cursor: cursor)
            while !Task.isCancelled {
                do {
                    if try await round(&state, client: client, cursorFile: cursorFile) == .idle {
                        try await Task.sleep(for: config.interval)
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("forwarding round failed: \(error)")
                    try? await Task.sleep(for: config.retryMax)
                }
            }
        }
        await client.shutdown()
        board.update(config.sourceName) { $0.state = .stopped }
    }

    struct RoundState {
        var cursor: Int64
        /// Length of the time window read per round: adapted so a window holds a few batches.
        var windowMs: Int64 = 60_000
        /// Samples per millisecond of data in the last window (for the samples-behind estimate).
        var density = 0.0
        var paceStart = ContinuousClock.now
        var paceSent = 0
    }

    enum RoundResult { case idle, sent }

    /// A new endpoint starts now, or (`start: oldest`) just before the oldest sample in the store.
    func initialCursor() async -> Int64 {
        let now = WallClock.nowMs() - config.delay.milliseconds
        guard config.start == .oldest else { return now }
        let store = store
        let oldest = try? await NIOThreadPool.singleton.runIfActive { try store.stats().oldestMs }
        return (oldest.flatMap { $0 }).map { min($0 - 1, now) } ?? now
    }

    /// One window: read it, send it in batches, move the cursor.
    func round(_ state: inout RoundState, client: HTTPEndpoint, cursorFile: ForwardCursor) async throws -> RoundResult {
        let upper = WallClock.nowMs() - config.delay.milliseconds
        guard state.cursor < upper else {
            report(state, upper: upper)
            return .idle
        }
        let from = state.cursor + 1
        let to = min(upper, state.cursor + state.windowMs)
        let (store, match) = (store, config.match)
        let series = try await NIOThreadPool.singleton.runIfActive { () throws -> [SeriesSamples] in
            var seen = Set<SeriesKey>()
            var out: [SeriesSamples] = []
            for selector in match {
                for samples in try store.read(selector, from: from, to: to) where seen.insert(samples.series).inserted && !samples.timestamps.isEmpty {
                    out.append(samples)
                }
            }
            return out
        }
        let total = series.reduce(0) { $0 + $1.timestamps.count }
        for batch in Self.batches(series, size: config.batchSize, extra: config.externalLabels) {
            try await deliver(batch, state: &state, client: client)
            try await pace(&state, sent: batch.samples)
        }
        state.density = Double(total) / Double(max(1, to - from + 1))
        // Aim for about four batches per window: long windows when data is sparse (fast catch-up),
        // short ones when it is dense (bounded memory).
        if total == 0 { state.windowMs = 3_600_000 }  // nothing here: cross quiet stretches quickly
        else if total > config.batchSize * 8 { state.windowMs = max(1000, state.windowMs / 2) }
        else if total < config.batchSize * 2 { state.windowMs = min(3_600_000, state.windowMs * 2) }
        state.cursor = to
        try cursorFile.save(to)
        report(state, upper: upper)
        return .sent
    }

    /// Sends one request until it is taken, refused for good, or shutdown comes.
    func deliver(_ batch: WriteRequestEncoder, state: inout RoundState, client: HTTPEndpoint) async throws {
        let body = Snappy.compress(batch.bytes)
        var backoff = ReconnectBackoff(minimum: config.retryInitial, maximum: config.retryMax)
        while true {
            try Task.checkCancellation()
            let outcome = await post(body, client: client)
            switch outcome {
            case .ok:
                counters.ok.increment()
                counters.sent.increment(by: batch.samples)
                let failed = failureLog.recovered()
                if failed > 0 {
                    logger.notice("endpoint accepts writes again", metadata: ["failed_attempts": "\(failed)"])
                }
                board.update(config.sourceName) { status in
                    status.state = .connected
                    status.messages += UInt64(batch.samples)
                    status.lastMessageMs = WallClock.nowMs()
                }
                return
            case .rejected(let reason):
                counters.failed.increment()
                counters.dropped.increment(by: batch.samples)
                logger.error("endpoint refused a write request; its \(batch.samples) samples are dropped: \(reason)")
                return
            case .retry(let reason):
                counters.failed.increment()
                let delay = backoff.nextDelay()
                if let line = failureLog.failed(reason) {
                    logger.warning("endpoint unavailable, retrying", metadata: [
                        "reason": "\(reason)", "failed_attempts_since_last_log": "\(line.repeats)", "retry_in": "\(delay)"])
                }
                board.update(config.sourceName) { $0.state = .disconnected; $0.detail = reason }
                try await Task.sleep(for: delay)
            }
        }
    }

    enum PostOutcome { case ok, retry(String), rejected(String) }

    func post(_ body: [UInt8], client: HTTPEndpoint) async -> PostOutcome {
        var headers = [("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf"),
                       ("X-Prometheus-Remote-Write-Version", "0.1.0"), ("User-Agent", "vigil")]
        if let authorization = config.authorization { headers.append(("Authorization", authorization)) }
        headers += config.headers.map { ($0.key, $0.value) }
        do {
            let response = try await client.post(headers: headers, body: body, timeout: config.timeout)
            let text = response.bodyText
            switch response.status {
            case 200..<300: return .ok
            case 429, 500...: return .retry("HTTP \(response.status) \(text.prefix(200))")
            default: return .rejected("HTTP \(response.status) \(text.prefix(300))")
            }
        } catch {
            return .retry("\(error)")
        }
    }

    /// Bounded catch-up: at most `max_samples_per_second`, measured over the last second or so.
    func pace(_ state: inout RoundState, sent: Int) async throws {
        state.paceSent += sent
        let elapsed = ContinuousClock.now - state.paceStart
        let allowed = Duration.milliseconds(Int64(Double(state.paceSent) / Double(config.maxSamplesPerSecond) * 1000))
        if allowed > elapsed { try await Task.sleep(for: allowed - elapsed) }
        if elapsed > .seconds(1) {
            state.paceStart = .now
            state.paceSent = 0
        }
    }

    func report(_ state: RoundState, upper: Int64) {
        let lagMs = max(0, WallClock.nowMs() - state.cursor)
        let behindMs = max(0, upper - state.cursor)
        let samples = Int(state.density * Double(behindMs))
        counters.lagSeconds.record(Double(lagMs) / 1000)
        counters.lagSamples.record(samples)
        board.update(config.sourceName) { status in
            status.lagSeconds = Double(lagMs) / 1000
            status.lagSamples = samples
            if status.state == .connected { status.detail = behindMs > config.interval.milliseconds * 2 ? "catching up" : "" }
        }
    }

    /// Series cut into requests of at most `size` samples (a long series spans several).
    static func batches(_ series: [SeriesSamples], size: Int, extra: Labels) -> [WriteRequestEncoder] {
        var out: [WriteRequestEncoder] = []
        var current = WriteRequestEncoder()
        for samples in series {
            var start = 0
            while start < samples.timestamps.count {
                let room = size - current.samples
                let end = min(samples.timestamps.count, start + room)
                current.add(samples.series, timestamps: samples.timestamps[start..<end], values: samples.values[start..<end], extra: extra)
                start = end
                if current.samples >= size {
                    out.append(current)
                    current = WriteRequestEncoder()
                }
            }
        }
        if current.samples > 0 { out.append(current) }
        return out
    }
}
