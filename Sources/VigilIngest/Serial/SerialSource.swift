import FoundationEssentials
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import VigilCore

/// One serial device as a Service. A dedicated thread owns the device: it opens it, reads frames
/// (and sends the poll command when configured), and when the device disappears (unplugged, EIO,
/// ENODEV, the path gone) marks the source offline and reopens it with a capped backoff. Blocking
/// I/O stays on that thread, so a stuck device never holds up the event loops or another source.
public struct SerialSource: ReadingSource {
    public static let kind = "serial"
    public let config: SerialPortConfig
    public let context: SourceContext
    let logger: Logger

    public init(config: SerialPortConfig, context: SourceContext, logger: Logger) {
        self.config = config
        self.context = context
        self.logger = Self.logger(logger, key: "port", name: config.name)
    }

    public var sourceName: String { config.sourceName }

    public func run() async throws {
        let loop = SerialLoop(source: self)
        await registered { await DedicatedThread.run(name: "serial-\(config.name)") { loop.run(on: $0) } }
    }
}

/// The thread's side of a serial source.
final class SerialLoop: Sendable {
    let source: SerialSource
    let readings: Counter
    let bytesCounter: Counter
    let opens: Counter

    init(source: SerialSource) {
        self.source = source
        readings = Counter(label: "vigil_ingest_readings_total", dimensions: [("source", source.config.sourceName)])
        bytesCounter = Counter(label: "vigil_serial_received_bytes_total", dimensions: [("port", source.config.name)])
        opens = Counter(label: "vigil_serial_opens_total", dimensions: [("port", source.config.name)])
    }

    func run(on thread: DedicatedThread) {
        let config = source.config
        let loop = ReopenLoop(what: "serial device", sourceName: config.sourceName, board: source.board, logger: source.logger,
                              metadata: ["device": "\(config.device)"], maximumBackoff: config.reopenMax)
        loop.run(on: thread, openedMetadata: ["settings": "\(config.settings.summary)"],
                 open: { try SerialPort(path: config.device, settings: config.settings) },
                 serve: { port in
                     opens.increment()
                     return serve(port, on: thread)
                 })
    }

    /// Reads until the device goes away or a stop is requested; returns why it ended.
    private func serve(_ port: SerialPort, on thread: DedicatedThread) -> String {
        let config = source.config
        var splitter = FrameSplitter(framing: config.framing, maxFrame: config.maxFrame)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let clock = ContinuousClock()
        var nextPoll = clock.now
        var replyDeadline: ContinuousClock.Instant?
        while !thread.stopping {
            if let poll = config.poll, clock.now >= nextPoll {
                if replyDeadline != nil { reject(.replyTimeout, frame: poll.command) }
                guard port.write(poll.command) else { return "cannot write the poll command" }
                replyDeadline = clock.now + poll.timeout
                nextPoll = clock.now + poll.interval
            }
            if let deadline = replyDeadline, clock.now >= deadline {
                reject(.replyTimeout, frame: config.poll?.command ?? [])
                replyDeadline = nil
            }
            switch port.read(into: &buffer, timeoutMs: 50) {
            case .nothing:
                continue
            case .gone(let reason):
                return reason
            case .bytes(let count):
                bytesCounter.increment(by: count)
                let receivedMs = WallClock.nowMs()
                var batch: [Reading] = []
                var frames = 0
                for event in splitter.feed(buffer[0..<count]) {
                    switch event {
                    case .frame(let frame):
                        frames += 1
                        replyDeadline = nil
                        batch += readings(from: frame, receivedMs: receivedMs)
                    case .tooLong: reject(.frameTooLong, frame: [])
                    case .garbage: reject(.invalidFrame, frame: Array(buffer[0..<min(count, 64)]))
                    }
                }
                source.board.update(config.sourceName) { status in
                    status.bytes += UInt64(count)
                    if frames > 0 {
                        status.messages += UInt64(frames)
                        status.lastMessageMs = receivedMs
                    }
                }
                if !batch.isEmpty {
                    readings.increment(by: batch.count)
                    source.bus.publish(batch, source: config.sourceName, ledger: source.rejects.ledger)
                }
            }
        }
        return "stopped"
    }

    func readings(from frame: [UInt8], receivedMs: Int64) -> [Reading] {
        let config = source.config
        if let skip = config.skipPrefix, frame.starts(with: skip.utf8) { return [] }
        let decoded = config.format.decode(frame, receivedMs: receivedMs)
        for reason in decoded.rejects { reject(reason, frame: frame) }
        var candidates: [Normalizer.Candidate] = []
        for sample in decoded.samples {
            let base = sample.name.map { config.metricPrefix + $0 } ?? config.metric
            guard let raw = base, let metric = NameRules.sanitizeMetricName(raw) else {
                reject(.invalidMetricName, frame: frame)
                continue
            }
            var labels = config.labels
            for label in sample.labels {
                if let name = NameRules.sanitizeLabelName(label.name), labels[name] == nil { labels[name] = label.value }
            }
            let unit = config.units[sample.name ?? metric] ?? config.units[metric] ?? sample.unit
            let reading = Reading(metric: metric, labels: labels, timestampMs: sample.timestampMs ?? receivedMs, value: sample.value, unit: unit)
            candidates.append(Normalizer.Candidate(reading: reading, deviceTime: sample.timestampMs != nil))
        }
        let normalized = source.normalizer.normalize(candidates, receivedMs: receivedMs)
        for reason in normalized.rejects { reject(reason, frame: frame) }
        return normalized.readings
    }

    func reject(_ reason: PayloadReject, frame: [UInt8]) {
        source.rejects.record(source: source.config.sourceName, reason: reason, topic: source.config.device, payload: frame)
    }
}
