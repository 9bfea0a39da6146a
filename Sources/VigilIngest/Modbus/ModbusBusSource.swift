import FoundationEssentials
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import VigilCore

/// One Modbus bus as a Service: an RS-485 line (RTU) or a TCP endpoint, with the devices on it.
///
/// A dedicated thread is the bus master. One request is in flight at a time; the device whose next
/// poll is due first goes next (earliest-deadline-first, so every device gets its turn and a fast
/// poll interval cannot starve a slow one); `inter_frame_gap` of silence follows each answer. A
/// device that does not answer is retried `retries` times, then backed off exponentially (up to
/// `backoff_max`) so a dead device costs the others little line time. Exceptions are counted per
/// device with their readable reason. A lost port or connection is reopened with a capped backoff.
public struct ModbusBusSource: ReadingSource {
    public static let kind = "modbus"
    public let config: ModbusBusConfig
    public let context: SourceContext
    let logger: Logger

    public init(config: ModbusBusConfig, context: SourceContext, logger: Logger) {
        self.config = config
        self.context = context
        self.logger = Self.logger(logger, key: "bus", name: config.name)
    }

    public var sourceName: String { config.sourceName }

    public func run() async throws {
        let master = ModbusMaster(source: self)
        await registered { await DedicatedThread.run(name: "modbus-\(config.name)") { master.run(on: $0) } }
    }
}

/// The bus thread's side.
final class ModbusMaster: Sendable {
    let source: ModbusBusSource
    let readings: Counter
    init(source: ModbusBusSource) {
        self.source = source
        readings = Counter(label: "vigil_ingest_readings_total", dimensions: [("source", source.config.sourceName)])
    }

    /// Per-device schedule and health, owned by the bus thread.
    struct DeviceState {
        let config: ModbusDeviceConfig
        let metrics: DeviceMetrics
        var due: ContinuousClock.Instant
        var failures = 0
        var up: Bool?
        var completed: [ContinuousClock.Instant] = []
    }

    struct DeviceMetrics {
        let ok, timeout, exception, badFrame: Counter
        let up: Gauge
        let configuredRate: Gauge
        let achievedRate: Gauge

        init(bus: String, device: ModbusDeviceConfig) {
            let base = [("bus", bus), ("device", device.name)]
            ok = Counter(label: "vigil_modbus_requests_total", dimensions: base + [("result", "ok")])
            timeout = Counter(label: "vigil_modbus_requests_total", dimensions: base + [("result", "timeout")])
            exception = Counter(label: "vigil_modbus_requests_total", dimensions: base + [("result", "exception")])
            badFrame = Counter(label: "vigil_modbus_requests_total", dimensions: base + [("result", "bad_frame")])
            up = Gauge(label: "vigil_modbus_device_up", dimensions: base)
            configuredRate = Gauge(label: "vigil_modbus_poll_rate_hertz", dimensions: base + [("kind", "configured")])
            achievedRate = Gauge(label: "vigil_modbus_poll_rate_hertz", dimensions: base + [("kind", "achieved")])
        }
    }

    func run(on thread: DedicatedThread) {
        let config = source.config
        let clock = ContinuousClock()
        var devices = config.devices.map { device in
            DeviceState(config: device, metrics: DeviceMetrics(bus: config.name, device: device), due: clock.now)
        }
        for device in devices { device.metrics.configuredRate.record(1 / device.config.pollInterval.inSeconds) }
        let loop = ReopenLoop(what: "Modbus bus", sourceName: config.sourceName, board: source.board, logger: source.logger,
                              maximumBackoff: .seconds(5))
        loop.run(on: thread, openedMetadata: ["devices": "\(devices.count)"],
                 open: { try ModbusConnection(transport: config.transport, timeout: config.timeout) },
                 serve: { connection in serve(connection, &devices, clock: clock, on: thread) })
    }

    /// Polls until the link fails or a stop is requested.
    private func serve(_ connection: ModbusConnection, _ devices: inout [DeviceState], clock: ContinuousClock, on thread: DedicatedThread) -> String {
        let config = source.config
        while !thread.stopping {
            guard let next = devices.indices.min(by: { devices[$0].due < devices[$1].due }) else { return "no devices" }
            if devices[next].due > clock.now {
                thread.sleep(until: devices[next].due)
                continue
            }
            switch poll(connection, &devices[next], clock: clock, thread: thread) {
            case .linkLost(let reason): return reason
            case .done: break
            }
            updateRates(&devices[next], clock: clock)
            let answering = devices.filter { $0.up != false }.count
            source.board.update(config.sourceName) { status in
                status.detail = answering == devices.count ? "" : "\(answering) of \(devices.count) devices answering"
            }
        }
        return "stopped"
    }

    enum PollOutcome { case done, linkLost(String) }

    private func poll(_ connection: ModbusConnection, _ device: inout DeviceState, clock: ContinuousClock, thread: DedicatedThread) -> PollOutcome {
        let config = source.config
        let started = clock.now
        var words: [Int: [UInt16]] = [:]  // block index → words
        var answered = false
        for (blockIndex, block) in device.config.blocks.enumerated() {
            var attempt = 0
            while true {
                defer { if config.interFrameGap > .zero { thread.sleep(until: clock.now + config.interFrameGap) } }
                do {
                    words[blockIndex] = try connection.read(slave: device.config.slave, table: block.table, start: block.start, count: block.count)
                    device.metrics.ok.increment()
                    answered = true
                    break
                } catch {
                    switch error {
                    case .exception(let code):
                        answered = true
                        device.metrics.exception.increment()
                        Counter(label: "vigil_modbus_exceptions_total", dimensions: [
                            ("bus", config.name), ("device", device.config.name), ("code", String(code)),
                            ("reason", ModbusConnection.exceptionName(code)),
                        ]).increment()
                        source.rejects.record(source: config.sourceName, reason: .modbusException,
                                              topic: "\(device.config.name) \(block.table.rawValue) \(block.start)+\(block.count)",
                                              payload: Array("exception \(code): \(ModbusConnection.exceptionName(code))".utf8))
                    case .link(let reason):
                        return .linkLost(reason)
                    case .timeout, .badFrame:
                        if case .timeout = error { device.metrics.timeout.increment() } else {
                            device.metrics.badFrame.increment()
                            source.rejects.record(source: config.sourceName, reason: .invalidFrame, topic: device.config.name,
                                                  payload: Array(error.description.utf8))
                        }
                        attempt += 1
                        if attempt <= config.retries, !thread.stopping { continue }
                    }
                    break
                }
            }
            if !answered, blockIndex == 0 { break }  // the device is silent: do not spend line time on its other blocks
        }
        if answered {
            if device.up != true {
                source.logger.info("Modbus device answering", metadata: ["device": "\(device.config.name)", "slave": "\(device.config.slave)"])
            }
            device.up = true
            device.failures = 0
            device.metrics.up.record(1)
            publish(device.config, words, receivedMs: WallClock.nowMs())
            // The next poll keeps the schedule; a poll that overran does not pile up a backlog.
            device.due = max(device.due + device.config.pollInterval, started)
            device.completed.append(clock.now)
        } else {
            device.failures += 1
            if device.up != false {
                source.logger.warning("Modbus device not answering, backing off", metadata: [
                    "device": "\(device.config.name)", "slave": "\(device.config.slave)"])
            }
            device.up = false
            device.metrics.up.record(0)
            let factor = 1 << min(device.failures, 16)
            device.due = clock.now + min(config.backoffMax, device.config.pollInterval * factor)
        }
        return .done
    }

    private func publish(_ device: ModbusDeviceConfig, _ words: [Int: [UInt16]], receivedMs: Int64) {
        var candidates: [Normalizer.Candidate] = []
        for (blockIndex, block) in device.blocks.enumerated() {
            guard let values = words[blockIndex] else { continue }
            for member in block.members {
                let register = device.registers[member.index]
                let value = register.decode(words: values[member.offset..<member.offset + register.span])
                let labels = device.labels.merging(register.labels)
                candidates.append(Normalizer.Candidate(
                    reading: Reading(metric: register.name, labels: labels, timestampMs: receivedMs, value: value, unit: register.unit),
                    deviceTime: false))
            }
        }
        let normalized = source.normalizer.normalize(candidates, receivedMs: receivedMs)
        for reason in normalized.rejects {
            source.rejects.record(source: source.config.sourceName, reason: reason, topic: device.name, payload: [])
        }
        guard !normalized.readings.isEmpty else { return }
        readings.increment(by: normalized.readings.count)
        source.board.update(source.config.sourceName) { status in
            status.messages += 1
            status.lastMessageMs = receivedMs
        }
        source.bus.publish(normalized.readings, source: source.config.sourceName, ledger: source.rejects.ledger)
    }

    /// Completed polls per second over the last 10 s, next to the configured rate.
    private func updateRates(_ device: inout DeviceState, clock: ContinuousClock) {
        let horizon = clock.now - .seconds(10)
        device.completed.removeAll { $0 < horizon }
        let window = min(10, (clock.now - (device.completed.first ?? clock.now)).inSeconds + device.config.pollInterval.inSeconds)
        device.metrics.achievedRate.record(window > 0 ? Double(device.completed.count) / window : 0)
    }
}
